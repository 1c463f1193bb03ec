package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Result is one workload measured on every target.
type Result struct {
	Workload    string
	Description string
	Concurrency int
	Rounds      int
	Targets     []*TargetStats // in the order of Config.Targets
}

// TargetStats is what one target answered during the measured slices.
type TargetStats struct {
	Target  Target
	Elapsed time.Duration // measured time, all slices together

	mu    sync.Mutex
	kinds map[string]*KindStats
}

// KindStats are the answers to one kind of request.
type KindStats struct {
	Kind      string
	Latencies []time.Duration // of every answered or failed request
	Statuses  map[int]int     // answers by status
	Errors    int             // requests that got no answer
}

func newTargetStats(t Target) *TargetStats {
	return &TargetStats{Target: t, kinds: map[string]*KindStats{}}
}

func (s *TargetStats) record(kind string, status int, lat time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kinds[kind]
	if k == nil {
		k = &KindStats{Kind: kind, Statuses: map[int]int{}}
		s.kinds[kind] = k
	}
	k.Latencies = append(k.Latencies, lat)
	if err != nil && status == 0 {
		k.Errors++
		return
	}
	k.Statuses[status]++
}

// Kind returns the stats of one kind (nil if none was sent); "all" sums
// every kind.
func (s *TargetStats) Kind(kind string) *KindStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind != "all" {
		return s.kinds[kind]
	}
	all := &KindStats{Kind: "all", Statuses: map[int]int{}}
	for _, k := range s.kinds {
		all.Latencies = append(all.Latencies, k.Latencies...)
		all.Errors += k.Errors
		for st, n := range k.Statuses {
			all.Statuses[st] += n
		}
	}
	return all
}

func (s *TargetStats) kindNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for k := range s.kinds {
		names = append(names, k)
	}
	return names
}

// Count is the number of requests sent.
func (k *KindStats) Count() int {
	if k == nil {
		return 0
	}
	return len(k.Latencies)
}

// RPS is requests per second over elapsed.
func (k *KindStats) RPS(elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(k.Count()) / elapsed.Seconds()
}

// Percentile is the nearest-rank percentile p (0 < p <= 100) of the
// latencies; 0 when there are none.
func (k *KindStats) Percentile(p float64) time.Duration {
	if k.Count() == 0 {
		return 0
	}
	sorted := slices.Clone(k.Latencies)
	slices.Sort(sorted)
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// StatusString is e.g. "200×2740 503×3 err×1", statuses in order.
func (k *KindStats) StatusString() string {
	if k == nil {
		return "-"
	}
	codes := make([]int, 0, len(k.Statuses))
	for c := range k.Statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", c, k.Statuses[c]))
	}
	if k.Errors > 0 {
		parts = append(parts, fmt.Sprintf("err×%d", k.Errors))
	}
	return strings.Join(parts, " ")
}

// kinds lists the request kinds the table shows: "all" first when there
// are several, then the workload's own order, then any other.
func (r *Result) kinds() []string {
	wl, _ := workloadByName(r.Workload)
	seen := map[string]bool{}
	for _, t := range r.Targets {
		for _, k := range t.kindNames() {
			seen[k] = true
		}
	}
	var out []string
	if wl != nil {
		for _, k := range wl.kinds {
			if seen[k] {
				out = append(out, k)
				delete(seen, k)
			}
		}
	}
	var rest []string
	for k := range seen {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	out = append(out, rest...)
	if len(out) > 1 {
		out = append([]string{"all"}, out...)
	}
	return out
}

// WriteTable prints the workload's table: per request kind, one row per
// target, with throughput and p50 as ratios to the first target.
func (r *Result) WriteTable(w io.Writer) error {
	var elapsed []string
	for _, t := range r.Targets {
		elapsed = append(elapsed, fmt.Sprintf("%s %.1fs", t.Target.Name, t.Elapsed.Seconds()))
	}
	fmt.Fprintf(w, "\n== %s: %s\n   %d clients, %d rounds; measured %s\n", r.Workload, r.Description,
		r.Concurrency, r.Rounds, strings.Join(elapsed, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\ttarget\trequests\treq/s\tp50\tp90\tp99\tvs first\tstatuses\t")
	for _, kind := range r.kinds() {
		first := r.Targets[0].Kind(kind)
		firstRPS := first.RPS(r.Targets[0].Elapsed)
		for i, t := range r.Targets {
			k := t.Kind(kind)
			label := ""
			if i == 0 {
				label = kind
			}
			if k.Count() == 0 {
				fmt.Fprintf(tw, "%s\t%s\t0\t-\t-\t-\t-\t-\t-\t\n", label, t.Target.Name)
				continue
			}
			rps := k.RPS(t.Elapsed)
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", label, t.Target.Name, k.Count(), rps,
				ms(k.Percentile(50)), ms(k.Percentile(90)), ms(k.Percentile(99)),
				ratios(rps, firstRPS, k.Percentile(50), first.Percentile(50)), k.StatusString())
		}
	}
	return tw.Flush()
}

// ratios is "6.26× req/s, p50 0.15×" against the first target.
func ratios(rps, firstRPS float64, p50, firstP50 time.Duration) string {
	if firstRPS == 0 || firstP50 == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f× req/s, p50 %.2f×", rps/firstRPS, float64(p50)/float64(firstP50))
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
}

// WriteMarkdown prints one Markdown table over all results: a row per
// workload (all its requests together), a column per target with
// requests/s and its ratio to the first target, p50 and p99.
func WriteMarkdown(w io.Writer, results []*Result) error {
	if len(results) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("| workload |")
	for _, t := range results[0].Targets {
		b.WriteString(" " + t.Target.Name + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(results[0].Targets)) + "\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s (%d clients) |", r.Workload, r.Concurrency)
		first := r.Targets[0].Kind("all")
		firstRPS := first.RPS(r.Targets[0].Elapsed)
		for i, t := range r.Targets {
			k := t.Kind("all")
			if k.Count() == 0 {
				b.WriteString(" - |")
				continue
			}
			rps := k.RPS(t.Elapsed)
			ratio := ""
			if i > 0 && firstRPS > 0 {
				ratio = fmt.Sprintf(" (**%.2f×**)", rps/firstRPS)
			}
			fmt.Fprintf(&b, " %.0f rps%s, p50 %s, p99 %s", rps, ratio, ms(k.Percentile(50)), ms(k.Percentile(99)))
			if bad := k.Count() - k.Statuses[200] - k.Statuses[404]; bad > 0 {
				fmt.Fprintf(&b, ", %d not 200/404", bad)
			}
			b.WriteString(" |")
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

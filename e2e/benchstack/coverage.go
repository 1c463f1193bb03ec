package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// coverage prints, for each shadow target, how many of the requests it
// shadowed were compared, per route, and why the others were not (shed
// for want of idle CPU, dry runs busy, ...), from its /metrics: a shadow
// target's figures mean little without the share of work it really did.
func (s *stack) coverage(ctx context.Context, w io.Writer) {
	for _, name := range slices.Sorted(maps.Keys(s.admins)) {
		m, err := scrape(ctx, "http://"+s.admins[name]+"/metrics")
		if err != nil {
			fmt.Fprintf(w, "\n== shadow coverage (%s): %v\n", name, err)
			continue
		}
		fmt.Fprintf(w, "\n== shadow coverage (%s): requests shadowed, compared, and why not, per route (whole run)\n", name)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "route\tshadowed\tcompared\tdifferent\tnot compared")
		for _, route := range slices.Sorted(maps.Keys(m)) {
			r := m[route]
			var not []string
			for _, reason := range slices.Sorted(maps.Keys(r.not)) {
				not = append(not, fmt.Sprintf("%s %d", reason, r.not[reason]))
			}
			share := 0.0
			if r.requests > 0 {
				share = 100 * float64(r.pairs) / float64(r.requests)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d (%.0f%%)\t%d\t%s\n", route, r.requests, r.pairs, share, r.different, strings.Join(not, ", "))
		}
		tw.Flush()
	}
}

type routeCoverage struct {
	requests, pairs, different int64
	not                        map[string]int64
}

type coverageMetrics map[string]*routeCoverage

func (m coverageMetrics) route(name string) *routeCoverage {
	if m[name] == nil {
		m[name] = &routeCoverage{not: map[string]int64{}}
	}
	return m[name]
}

// scrape reads the shadow counters of a Prometheus text page.
func scrape(ctx context.Context, url string) (coverageMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	m := coverageMetrics{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, labels, value, ok := sample(sc.Text())
		if !ok {
			continue
		}
		switch name {
		case "weaveproxy_shadow_requests_total":
			m.route(labels["route"]).requests += value
		case "weaveproxy_shadow_pairs_total":
			r := m.route(labels["route"])
			r.pairs += value
			if labels["class"] == "different" {
				r.different += value
			}
		case "weaveproxy_shadow_skipped_total", "weaveproxy_shadow_dropped_total":
			m.route(labels["route"]).not[labels["reason"]] += value
		}
	}
	return m, sc.Err()
}

// sample parses `name{k="v",...} value`; label values hold no quotes or
// commas in these series except inside route names' braces, which the
// quoting keeps apart.
func sample(line string) (string, map[string]string, int64, bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	open, end := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
	if open < 0 || end < open {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
	if err != nil {
		return "", nil, 0, false
	}
	labels := map[string]string{}
	rest := line[open+1 : end]
	for rest != "" {
		k, after, ok := strings.Cut(rest, `="`)
		if !ok {
			break
		}
		val, tail, _ := strings.Cut(after, `"`)
		labels[strings.TrimLeft(k, ",")] = val
		rest = tail
	}
	return line[:open], labels, int64(v), true
}

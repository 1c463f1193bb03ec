package shadow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/recorder"
	"github.com/weaveproxy/weaveproxy/diff/replay"
	"github.com/weaveproxy/weaveproxy/diff/rules"
	"github.com/weaveproxy/weaveproxy/diff/store"
)

// ReplayResult tallies one replay run.
type ReplayResult struct {
	Pairs   int                `json:"pairs"`
	ByClass map[diff.Class]int `json:"by_class"`
	// ByRoute counts each route's pairs by class.
	ByRoute map[string]map[diff.Class]int `json:"by_route"`
	// Different names each differing pair: seq, request, scenario and
	// the differing fields.
	Different []string `json:"different"`
	// BackedOff counts answers of the target that were 503 with a
	// back-off header where the recording had no 503: the target was
	// rate limiting or overloaded, not answering.
	BackedOff int `json:"backed_off"`
}

// ReplayOptions tune Replay. The zero value works.
type ReplayOptions struct {
	// Client sends the requests; nil: a client with a one-minute timeout.
	Client *http.Client
	// Progress, if set, is called after each pair with how many are done
	// out of how many.
	Progress func(done, total int)
}

// MatchRate is the share of pairs that are not real differences (noise
// and waived findings match); 0 without pairs.
func (r *ReplayResult) MatchRate() float64 {
	if r.Pairs == 0 {
		return 0
	}
	return float64(r.Pairs-r.ByClass[diff.Different]) / float64(r.Pairs)
}

var replayClasses = []diff.Class{diff.Identical, diff.EqualAfterRules, diff.Noise, diff.Accepted, diff.Different}

// Print writes a per-route table, at most maxDifferent differing pairs
// (all with a negative maxDifferent) and the totals.
func (r *ReplayResult) Print(w io.Writer, maxDifferent int) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tPAIRS\tIDENTICAL\tEQUAL\tNOISE\tACCEPTED\tDIFFERENT")
	routes := make([]string, 0, len(r.ByRoute))
	for rt := range r.ByRoute {
		routes = append(routes, rt)
	}
	sort.Strings(routes)
	for _, rt := range routes {
		c := r.ByRoute[rt]
		n := 0
		for _, v := range c {
			n += v
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", rt, n, c[diff.Identical], c[diff.EqualAfterRules],
			c[diff.Noise], c[diff.Accepted], c[diff.Different])
	}
	tw.Flush()
	shown := r.Different
	if maxDifferent >= 0 && len(shown) > maxDifferent {
		shown = shown[:maxDifferent]
	}
	for _, d := range shown {
		fmt.Fprintln(w, "different:", d)
	}
	if more := len(r.Different) - len(shown); more > 0 {
		fmt.Fprintf(w, "... and %d more differing pairs (all of them: --show-all, or the report: --out DIR)\n", more)
	}
	parts := make([]string, 0, len(replayClasses))
	for _, c := range replayClasses {
		parts = append(parts, fmt.Sprintf("%s %d", c, r.ByClass[c]))
	}
	fmt.Fprintf(w, "replayed %d pairs: %s\n", r.Pairs, strings.Join(parts, ", "))
	fmt.Fprintf(w, "match rate: %.4f (%d/%d)\n", r.MatchRate(), r.Pairs-r.ByClass[diff.Different], r.Pairs)
	if r.BackedOff > 0 {
		fmt.Fprintf(w, "warning: the target answered 503 with a back-off header %d times where the recording did not: "+
			"it is rate limiting (a replay sends many requests for few users) or overloaded, so those pairs compare nothing. "+
			"Replay against a server started with higher budgets (weaveproxy serve --rate-reads -1 --rate-writes -1 turns them off).\n",
			r.BackedOff)
	}
}

// Replay sends recorded pairs to the server at url in seq order and
// stores each answer against the recorded one, under the replay rules:
// the defaults with timestamps compared by their relations only (a
// recording's clock is not the replay's). The recordings create their own
// accounts, so the server should start from an empty database.
func Replay(ctx context.Context, st *store.Store, entries []replay.Entry, url string, opt ReplayOptions) (*ReplayResult, error) {
	rs := rules.Default().ForReplay()
	rec := recorder.New(st, func(string) *rules.RuleSet { return rs })
	sorted := append([]replay.Entry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Seq < sorted[j].Seq })
	res := &ReplayResult{ByClass: map[diff.Class]int{}, ByRoute: map[string]map[diff.Class]int{}}
	var firstErr error
	err := replay.Run(ctx, sorted, url, opt.Client, func(p diff.Pair) {
		e := sorted[res.Pairs]
		res.Pairs++
		if opt.Progress != nil {
			defer opt.Progress(res.Pairs, len(sorted))
		}
		if firstErr != nil {
			return
		}
		out, err := rec.Observe(ctx, p)
		if err != nil {
			firstErr = err
			return
		}
		res.ByClass[out.Class]++
		if res.ByRoute[p.Route] == nil {
			res.ByRoute[p.Route] = map[diff.Class]int{}
		}
		res.ByRoute[p.Route][out.Class]++
		if backedOff(p) {
			res.BackedOff++
		}
		if out.Class == diff.Different {
			res.Different = append(res.Different, fmt.Sprintf("seq %d %s %s (%s): %s", e.Seq,
				e.Request.Method, e.Request.Path, e.Scenario, strings.Join(out.Result.Keys(), ", ")))
		}
	})
	return res, errors.Join(err, firstErr)
}

// backedOff: native answered 503 with a back-off where legacy did not.
func backedOff(p diff.Pair) bool {
	n := p.Native
	if n.Status != http.StatusServiceUnavailable || p.Legacy.Status == http.StatusServiceUnavailable {
		return false
	}
	return n.Header.Get("X-Weave-Backoff") != "" || n.Header.Get("Retry-After") != ""
}

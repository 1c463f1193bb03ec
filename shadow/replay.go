package shadow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"weaveproxy/diff"
	"weaveproxy/diff/recorder"
	"weaveproxy/diff/replay"
	"weaveproxy/diff/rules"
	"weaveproxy/diff/store"
)

// ReplayResult tallies one replay run.
type ReplayResult struct {
	Pairs   int                `json:"pairs"`
	ByClass map[diff.Class]int `json:"by_class"`
	// Different names each differing pair: seq, request, scenario and
	// the differing fields.
	Different []string `json:"different"`
}

// MatchRate is the share of pairs that are not real differences (noise
// and waived findings match); 0 without pairs.
func (r *ReplayResult) MatchRate() float64 {
	if r.Pairs == 0 {
		return 0
	}
	return float64(r.Pairs-r.ByClass[diff.Different]) / float64(r.Pairs)
}

// Print writes the differing pairs and the totals.
func (r *ReplayResult) Print(w io.Writer) {
	for _, d := range r.Different {
		fmt.Fprintln(w, "different:", d)
	}
	classes := []diff.Class{diff.Identical, diff.EqualAfterRules, diff.Noise, diff.Accepted, diff.Different}
	parts := make([]string, 0, len(classes))
	for _, c := range classes {
		parts = append(parts, fmt.Sprintf("%s %d", c, r.ByClass[c]))
	}
	fmt.Fprintf(w, "replayed %d pairs: %s\n", r.Pairs, strings.Join(parts, ", "))
	fmt.Fprintf(w, "match rate: %.4f (%d/%d)\n", r.MatchRate(), r.Pairs-r.ByClass[diff.Different], r.Pairs)
}

// Replay sends recorded pairs to the server at url in seq order and
// stores each answer against the recorded one, under the replay rules:
// the defaults with timestamps compared by their relations only (a
// recording's clock is not the replay's). The recordings create their own
// accounts, so the server should start from an empty database.
func Replay(ctx context.Context, st *store.Store, entries []replay.Entry, url string, client *http.Client) (*ReplayResult, error) {
	rs := rules.Default().ForReplay()
	rec := recorder.New(st, func(string) *rules.RuleSet { return rs })
	sorted := append([]replay.Entry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Seq < sorted[j].Seq })
	res := &ReplayResult{ByClass: map[diff.Class]int{}}
	var firstErr error
	err := replay.Run(ctx, sorted, url, client, func(p diff.Pair) {
		e := sorted[res.Pairs]
		res.Pairs++
		if firstErr != nil {
			return
		}
		out, err := rec.Observe(ctx, p)
		if err != nil {
			firstErr = err
			return
		}
		res.ByClass[out.Class]++
		if out.Class == diff.Different {
			res.Different = append(res.Different, fmt.Sprintf("seq %d %s %s (%s): %s", e.Seq,
				e.Request.Method, e.Request.Path, e.Scenario, strings.Join(out.Result.Keys(), ", ")))
		}
	})
	return res, errors.Join(err, firstErr)
}

// Package recorder is what the shadow side and replays call for each pair:
// it compares the answers under the route's rules, learns noise from a
// second legacy answer, and stores the result.
package recorder

import (
	"context"
	"fmt"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/compare"
	"github.com/weaveproxy/weaveproxy/diff/rules"
	"github.com/weaveproxy/weaveproxy/diff/store"
)

// Recorder compares and stores pairs. It is safe for concurrent use.
type Recorder struct {
	store *store.Store
	rules func(route string) *rules.RuleSet
}

// New returns a recorder writing to st. rulesFor gives each route's rules
// (the proxy parses its routes' diff: blocks with rules.FromNode, and
// swaps them on reload); nil, or a nil result, means rules.Default().
func New(st *store.Store, rulesFor func(route string) *rules.RuleSet) *Recorder {
	return &Recorder{store: st, rules: rulesFor}
}

// Outcome is what one pair came to.
type Outcome struct {
	// Class is the pair's class with the noise and waivers known now.
	Class diff.Class
	// Result is the legacy-vs-native comparison.
	Result diff.Result
	// Noise lists the fields that differed legacy-vs-legacy (with
	// Pair.Legacy2 only).
	Noise []string
}

// Observe compares p and stores it.
func (r *Recorder) Observe(ctx context.Context, p diff.Pair) (Outcome, error) {
	var rs *rules.RuleSet
	if r.rules != nil {
		rs = r.rules(p.Route)
	}
	res, err := compare.Compare(p, rs)
	if err != nil {
		return Outcome{}, fmt.Errorf("recorder: %s: %w", p.Route, err)
	}
	out := Outcome{Result: res}
	if p.Legacy2 != nil {
		nres, err := compare.Answers(p.Request, p.Legacy, *p.Legacy2, rs)
		if err != nil {
			return Outcome{}, fmt.Errorf("recorder: %s: %w", p.Route, err)
		}
		out.Noise = nres.Keys()
	}
	out.Class, err = r.store.Save(ctx, store.Observation{Pair: p, Result: res, NoiseKeys: out.Noise})
	if err != nil {
		return Outcome{}, fmt.Errorf("recorder: %w", err)
	}
	return out, nil
}

package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/noise"
)

// analysis is everything known about one route, read in one go; classes
// of shapes and fields are derived from it with the current noise counts
// and waivers.
type analysis struct {
	route        string
	counts       []countRow
	shapes       map[string][]entry // by hash
	pairs        int64
	diffs        map[string]int64 // key → pairs in which it differed
	noiseSamples int64
	noise        map[string]int64 // key → legacy-vs-legacy differences
	active       map[string]Waiver
	static       []Waiver // active, for this route, applied by field or shape
	params       noise.Params
}

type countRow struct {
	bucket int64
	base   string
	hash   string
	dryRun bool
	n      int64
}

// analyze reads a route afresh. Waivers come from the cache unless fresh:
// Save may lag another instance's new waiver by a few seconds, reports
// and the gate may not.
func (s *Store) analyze(ctx context.Context, route string, fresh bool) (*analysis, error) {
	a := &analysis{route: route, shapes: map[string][]entry{}, diffs: map[string]int64{},
		noise: map[string]int64{}, active: map[string]Waiver{}, params: s.opt.Noise}
	rows, err := s.db.QueryContext(ctx, "SELECT bucket, base, hash, dry_run, n FROM diff_counts WHERE route = ? ORDER BY bucket", route)
	if err != nil {
		return nil, fmt.Errorf("diff store: counts: %w", err)
	}
	for rows.Next() {
		var r countRow
		var dry int
		if err := rows.Scan(&r.bucket, &r.base, &r.hash, &dry, &r.n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("diff store: counts: %w", err)
		}
		r.dryRun = dry != 0
		a.counts = append(a.counts, r)
	}
	rows.Close()
	if err := s.readShapes(ctx, a); err != nil {
		return nil, err
	}
	if err := s.readNoise(ctx, a); err != nil {
		return nil, err
	}
	for _, r := range a.counts {
		a.pairs += r.n
		for _, e := range a.shapes[r.hash] {
			a.diffs[e.key] += r.n
		}
	}
	var ws []Waiver
	if fresh {
		ws, err = s.ListWaivers(ctx, false)
	} else {
		ws, err = s.activeWaivers(ctx)
	}
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		a.active[w.ID] = w
		if w.routeMatches(route) && !w.predicate() {
			a.static = append(a.static, w)
		}
	}
	return a, nil
}

func (s *Store) readShapes(ctx context.Context, a *analysis) error {
	rows, err := s.db.QueryContext(ctx, "SELECT hash, shape FROM diff_shapes WHERE route = ?", a.route)
	if err != nil {
		return fmt.Errorf("diff store: shapes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h, shape string
		if err := rows.Scan(&h, &shape); err != nil {
			return fmt.Errorf("diff store: shapes: %w", err)
		}
		a.shapes[h] = decodeShape(shape)
	}
	return rows.Err()
}

func (s *Store) readNoise(ctx context.Context, a *analysis) error {
	rows, err := s.db.QueryContext(ctx, "SELECT field, n FROM diff_noise WHERE route = ?", a.route)
	if err != nil {
		return fmt.Errorf("diff store: noise: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f string
		var n int64
		if err := rows.Scan(&f, &n); err != nil {
			return fmt.Errorf("diff store: noise: %w", err)
		}
		if f == "" {
			a.noiseSamples = n
		} else {
			a.noise[f] = n
		}
	}
	return rows.Err()
}

// counts are the noise arithmetic's inputs for one field.
func (a *analysis) countsFor(key string) noise.Counts {
	return noise.Counts{Pairs: a.pairs, Diffs: a.diffs[key], NoiseSamples: a.noiseSamples, NoiseDiffs: a.noise[key]}
}

func (a *analysis) verdict(key string) noise.Verdict { return a.params.Classify(a.countsFor(key)) }

// fieldState is how one field of one pair shape counts.
type fieldState struct {
	key    string
	state  diff.Class // Different (real), Noise or Accepted
	waiver string     // the accepting waiver
}

type shapeClass struct {
	class  diff.Class
	fields []fieldState
}

// classify decides a pair shape: Different when any field is real,
// Accepted when every field is waived or noise and one at least is
// waived, Noise otherwise.
func (a *analysis) classify(hash string) shapeClass {
	es := a.shapes[hash]
	if len(es) == 0 {
		return shapeClass{class: diff.EqualAfterRules}
	}
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = e.key
	}
	shapeWaiver := ""
	for _, w := range a.static {
		if len(w.Shape) > 0 && strings.Join(w.Shape, "\n") == strings.Join(keys, "\n") {
			shapeWaiver = w.ID
			break
		}
	}
	sc := shapeClass{class: diff.Noise}
	accepted := false
	for _, e := range es {
		fs := fieldState{key: e.key}
		switch {
		case e.waiver != "" && a.active[e.waiver].ID != "":
			fs.state, fs.waiver = diff.Accepted, e.waiver
		case shapeWaiver != "":
			fs.state, fs.waiver = diff.Accepted, shapeWaiver
		case a.fieldWaiver(e.key) != "":
			fs.state, fs.waiver = diff.Accepted, a.fieldWaiver(e.key)
		case a.verdict(e.key) == noise.Noise:
			fs.state = diff.Noise
		default:
			fs.state = diff.Different
		}
		if fs.state == diff.Different {
			sc.class = diff.Different
		}
		accepted = accepted || fs.state == diff.Accepted
		sc.fields = append(sc.fields, fs)
	}
	if sc.class != diff.Different && accepted {
		sc.class = diff.Accepted
	}
	return sc
}

func (a *analysis) fieldWaiver(key string) string {
	for _, w := range a.static {
		if w.Field != "" && w.fieldMatches(key) {
			return w.ID
		}
	}
	return ""
}

// classOf turns a count row into its class.
func (a *analysis) classOf(base, hash string, memo map[string]shapeClass) diff.Class {
	switch base {
	case baseIdentical:
		return diff.Identical
	case baseEqual:
		return diff.EqualAfterRules
	case baseFailed:
		return diff.BothFailed
	}
	sc, ok := memo[hash]
	if !ok {
		sc = a.classify(hash)
		memo[hash] = sc
	}
	return sc.class
}

// sortedKeys returns the keys of a map, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"weaveproxy/diff"
)

// Gate is the cutover rule: a route may move to native once it has at
// least MinPairs pairs and none of its last LastM pairs is a real
// difference (noise and waived findings do not count).
type Gate struct {
	MinPairs int `json:"min_pairs"`
	LastM    int `json:"last_m"`
}

// DefaultGate is used where no gate is configured.
var DefaultGate = Gate{MinPairs: 100, LastM: 100}

// Verdict is the gate's decision on one route.
type Verdict struct {
	Route string `json:"route"`
	Ready bool   `json:"ready"`
	Gate  Gate   `json:"gate"`
	Pairs int64  `json:"pairs"`
	// Window is how many recent pairs were examined (LastM, or fewer
	// when the route has fewer pairs); Different how many of them are
	// real differences, on Fields.
	Window    int      `json:"window"`
	Different int      `json:"different"`
	Fields    []string `json:"fields,omitempty"`
	Reason    string   `json:"reason"`
}

func (s *Store) checkGate(g Gate) error {
	if g.MinPairs < 0 || g.LastM < 1 {
		return fmt.Errorf("diff store: gate %+v: want min_pairs ≥ 0 and last_m ≥ 1", g)
	}
	if g.LastM > s.opt.KeepPairs {
		return fmt.Errorf("diff store: gate last_m %d exceeds the %d pairs kept per route", g.LastM, s.opt.KeepPairs)
	}
	return nil
}

// Ready decides whether route passes gate, from the stored pairs and the
// noise and waivers known now.
func (s *Store) Ready(ctx context.Context, route string, gate Gate) (Verdict, error) {
	a, err := s.analyze(ctx, keyText(route), true)
	if err != nil {
		return Verdict{}, err
	}
	return s.verdict(ctx, a, gate)
}

func (s *Store) verdict(ctx context.Context, a *analysis, gate Gate) (Verdict, error) {
	if err := s.checkGate(gate); err != nil {
		return Verdict{}, err
	}
	v := Verdict{Route: a.route, Gate: gate, Pairs: a.pairs}
	rows, err := s.db.QueryContext(ctx, "SELECT base, hash FROM diff_pairs WHERE route = ? ORDER BY at_ns DESC, id DESC LIMIT ?",
		a.route, gate.LastM)
	if err != nil {
		return Verdict{}, fmt.Errorf("diff store: ready: %w", err)
	}
	defer rows.Close()
	memo := map[string]shapeClass{}
	fields := map[string]bool{}
	for rows.Next() {
		var base, hash string
		if err := rows.Scan(&base, &hash); err != nil {
			return Verdict{}, fmt.Errorf("diff store: ready: %w", err)
		}
		v.Window++
		if a.classOf(base, hash, memo) != diff.Different {
			continue
		}
		v.Different++
		for _, f := range memo[hash].fields {
			if f.state == diff.Different {
				fields[f.key] = true
			}
		}
	}
	if err := rows.Err(); err != nil {
		return Verdict{}, fmt.Errorf("diff store: ready: %w", err)
	}
	for f := range fields {
		v.Fields = append(v.Fields, f)
	}
	sort.Strings(v.Fields)
	switch {
	case v.Pairs == 0:
		v.Reason = "not ready: no pairs yet"
	case v.Pairs < int64(gate.MinPairs):
		v.Reason = fmt.Sprintf("not ready: %s, the gate needs %d", pairs(v.Pairs), gate.MinPairs)
	case v.Different > 0:
		v.Reason = fmt.Sprintf("not ready: %d of the last %s differ (%s)", v.Different, pairs(int64(v.Window)), strings.Join(v.Fields, ", "))
	default:
		v.Ready = true
		v.Reason = fmt.Sprintf("ready: %s, none of the last %d differs", pairs(v.Pairs), v.Window)
	}
	return v, nil
}

func pairs(n int64) string {
	if n == 1 {
		return "1 pair"
	}
	return fmt.Sprintf("%d pairs", n)
}

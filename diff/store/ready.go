package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/weaveproxy/weaveproxy/diff"
)

// Gate is the cutover rule: a route may move to native once it has at
// least MinPairs compared pairs and none of its last LastM compared pairs
// is a real difference (noise and waived findings do not count; pairs
// where both sides failed are not compared).
type Gate struct {
	MinPairs int `json:"min_pairs"`
	LastM    int `json:"last_m"`
	// MinUsers and MinRequests ask for evidence from that many distinct
	// users and distinct requests (method, target and body): one user
	// repeating one request a thousand times proves little.
	MinUsers    int `json:"min_users"`
	MinRequests int `json:"min_requests"`
}

// DefaultGate is used where no gate is configured.
var DefaultGate = Gate{MinPairs: 100, LastM: 100, MinUsers: 5, MinRequests: 20}

// Verdict is the gate's decision on one route.
type Verdict struct {
	Route string `json:"route"`
	Ready bool   `json:"ready"`
	Gate  Gate   `json:"gate"`
	Pairs int64  `json:"pairs"`
	// Window is how many recent pairs were examined (LastM, or fewer
	// when the route has fewer pairs); Different how many of them are
	// real differences, on Fields.
	Window    int `json:"window"`
	Different int `json:"different"`
	// BothFailed counts the pairs where neither side answered; they are
	// not in Pairs, and not in the window.
	BothFailed int64 `json:"both_failed,omitempty"`
	// Users and Requests count the distinct users and requests of the
	// compared pairs kept (the last KeepPairs).
	Users    int64    `json:"users"`
	Requests int64    `json:"requests"`
	Fields   []string `json:"fields,omitempty"`
	Reason   string   `json:"reason"`
}

func (s *Store) checkGate(g Gate) error {
	if g.MinPairs < 0 || g.LastM < 1 || g.MinUsers < 0 || g.MinRequests < 0 {
		return fmt.Errorf("diff store: gate %+v: want min_pairs, min_users, min_requests ≥ 0 and last_m ≥ 1", g)
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
	v := Verdict{Route: a.route, Gate: gate}
	memo := map[string]shapeClass{}
	for _, r := range a.counts {
		if r.base == baseFailed {
			v.BothFailed += r.n
		} else {
			v.Pairs += r.n
		}
	}
	// The window is the last LastM compared pairs: a pair where neither
	// side answered says nothing about native, for or against.
	rows, err := s.db.QueryContext(ctx, "SELECT base, hash FROM diff_pairs WHERE route = ? AND base <> ? ORDER BY at_ns DESC, id DESC LIMIT ?",
		a.route, baseFailed, gate.LastM)
	if err != nil {
		return Verdict{}, fmt.Errorf("diff store: ready: %w", err)
	}
	defer rows.Close()
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
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(DISTINCT user_key), COUNT(DISTINCT request) FROM diff_pair_keys WHERE route = ?",
		a.route).Scan(&v.Users, &v.Requests); err != nil {
		return Verdict{}, fmt.Errorf("diff store: ready: %w", err)
	}
	v.Ready, v.Reason = v.judge()
	return v, nil
}

// judge decides and says why, cause first: what QA must look at leads.
func (v Verdict) judge() (bool, string) {
	failed := ""
	if v.BothFailed > 0 {
		failed = fmt.Sprintf("; %s where both sides failed not counted", pairs(v.BothFailed))
	}
	switch {
	case v.Different > 0 && v.Different == v.Window:
		if v.Window == 1 {
			return false, fmt.Sprintf("the only pair differs (%s) — not ready%s", strings.Join(v.Fields, ", "), failed)
		}
		return false, fmt.Sprintf("all %d pairs differ (%s) — not ready%s", v.Window, strings.Join(v.Fields, ", "), failed)
	case v.Different > 0:
		return false, fmt.Sprintf("%d of the last %s differ (%s) — not ready%s", v.Different, pairs(int64(v.Window)), strings.Join(v.Fields, ", "), failed)
	case v.Pairs == 0:
		return false, "no pairs compared yet — not ready" + failed
	case v.Pairs < int64(v.Gate.MinPairs):
		return false, fmt.Sprintf("only %s, the gate needs %d — not ready%s", pairs(v.Pairs), v.Gate.MinPairs, failed)
	case v.Users < int64(v.Gate.MinUsers):
		return false, fmt.Sprintf("only %d distinct users, the gate needs %d — not ready%s", v.Users, v.Gate.MinUsers, failed)
	case v.Requests < int64(v.Gate.MinRequests):
		return false, fmt.Sprintf("only %d distinct requests, the gate needs %d — not ready%s", v.Requests, v.Gate.MinRequests, failed)
	}
	return true, fmt.Sprintf("none of the last %s differs (%s in all, %d users, %d distinct requests) — ready%s",
		pairs(int64(v.Window)), pairs(v.Pairs), v.Users, v.Requests, failed)
}

func pairs(n int64) string {
	if n == 1 {
		return "1 pair"
	}
	return fmt.Sprintf("%d pairs", n)
}

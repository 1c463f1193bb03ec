package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/noise"
)

// Counts are pairs by class. Identical + EqualAfterRules + Noise +
// Accepted + Different + BothFailed = Pairs; DryRun counts the dry-run
// pairs among them.
type Counts struct {
	Pairs           int64 `json:"pairs"`
	Identical       int64 `json:"identical"`
	EqualAfterRules int64 `json:"equal_after_rules"`
	Noise           int64 `json:"noise"`
	Accepted        int64 `json:"accepted"`
	Different       int64 `json:"different"`
	BothFailed      int64 `json:"both_failed"`
	DryRun          int64 `json:"dry_run"`
}

// Compared is the number of pairs that say something about native:
// every pair but those where neither side answered.
func (c Counts) Compared() int64 { return c.Pairs - c.BothFailed }

// MatchRate is the share of compared pairs that are not real
// differences; 0 without any.
func (c Counts) MatchRate() float64 {
	if c.Compared() == 0 {
		return 0
	}
	return float64(c.Compared()-c.Different) / float64(c.Compared())
}

// Add adds o's pairs, class by class.
func (c *Counts) Add(o Counts) {
	c.Pairs += o.Pairs
	c.Identical += o.Identical
	c.EqualAfterRules += o.EqualAfterRules
	c.Noise += o.Noise
	c.Accepted += o.Accepted
	c.Different += o.Different
	c.BothFailed += o.BothFailed
	c.DryRun += o.DryRun
}

func (c *Counts) add(class diff.Class, dry bool, n int64) {
	c.Pairs += n
	if dry {
		c.DryRun += n
	}
	switch class {
	case diff.Identical:
		c.Identical += n
	case diff.EqualAfterRules:
		c.EqualAfterRules += n
	case diff.Noise:
		c.Noise += n
	case diff.Accepted:
		c.Accepted += n
	case diff.BothFailed:
		c.BothFailed += n
	default:
		c.Different += n
	}
}

// Bucket is one time bucket of a route.
type Bucket struct {
	Start time.Time `json:"start"`
	Counts
}

// RouteSummary is the first level of a report.
type RouteSummary struct {
	Route string `json:"route"`
	Counts
	Buckets []Bucket `json:"buckets"`
	Verdict Verdict  `json:"verdict"`
	// EqualBy counts, per rule, the pairs it made equal (a pair may
	// need several rules).
	EqualBy map[string]int64 `json:"equal_by,omitempty"`
	// NotCompared counts, per reason, the requests shadowed on the route
	// that were not compared (AddUncompared): shed under load, too large,
	// overtaken by a write. They are no evidence for or against native.
	NotCompared map[string]int64 `json:"not_compared,omitempty"`
}

// Shadowed is the number of requests shadowed on the route: compared or
// not.
func (r RouteSummary) Shadowed() int64 {
	n := r.Pairs
	for _, c := range r.NotCompared {
		n += c
	}
	return n
}

// Coverage is the share of shadowed requests that were compared; 0
// without any.
func (r RouteSummary) Coverage() float64 {
	if r.Shadowed() == 0 {
		return 0
	}
	return float64(r.Pairs) / float64(r.Shadowed())
}

// RouteNames lists the routes with pairs, or requests shadowed and not
// compared, sorted.
func (s *Store) RouteNames(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT route FROM diff_counts UNION SELECT route FROM diff_uncompared ORDER BY route")
	if err != nil {
		return nil, fmt.Errorf("diff store: routes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("diff store: routes: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Routes summarises every route, with its verdict under gate.
func (s *Store) Routes(ctx context.Context, gate Gate) ([]RouteSummary, error) {
	names, err := s.RouteNames(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]RouteSummary, 0, len(names))
	for _, n := range names {
		rs, err := s.Route(ctx, n, gate)
		if err != nil {
			return nil, err
		}
		out = append(out, rs)
	}
	return out, nil
}

// Route summarises one route.
func (s *Store) Route(ctx context.Context, route string, gate Gate) (RouteSummary, error) {
	route = keyText(route)
	a, err := s.analyze(ctx, route, true)
	if err != nil {
		return RouteSummary{}, err
	}
	rs := RouteSummary{Route: route, Buckets: []Bucket{}}
	memo := map[string]shapeClass{}
	for _, r := range a.counts {
		class := a.classOf(r.base, r.hash, memo)
		rs.add(class, r.dryRun, r.n)
		start := time.Unix(r.bucket, 0).UTC()
		if len(rs.Buckets) == 0 || !rs.Buckets[len(rs.Buckets)-1].Start.Equal(start) {
			rs.Buckets = append(rs.Buckets, Bucket{Start: start})
		}
		rs.Buckets[len(rs.Buckets)-1].add(class, r.dryRun, r.n)
	}
	if rs.Verdict, err = s.verdict(ctx, a, gate); err != nil {
		return RouteSummary{}, err
	}
	if rs.EqualBy, err = s.namedCounts(ctx, "rules", "SELECT rule, n FROM diff_rules WHERE route = ?", route); err != nil {
		return RouteSummary{}, err
	}
	if rs.NotCompared, err = s.namedCounts(ctx, "uncompared", "SELECT reason, n FROM diff_uncompared WHERE route = ?", route); err != nil {
		return RouteSummary{}, err
	}
	return rs, nil
}

// namedCounts reads a route's rows of (name, n) from a per-route counter
// table: diff_rules (what made pairs equal), diff_uncompared (why
// requests were not compared). what names the table in errors.
func (s *Store) namedCounts(ctx context.Context, what, query, route string) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, query, route)
	if err != nil {
		return nil, fmt.Errorf("diff store: %s: %w", what, err)
	}
	defer rows.Close()
	var out map[string]int64
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("diff store: %s: %w", what, err)
		}
		if out == nil {
			out = map[string]int64{}
		}
		out[name] = n
	}
	return out, rows.Err()
}

// FieldSummary is the second level of a report: one field of a route.
type FieldSummary struct {
	Field string `json:"field"`
	// Occurrences = Real + Noise + Accepted: pairs in which it differed.
	Occurrences int64 `json:"occurrences"`
	Real        int64 `json:"real"`
	Noise       int64 `json:"noise"`
	Accepted    int64 `json:"accepted"`
	// Learned is the learned-noise verdict, Rates its arithmetic.
	Learned noise.Verdict `json:"learned"`
	Rates   noise.Counts  `json:"rates"`
	Waivers []Waiver      `json:"waivers,omitempty"`
	Samples int           `json:"samples"`
}

// Fields summarises the differing fields of a route, most frequent first.
func (s *Store) Fields(ctx context.Context, route string) ([]FieldSummary, error) {
	route = keyText(route)
	a, err := s.analyze(ctx, route, true)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*FieldSummary{}
	waived := map[string]map[string]bool{}
	memo := map[string]shapeClass{}
	for _, r := range a.counts {
		if r.base != baseFindings {
			continue
		}
		a.classOf(r.base, r.hash, memo)
		for _, fs := range memo[r.hash].fields {
			f := byKey[fs.key]
			if f == nil {
				f = &FieldSummary{Field: fs.key, Learned: a.verdict(fs.key), Rates: a.countsFor(fs.key)}
				byKey[fs.key] = f
				waived[fs.key] = map[string]bool{}
			}
			f.Occurrences += r.n
			switch fs.state {
			case diff.Accepted:
				f.Accepted += r.n
				if !waived[fs.key][fs.waiver] {
					waived[fs.key][fs.waiver] = true
					f.Waivers = append(f.Waivers, a.active[fs.waiver])
				}
			case diff.Noise:
				f.Noise += r.n
			default:
				f.Real += r.n
			}
		}
	}
	if err := s.countSamples(ctx, route, byKey); err != nil {
		return nil, err
	}
	out := make([]FieldSummary, 0, len(byKey))
	for _, k := range sortedKeys(byKey) {
		out = append(out, *byKey[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Occurrences > out[j].Occurrences })
	return out, nil
}

func (s *Store) countSamples(ctx context.Context, route string, byKey map[string]*FieldSummary) error {
	rows, err := s.db.QueryContext(ctx, "SELECT field, COUNT(*) FROM diff_sample_refs WHERE route = ? GROUP BY field", route)
	if err != nil {
		return fmt.Errorf("diff store: samples: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f string
		var n int
		if err := rows.Scan(&f, &n); err != nil {
			return fmt.Errorf("diff store: samples: %w", err)
		}
		if fs := byKey[f]; fs != nil {
			fs.Samples = n
		}
	}
	return rows.Err()
}

// Sample is the third level of a report: one stored pair, redacted.
type Sample struct {
	ID       string         `json:"id"`
	Route    string         `json:"route"`
	At       time.Time      `json:"at"`
	DryRun   bool           `json:"dry_run"`
	Pair     diff.Pair      `json:"-"`
	Findings []diff.Finding `json:"findings"`
	// Cut: a body was longer than MaxBodyBytes and is shown cut.
	Cut bool `json:"cut"`
}

// ErrNoSample is returned for an unknown sample id.
var ErrNoSample = errors.New("diff store: no such sample")

// Samples returns a field's samples, newest first.
func (s *Store) Samples(ctx context.Context, route, field string) ([]Sample, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.id, s.route, s.at_ns, s.dry_run, s.pair, s.findings
		FROM diff_sample_refs r JOIN diff_samples s ON s.id = r.sample_id
		WHERE r.route = ? AND r.field = ? ORDER BY r.at_ns DESC, s.id DESC`, keyText(route), keyText(field))
	if err != nil {
		return nil, fmt.Errorf("diff store: samples: %w", err)
	}
	defer rows.Close()
	var out []Sample
	for rows.Next() {
		sm, err := scanSample(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, sm)
	}
	return out, rows.Err()
}

// Sample returns one sample by id.
func (s *Store) Sample(ctx context.Context, id string) (Sample, error) {
	row := s.db.QueryRowContext(ctx, "SELECT id, route, at_ns, dry_run, pair, findings FROM diff_samples WHERE id = ?", id)
	sm, err := scanSample(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Sample{}, fmt.Errorf("%w: %s", ErrNoSample, id)
	}
	return sm, err
}

func scanSample(scan func(...any) error) (Sample, error) {
	var sm Sample
	var at int64
	var dry int
	var pairJSON, findJSON string
	if err := scan(&sm.ID, &sm.Route, &at, &dry, &pairJSON, &findJSON); err != nil {
		return Sample{}, fmt.Errorf("diff store: sample: %w", err)
	}
	var sp storedPair
	if err := json.Unmarshal([]byte(pairJSON), &sp); err != nil {
		return Sample{}, fmt.Errorf("diff store: sample %s: %w", sm.ID, err)
	}
	if err := json.Unmarshal([]byte(findJSON), &sm.Findings); err != nil {
		return Sample{}, fmt.Errorf("diff store: sample %s: %w", sm.ID, err)
	}
	sm.At, sm.DryRun, sm.Pair, sm.Cut = time.Unix(0, at).UTC(), dry != 0, sp.pair(), sp.cut()
	return sm, nil
}

// Package report renders the diff store for QA: report.json for tools and
// report.html for people, in three levels (routes, their differing fields,
// samples of each field side by side), and serves the same report live.
package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/weaveproxy/weaveproxy/diff/store"
)

// Source is what a report reads; *store.Store is one.
type Source interface {
	Routes(ctx context.Context, gate store.Gate) ([]store.RouteSummary, error)
	Fields(ctx context.Context, route string) ([]store.FieldSummary, error)
	Samples(ctx context.Context, route, field string) ([]store.Sample, error)
	ListWaivers(ctx context.Context, includeRevoked bool) ([]store.Waiver, error)
}

// Options tune a report.
type Options struct {
	// Gate decides each route's readiness verdict; zero means
	// store.DefaultGate.
	Gate store.Gate
	// Now stamps the report (tests fix it).
	Now func() time.Time
	// Title heads the HTML page.
	Title string
}

func (o Options) withDefaults() Options {
	if o.Gate == (store.Gate{}) {
		o.Gate = store.DefaultGate
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Title == "" {
		o.Title = "weaveproxy shadow diff report"
	}
	return o
}

// Report is report.json. Field names are part of the interface QA's
// tools read: routes[].route, pairs, identical, equal_after_rules, noise
// and different must keep their names.
type Report struct {
	GeneratedAt time.Time      `json:"generated_at"`
	Gate        store.Gate     `json:"gate"`
	Totals      Totals         `json:"totals"`
	Routes      []Route        `json:"routes"`
	Waivers     []store.Waiver `json:"waivers"`
}

// Totals sums every route.
type Totals struct {
	store.Counts
	MatchRate float64 `json:"match_rate"`
	// Shadowed counts every request shadowed, compared or not; Coverage
	// is the share compared.
	Shadowed int64   `json:"shadowed"`
	Coverage float64 `json:"coverage"`
	Routes   int     `json:"routes"`
	Ready    int     `json:"ready"`
}

// Route is one route's line and details.
type Route struct {
	Route string `json:"route"`
	store.Counts
	MatchRate float64 `json:"match_rate"`
	// Shadowed counts the route's shadowed requests, compared or not;
	// Coverage is the share compared (the match rate is measured on that
	// sample); NotCompared counts the rest by reason (e.g. cpu_busy: shed
	// for want of idle CPU). None of them is a difference.
	Shadowed    int64            `json:"shadowed"`
	Coverage    float64          `json:"coverage"`
	NotCompared map[string]int64 `json:"not_compared,omitempty"`
	Ready       bool             `json:"ready"`
	Verdict     string           `json:"verdict"`
	Buckets     []Bucket         `json:"buckets"`
	// EqualBy says which rules made the equal-after-rules pairs equal,
	// most used first.
	EqualBy []RuleCount `json:"equal_by,omitempty"`
	Fields  []Field     `json:"fields"`

	samples map[string][]store.Sample // by field, for the HTML only
}

// RuleCount is how many pairs one rule made equal.
type RuleCount struct {
	Rule  string `json:"rule"`
	Pairs int64  `json:"pairs"`
}

// Bucket is one point of the match-rate chart.
type Bucket struct {
	Start     time.Time `json:"start"`
	Pairs     int64     `json:"pairs"`
	Different int64     `json:"different"`
	MatchRate float64   `json:"match_rate"`
}

// Field is one differing field of a route.
type Field struct {
	Field       string `json:"field"`
	Occurrences int64  `json:"occurrences"`
	Real        int64  `json:"real"`
	Noise       int64  `json:"noise"`
	Accepted    int64  `json:"accepted"`
	// Learned is the learned-noise verdict (real, noise, undecided) and
	// Rates the counts behind it.
	Learned string        `json:"learned"`
	Rates   string        `json:"rates"`
	Waivers []FieldWaiver `json:"waivers,omitempty"`
	Samples int           `json:"samples"`
}

// FieldWaiver is a waiver that accepted a field. Kind labels where it
// comes from (store.Waiver.Kind): deliberate, known legacy defect, QA.
type FieldWaiver struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// Build reads everything a report shows; withSamples also reads the
// samples (the HTML shows them, report.json does not).
func Build(ctx context.Context, src Source, opt Options, withSamples bool) (*Report, error) {
	opt = opt.withDefaults()
	summaries, err := src.Routes(ctx, opt.Gate)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	rep := &Report{GeneratedAt: opt.Now().UTC(), Gate: opt.Gate, Routes: []Route{}}
	for _, s := range summaries {
		r := Route{Route: s.Route, Counts: s.Counts, MatchRate: rate(s.MatchRate()),
			Shadowed: s.Shadowed(), Coverage: rate(s.Coverage()), NotCompared: s.NotCompared,
			Ready: s.Verdict.Ready, Verdict: s.Verdict.Reason, Buckets: fitBuckets(s.Buckets), Fields: []Field{},
			EqualBy: ruleCounts(s.EqualBy), samples: map[string][]store.Sample{}}
		fields, err := src.Fields(ctx, s.Route)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		for _, f := range fields {
			r.Fields = append(r.Fields, field(f))
			if withSamples && f.Samples > 0 {
				if r.samples[f.Field], err = src.Samples(ctx, s.Route, f.Field); err != nil {
					return nil, fmt.Errorf("report: %w", err)
				}
			}
		}
		rep.add(r)
	}
	if rep.Waivers, err = src.ListWaivers(ctx, true); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if rep.Waivers == nil {
		rep.Waivers = []store.Waiver{}
	}
	rep.Totals.MatchRate = rate(rep.Totals.Counts.MatchRate())
	if rep.Totals.Shadowed > 0 {
		rep.Totals.Coverage = rate(float64(rep.Totals.Pairs) / float64(rep.Totals.Shadowed))
	}
	return rep, nil
}

func (rep *Report) add(r Route) {
	rep.Routes = append(rep.Routes, r)
	t := &rep.Totals
	t.Routes++
	if r.Ready {
		t.Ready++
	}
	t.Counts.Add(r.Counts)
	t.Shadowed += r.Shadowed
}

func ruleCounts(m map[string]int64) []RuleCount {
	out := make([]RuleCount, 0, len(m))
	for r, n := range m {
		out = append(out, RuleCount{Rule: r, Pairs: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pairs != out[j].Pairs {
			return out[i].Pairs > out[j].Pairs
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

func field(f store.FieldSummary) Field {
	out := Field{Field: f.Field, Occurrences: f.Occurrences, Real: f.Real, Noise: f.Noise, Accepted: f.Accepted,
		Learned: string(f.Learned), Rates: f.Rates.Explain(), Samples: f.Samples}
	for _, w := range f.Waivers {
		out.Waivers = append(out.Waivers, FieldWaiver{ID: w.ID, Kind: w.Kind(), Reason: w.Reason, By: w.By})
	}
	return out
}

// rate rounds a rate for JSON: four decimals are plenty and keep golden
// files stable.
func rate(r float64) float64 { return math.Round(r*10000) / 10000 }

// Write writes dir/report.json and dir/report.html from the store.
func Write(ctx context.Context, st *store.Store, dir string) error {
	return WriteWith(ctx, st, dir, Options{})
}

// WriteWith is Write from any source, with options.
func WriteWith(ctx context.Context, src Source, dir string, opt Options) error {
	opt = opt.withDefaults()
	rep, err := Build(ctx, src, opt, true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := writeFile(filepath.Join(dir, "report.json"), js.Bytes()); err != nil {
		return err
	}
	html, err := HTML(rep, opt)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "report.html"), html)
}

// writeFile replaces path atomically, so that a browser or a tool never
// reads half a report.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

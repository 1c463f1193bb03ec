// Package diff holds the values the shadow comparison works on: a request,
// the two (or three) answers given to it, and what the comparison found.
//
// The sub-packages do the work: normalize turns an answer into a structured
// form, rules holds the declared comparison rules, compare applies them with
// go-cmp, noise is the learned-noise arithmetic, redact strips secrets,
// store persists results (SQLite or MySQL), recorder ties these together for
// the shadow side, report renders QA reports, and replay feeds recorded pairs
// through the same pipeline.
//
// These types are deliberately independent of the proxy and the shadow code:
// both build them from their own values.
package diff

import (
	"net/http"
	"sort"
	"time"
)

// Exchange is a request as the client sent it.
type Exchange struct {
	Method string
	// Path is the raw request target (path and query), percent-encoding
	// untouched, exactly as it appeared on the request line.
	Path   string
	Header http.Header
	Body   []byte
}

// Answer is one server's response.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Pair is one request with the answers of both sides.
type Pair struct {
	// Route names the route the request matched, e.g.
	// "GET /{version}/{user}/info/collections"; it is the unit of reports
	// and of the cutover gate.
	Route   string
	Request Exchange
	Legacy  Answer
	Native  Answer
	// Legacy2, when set, is a second legacy answer to the same read. Fields
	// that differ between Legacy and Legacy2 teach the store what noise is.
	Legacy2 *Answer
	// DryRun marks a write whose native side ran as a dry run (nothing
	// kept: store.Engine.DryRun).
	DryRun bool
	At     time.Time
}

// Class is the verdict on one pair.
type Class string

const (
	// Identical: same status and body bytes, same headers once transport
	// headers are dropped.
	Identical Class = "identical"
	// EqualAfterRules: different bytes, but equal under the declared rules.
	EqualAfterRules Class = "equal_after_rules"
	// Noise: every finding is on a field known to differ legacy-vs-legacy
	// about as often as legacy-vs-native.
	Noise Class = "noise"
	// Accepted: every finding is noise or waived by QA, at least one waived.
	Accepted Class = "accepted"
	// Different: at least one real finding.
	Different Class = "different"
	// BothFailed: neither side answered (both 5xx, or timed out). Such a
	// pair is evidence neither for nor against native: the readiness gate
	// skips it, and it is not a difference.
	BothFailed Class = "both_failed"
)

// Kind says how a field differs.
type Kind string

const (
	KindValue    Kind = "value"    // both present, values differ
	KindMissing  Kind = "missing"  // present in legacy only
	KindExtra    Kind = "extra"    // present in native only
	KindType     Kind = "type"     // different JSON types (or parsed vs raw)
	KindRelation Kind = "relation" // a timestamp relation legacy keeps is broken
)

// Finding is one differing field.
type Finding struct {
	// Path is concrete: body.success[3], body[id=h3].modified,
	// header.x-weave-records, status.
	Path string `json:"path"`
	// Key is Path generalised for aggregation: indices and element ids
	// become [*]; it is what counts and waivers refer to.
	Key  string `json:"key"`
	Kind Kind   `json:"kind"`
	// Legacy and Native render the two values (compact JSON, or a quoted
	// string for raw text); empty when the side has no value.
	Legacy string `json:"legacy,omitempty"`
	Native string `json:"native,omitempty"`
	// Note explains rule-based findings (which relation was broken).
	Note string `json:"note,omitempty"`
}

// Result is what a comparison found. Class is Identical, EqualAfterRules,
// BothFailed or Different: noise and waivers are applied later, by the
// store, with everything learned so far.
type Result struct {
	Class    Class     `json:"class"`
	Findings []Finding `json:"findings,omitempty"`
	// Rules names, for EqualAfterRules, the rules that made the answers
	// equal (compare.Rule* names).
	Rules []string `json:"rules,omitempty"`
}

// Keys returns the distinct finding keys, sorted.
func (r Result) Keys() []string {
	seen := make(map[string]bool, len(r.Findings))
	keys := make([]string, 0, len(r.Findings))
	for _, f := range r.Findings {
		if !seen[f.Key] {
			seen[f.Key] = true
			keys = append(keys, f.Key)
		}
	}
	sort.Strings(keys)
	return keys
}

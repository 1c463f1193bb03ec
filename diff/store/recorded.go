package store

import (
	"context"
	"regexp"
	"strings"
)

// recordedUser is the account the project's recorded session
// (testdata/recordings/legacy-php-sync1.0.jsonl) writes and reads.
const recordedUser = "daliceq4b296"

// recordedConsequence is a later answer of the recorded session that
// differs only because an earlier request of it was answered differently
// on purpose: native refused what PHP stored, or did what PHP refused.
type recordedConsequence struct {
	request        string   // "METHOD path" exactly as recorded, {u} for the user
	legacyContains string   // narrows the waiver to the recorded legacy answer
	fields         []string // what differs
	reason         string
}

// Why the recorded session's state drifts, by the pair that starts it;
// each names the docs/compatibility.md line of its decision.
const (
	driftHistory = "#55 refused item si (non-numeric sortindex, PHP stored 0) and #57 stored item x " +
		"(a POSTed single object is a PUT, PHP failed it), so history lists differ by those two"
	driftWipe = "#119 deleted all storage (native implements DELETE /storage with X-Confirm-Delete, PHP " +
		"always refused), so later reads find the wiped collections empty"
)

var recordedConsequences = []recordedConsequence{
	{"PUT /1.0/{u}/storage/bookmarks/arr", "", []string{"status", "body"},
		"a PUT of a non-object ([1,2]) is 400 8; PHP answered 200 and stored nothing"},
	{"PUT /1.0/{u}/storage/bookmarks/si", "", []string{"status", "body"},
		"a non-numeric sortindex is 400 8 (PY); PHP stored the item with sortindex 0"},
	{"POST /1.0/{u}/storage/history", "unable to extract from json", []string{"body.success"},
		"a non-numeric sortindex fails its batch item (PY); PHP stored it with sortindex 0"},
	{"POST /1.0/{u}/storage/history", `"success":[]`, []string{"body"},
		"a POSTed single object is stored as a PUT of its id (PY); PHP failed it"},
	{"POST /1.0/{u}/storage/tabs", "", []string{"body.failed", "body.success"},
		"a batch takes 100 items, the rest fail with retry wbo (PY); PHP had no limit"},
	{"GET /1.0/{u}/storage/history", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/history?full=1", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/history?sort=index", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/history?sort=newest", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/history?sort=oldest", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/history?sort=bogus", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/history?limit=3", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/history?limit=3&offset=2", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/history?offset=2", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/history?newer=1000", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/history?full=0", "", []string{"body"}, driftHistory},
	{"GET /1.0/{u}/storage/bookmarks/item1", "", []string{"body.sortindex"},
		"#39's metadata-only PUT set item1's sortindex to 99 (PY); PHP 8 crashed there and kept 5"},
	{"GET /1.0/{u}/info/collection_counts", "", []string{"body"},
		"#45 refused bookmark si (non-numeric sortindex) and #59 kept 100 of 150 tabs (batch limit)"},
	{"GET /1.0/{u}/info/collections", `"forms"`, []string{"body"}, driftWipe},
	{"GET /1.0/{u}/storage/bookmarks/", "", []string{"body"}, driftWipe},
	{"GET /1.0/{u}/storage/bookmarks?full=1", "", []string{"body"},
		driftWipe + "; and #124's a%2Fb names the item a/b natively, PHP kept the undecoded text"},
}

// RecordedConsequences are waivers for the answers of the project's
// recorded session that differ only as the consequence of an earlier
// deliberate difference (the waivers of DeliberateDifferences) changing
// the stored state. Each matches one recorded request of the recorded
// account exactly, so it accepts nothing in live traffic; in live shadow
// traffic such drift is real and must show.
func RecordedConsequences() []Waiver {
	var out []Waiver
	for _, c := range recordedConsequences {
		req := "^" + regexp.QuoteMeta(strings.ReplaceAll(c.request, "{u}", recordedUser)) + "$"
		for _, f := range c.fields {
			out = append(out, Waiver{Route: "*", Field: f, RequestMatch: req, LegacyContains: c.legacyContains,
				Reason: "deliberate: recorded session: " + c.reason + " (docs/compatibility.md)"})
		}
	}
	return out
}

// SeedRecorded accepts the RecordedConsequences waivers that are not
// active yet, in the name of by, and returns the ones it added.
func SeedRecorded(ctx context.Context, s *Store, by string) ([]Waiver, error) {
	return seed(ctx, s, by, RecordedConsequences())
}

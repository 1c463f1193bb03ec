package store

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff/replay"
	"github.com/weaveproxy/weaveproxy/internal/testfiles"
)

// TestSeedDeliberateOnceAndNarrow: seeding twice adds nothing the second
// time, and every deliberate waiver is narrow: one field, with a reason
// pointing at the document that records the decision.
func TestSeedDeliberateOnceAndNarrow(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "diff.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first, err := SeedDeliberate(ctx, st, "qa")
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(DeliberateDifferences()) {
		t.Fatalf("first seed added %d of %d", len(first), len(DeliberateDifferences()))
	}
	again, err := SeedDeliberate(ctx, st, "qa")
	if err != nil || len(again) != 0 {
		t.Fatalf("second seed added %d (%v), want none", len(again), err)
	}
	known, err := SeedKnownDefects(ctx, st, "qa")
	if err != nil || len(known) != len(KnownDefects()) {
		t.Fatalf("known defects beside deliberate ones: added %d (%v)", len(known), err)
	}
	for _, w := range first {
		if w.Field == "" || len(w.Shape) > 0 {
			t.Errorf("deliberate waiver %+v is not limited to one field", w)
		}
		if w.RequestMatch != "" {
			if _, err := regexp.Compile(w.RequestMatch); err != nil {
				t.Errorf("waiver %s: %v", w.ID, err)
			}
		}
		if !regexp.MustCompile(`docs/compatibility\.md`).MatchString(w.Reason) || w.By != "qa" {
			t.Errorf("waiver %s: reason %q by %q", w.ID, w.Reason, w.By)
		}
	}
}

// TestRecordedConsequencesMatchTheRecording: every recorded-session waiver
// names a field, gives its reason, and matches a request of the project's
// recorded session, and only of its account, so a new recording cannot
// leave one behind that accepts nothing (or something else).
func TestRecordedConsequencesMatchTheRecording(t *testing.T) {
	es, err := replay.Load(testfiles.Recordings())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range RecordedConsequences() {
		re, err := regexp.Compile(w.RequestMatch)
		if err != nil {
			t.Fatalf("%s: %v", w.RequestMatch, err)
		}
		if w.Field == "" || !strings.Contains(w.Reason, "docs/compatibility.md") || !strings.Contains(w.RequestMatch, recordedUser) {
			t.Errorf("waiver %+v: want a field, a reason naming docs/compatibility.md, the recorded account", w)
		}
		matched := false
		for _, e := range es {
			if re.MatchString(e.Request.Method+" "+e.Request.Path) &&
				strings.Contains(string(e.Response.Body), w.LegacyContains) {
				matched = true
			}
		}
		if !matched {
			t.Errorf("waiver %s %s matches no recorded pair", w.RequestMatch, w.Field)
		}
		if re.MatchString("GET /1.0/someoneelse/storage/history") {
			t.Errorf("waiver %s matches another account", w.RequestMatch)
		}
	}
}

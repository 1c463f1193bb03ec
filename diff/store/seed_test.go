package store

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"
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

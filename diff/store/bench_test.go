package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/compare"
	"github.com/weaveproxy/weaveproxy/diff/store"
)

// BenchmarkSaveEqualPair stores the pair shadowing stores most: equal
// after rules (a later clock), on SQLite, as a shadow worker does:
//
//	go test -run '^$' -bench SaveEqualPair -benchmem ./diff/store/
func BenchmarkSaveEqualPair(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "diff.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	legacy := answer(200, `{"bookmarks":1795895400.5}`, "X-Weave-Timestamp", "1795895500.70")
	native := answer(200, `{"bookmarks":1795895400.50}`, "X-Weave-Timestamp", "1795895500.71")
	p := diff.Pair{Route: infoRoute, Request: diff.Exchange{Method: "GET", Path: infoPath}, Legacy: legacy, Native: native}
	res, err := compare.Compare(p, nil)
	if err != nil || res.Class != diff.EqualAfterRules {
		b.Fatalf("%+v %v", res, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Save(ctx, store.Observation{Pair: p, Result: res}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSaveFindingsPairOverADay stores a pair with one (waived)
// finding, as every shadowed info/collections pair has (X-Weave-Records),
// into a store already holding a day of 10-second buckets for its route:
//
//	go test -run '^$' -bench SaveFindingsPair -benchmem ./diff/store/
func BenchmarkSaveFindingsPairOverADay(b *testing.B) {
	ctx := context.Background()
	at := t0
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "diff.db"), store.Options{Now: func() time.Time { return at }})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	legacy := answer(200, `{"bookmarks":1795895400.5}`, "X-Weave-Timestamp", "1795895500.70")
	native := answer(200, `{"bookmarks":1795895400.5}`, "X-Weave-Timestamp", "1795895500.70", "X-Weave-Records", "1")
	p := diff.Pair{Route: infoRoute, Request: diff.Exchange{Method: "GET", Path: infoPath}, Legacy: legacy, Native: native}
	res, err := compare.Compare(p, nil)
	if err != nil || res.Class != diff.Different {
		b.Fatalf("%+v %v", res, err)
	}
	for range 8640 { // a day of buckets
		at = at.Add(10 * time.Second)
		p.At = at
		if _, err := st.Save(ctx, store.Observation{Pair: p, Result: res}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.Save(ctx, store.Observation{Pair: p, Result: res}); err != nil {
			b.Fatal(err)
		}
	}
}

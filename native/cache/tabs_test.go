package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// putTabSet writes a dozen tabs one call each, so that every modified and
// sortindex differs (SQL leaves the order of ties open), with parent and
// predecessor ids, ttls, and one row without payload (NULL modified and
// sortindex). It returns the time after the last write.
func putTabSet(t *testing.T, e store.Engine, user int64, now store.Timestamp) store.Timestamp {
	t.Helper()
	ctx := context.Background()
	for i := range 12 {
		now += 7
		w := item(fmt.Sprintf("t%02d", (i*5)%12), strings.Repeat("x", i+1), now)
		w.SortIndex = ptr(int64((i*7)%12 - 4))
		if i%3 == 0 {
			w.ParentID = ptr("p1")
		} else if i%3 == 1 {
			w.ParentID = ptr("p2")
		}
		if i%4 == 0 {
			w.PredecessorID = ptr("q")
		}
		if i%5 == 1 {
			w.TTL = ptr(now.Seconds() + 30)
		}
		if _, err := e.PutItems(ctx, user, "tabs", []store.WBO{w}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.PutItems(ctx, user, "tabs", []store.WBO{{ID: "bare", ParentID: ptr("p1")}}); err != nil {
		t.Fatal(err)
	}
	return now
}

// tabQueries covers every field of store.Query; start is the time of the
// first write of putTabSet.
func tabQueries(start store.Timestamp) map[string]store.Query {
	mid := start + 40
	return map[string]store.Query{
		"all":             {},
		"ids":             {IDs: []string{"t01", "t03", "nope", "bare"}, HasIDs: true},
		"empty ids":       {IDs: []string{}, HasIDs: true},
		"parentid":        {ParentID: ptr("p1")},
		"predecessorid":   {PredecessorID: ptr("q")},
		"older":           {Older: &mid},
		"newer":           {Newer: &mid},
		"newer, strict":   {Newer: ptr(start + 7)},
		"older, strict":   {Older: ptr(start + 42)},
		"index, strict":   {IndexAbove: ptr(3.0), IndexBelow: ptr(7.0)},
		"index_above":     {IndexAbove: ptr(2.0)},
		"index_below":     {IndexBelow: ptr(-1.5)},
		"combined":        {ParentID: ptr("p2"), IndexAbove: ptr(-5.0), Older: ptr(start + 80)},
		"oldest":          {Sort: store.SortOldest},
		"newest":          {Sort: store.SortNewest},
		"index":           {Sort: store.SortIndex},
		"limit":           {Sort: store.SortNewest, Limit: 3},
		"limit, offset":   {Sort: store.SortIndex, Limit: 4, Offset: 2},
		"offset past end": {Sort: store.SortOldest, Limit: 4, Offset: 20},
		"offset alone":    {Sort: store.SortOldest, Offset: 2},
		"later: expired":  {Sort: store.SortOldest, Now: start + 100*100},
		"much later":      {Sort: store.SortIndex, Now: start + 4000*100},
	}
}

// sameItems compares two answers; without a sort the order is the
// database's own, so only the set counts.
func sameItems(t *testing.T, what string, q store.Query, want, got []store.WBO) {
	t.Helper()
	if q.Sort == store.SortNone {
		byID := func(a, b store.WBO) int { return strings.Compare(a.ID, b.ID) }
		want, got = slices.Clone(want), slices.Clone(got)
		slices.SortFunc(want, byID)
		slices.SortFunc(got, byID)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: (-database +cache):\n%s", what, d)
	}
}

func queryBoth(t *testing.T, ref, sub store.Engine, refUser, subUser int64, start store.Timestamp) {
	t.Helper()
	ctx := context.Background()
	for name, q := range tabQueries(start) {
		if q.Now == 0 {
			q.Now = start + 100
		}
		want, err := ref.GetItems(ctx, refUser, "tabs", q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sub.GetItems(ctx, subUser, "tabs", q)
		if err != nil {
			t.Fatal(err)
		}
		sameItems(t, name, q, want, got)
	}
	for _, id := range []string{"t00", "t01", "bare", "nope"} {
		for _, now := range []store.Timestamp{start + 100, start + 100*100} {
			want, werr := ref.GetItem(ctx, refUser, "tabs", id, now)
			got, gerr := sub.GetItem(ctx, subUser, "tabs", id, now)
			if errors.Is(werr, store.ErrNotFound) != errors.Is(gerr, store.ErrNotFound) || !cmp.Equal(want, got) {
				t.Errorf("GetItem %s at %d: database %v %v, cache %v %v", id, now, want, werr, got, gerr)
			}
		}
	}
}

// TestTabsWrittenThrough: tabs go to the database (PHP sees them) and are
// served from memcache, every filter applied in memory exactly as SQL does.
func TestTabsWrittenThrough(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			mc := testenv.StartMemcached(t)
			f := newFixture(t, b.Open(t), mc.Addr, Config{})
			start := store.FromTime(time.Now())
			putTabSet(t, f.cache, f.user, start)
			rows, err := f.sql.GetItems(context.Background(), f.user, "tabs", store.Query{})
			if err != nil || len(rows) != 13 {
				t.Fatalf("tabs not written to the database: %d rows, %v", len(rows), err)
			}
			f.cache.GetItems(context.Background(), f.user, "tabs", store.Query{})
			before := f.inner.calls.Load()
			queryBoth(t, f.sql, f.cache, f.user, f.user, start)
			if n := f.inner.calls.Load() - before; n != 0 {
				t.Errorf("tab reads asked the database %d times", n)
			}
		})
	}
}

// TestTabsMemcacheOnly: with tabs in memcache alone, every read, info map
// and delete gives what the database gives when it holds the tabs, and
// the database holds none.
func TestTabsMemcacheOnly(t *testing.T) {
	mc := testenv.StartMemcached(t)
	f := newFixture(t, storetest.SQLite().Open(t), mc.Addr, Config{TabsInMemcacheOnly: true})
	ref := storetest.SQLite().Open(t)
	t.Cleanup(func() { ref.Close() })
	ctx := context.Background()
	refUser, err := ref.CreateUser(ctx, store.User{Username: "ref", MD5: "x"})
	if err != nil {
		t.Fatal(err)
	}
	start := store.FromTime(time.Now())
	putTabSet(t, ref, refUser, start)
	now := putTabSet(t, f.cache, f.user, start)
	if rows, _ := f.sql.GetItems(ctx, f.user, "tabs", store.Query{}); len(rows) != 0 {
		t.Fatalf("%d tabs reached the database", len(rows))
	}
	queryBoth(t, ref, f.cache, refUser, f.user, start)

	for _, q := range []store.Query{
		{Sort: store.SortIndex, Limit: 2, Offset: 1},
		{Newer: ptr(start + 60), ParentID: ptr("p1")},
		{IDs: []string{"t05", "bare"}, HasIDs: true},
	} {
		want, err := ref.DeleteItems(ctx, refUser, "tabs", q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.cache.DeleteItems(ctx, f.user, "tabs", q)
		if err != nil {
			t.Fatal(err)
		}
		if want != got {
			t.Errorf("DeleteItems %+v: database deleted %d, cache %d", q, want, got)
		}
		queryBoth(t, ref, f.cache, refUser, f.user, start)
	}

	for _, s := range steps {
		now += store.Timestamp(s.later/(10*time.Millisecond)) + 1
		if s.do != nil {
			if err := s.do(ctx, ref, refUser, now); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if err := s.do(ctx, f.cache, f.user, now); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		if d := cmp.Diff(read(t, ref, refUser, now), read(t, f.cache, f.user, now)); d != "" {
			t.Fatalf("%s: (-tabs in the database +tabs in memcache):\n%s", s.name, d)
		}
	}
}

// TestWriteTabs503 is the spec's test_write_tabs_503 at the engine level:
// with tabs in memcache alone and memcache gone, tab writes and reads fail
// with store.ErrUnavailable (the API answers a PUT with 503 and fails each
// item of a POST batch with "db error"), while everything else is served
// from the database.
func TestWriteTabs503(t *testing.T) {
	mc := testenv.StartMemcached(t)
	f := newFixture(t, storetest.SQLite().Open(t), mc.Addr, Config{TabsInMemcacheOnly: true})
	ctx := context.Background()
	now := store.FromTime(time.Now())
	if err := put("tabs", full("t1", "x"))(ctx, f.cache, f.user, now); err != nil {
		t.Fatal(err)
	}
	mc.Stop()
	unavailable := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: got %v, want store.ErrUnavailable", what, err)
		}
	}
	_, err := f.cache.PutItems(ctx, f.user, "tabs", []store.WBO{item("sure", "x", now+1)})
	unavailable("PUT tabs/sure", err)
	_, err = f.cache.PutItems(ctx, f.user, "tabs", []store.WBO{item("a", "x", now+1), item("b", "y", now+1)})
	unavailable("POST tabs", err)
	_, err = f.cache.GetItems(ctx, f.user, "tabs", store.Query{Now: now})
	unavailable("GET tabs", err)
	_, err = f.cache.GetItem(ctx, f.user, "tabs", "t1", now)
	unavailable("GET tabs/t1", err)
	_, err = f.cache.DeleteItems(ctx, f.user, "tabs", store.Query{})
	unavailable("DELETE tabs", err)
	_, _, err = f.cache.CollectionMax(ctx, f.user, "tabs")
	unavailable("X-If-Unmodified-Since on tabs", err)
	unavailable("DELETE storage", f.cache.DeleteStorage(ctx, f.user))

	if err := put("bookmarks", full("b1", "x"))(ctx, f.cache, f.user, now+2); err != nil {
		t.Fatal(err)
	}
	v := read2(t, f.cache, f.user, now+2)
	if !cmp.Equal(v, map[string]store.Timestamp{"bookmarks": now + 2}) {
		t.Errorf("info/collections without memcache: %v", v)
	}
}

func read2(t *testing.T, e store.Engine, user int64, now store.Timestamp) map[string]store.Timestamp {
	t.Helper()
	m, err := e.CollectionTimestamps(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

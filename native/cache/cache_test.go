package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func ptr[T any](v T) *T { return &v }

// item builds a WBO as the API would hand it to an engine: a payload
// means a new modified.
func item(id, payload string, ts store.Timestamp) store.WBO {
	return store.WBO{ID: id, Payload: &payload, PayloadSize: int64(len(payload)), Modified: &ts}
}

var collections = []string{"bookmarks", "history", "forms", "tabs", "meta", "clients", "custom1"}

// view is everything the cache answers, read through one engine.
type view struct {
	Stamps map[string]store.Timestamp
	Counts map[string]int64
	Usage  map[string]int64
	Size   int64
	Max    map[string]store.Timestamp
	Tabs   []store.WBO
	Meta   *store.WBO
}

func read(t *testing.T, e store.Engine, user int64, now store.Timestamp) view {
	t.Helper()
	ctx := context.Background()
	var v view
	var err error
	if v.Stamps, err = e.CollectionTimestamps(ctx, user); err != nil {
		t.Fatal(err)
	}
	if v.Counts, err = e.CollectionCounts(ctx, user, now); err != nil {
		t.Fatal(err)
	}
	if v.Usage, err = e.CollectionUsage(ctx, user, now); err != nil {
		t.Fatal(err)
	}
	if v.Size, err = e.TotalSize(ctx, user, now); err != nil {
		t.Fatal(err)
	}
	v.Max = map[string]store.Timestamp{}
	for _, c := range collections {
		ts, ok, err := e.CollectionMax(ctx, user, c)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			v.Max[c] = ts
		}
	}
	if v.Tabs, err = e.GetItems(ctx, user, "tabs", store.Query{Now: now}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(v.Tabs, func(a, b store.WBO) int { return strings.Compare(a.ID, b.ID) })
	m, err := e.GetItem(ctx, user, "meta", "global", now)
	switch {
	case err == nil:
		v.Meta = &m
	case !errors.Is(err, store.ErrNotFound):
		t.Fatal(err)
	}
	return v
}

// step is one write through the cache; now is the request time, later
// steps get later times.
type step struct {
	name  string
	later time.Duration // how far the clock moves before this step
	do    func(ctx context.Context, e store.Engine, user int64, now store.Timestamp) error
}

func put(coll string, items ...func(now store.Timestamp) store.WBO) func(context.Context, store.Engine, int64, store.Timestamp) error {
	return func(ctx context.Context, e store.Engine, user int64, now store.Timestamp) error {
		ws := make([]store.WBO, len(items))
		for i, f := range items {
			ws[i] = f(now)
		}
		_, err := e.PutItems(ctx, user, coll, ws)
		return err
	}
}

func full(id, payload string) func(store.Timestamp) store.WBO {
	return func(now store.Timestamp) store.WBO { return item(id, payload, now) }
}

func withTTL(id, payload string, secs int64) func(store.Timestamp) store.WBO {
	return func(now store.Timestamp) store.WBO {
		w := item(id, payload, now)
		w.TTL = ptr(now.Seconds() + secs)
		return w
	}
}

func del(coll string, q store.Query) func(context.Context, store.Engine, int64, store.Timestamp) error {
	return func(ctx context.Context, e store.Engine, user int64, now store.Timestamp) error {
		_, err := e.DeleteItems(ctx, user, coll, q)
		return err
	}
}

var steps = []step{
	{"put", 0, put("bookmarks", full("b1", "one"), full("b2", "twotwo"))},
	{"put tabs", time.Second, put("tabs", full("t1", "tab one"), full("t2", "tab two"))},
	{"put meta/global", time.Second, put("meta", full("global", `{"syncID":"a"}`))},
	{"batch", time.Second, put("history", full("h1", "1"), full("h2", "22"), full("h3", "333"), full("h4", "4444"), full("h5", "55555"))},
	{"custom collection", time.Second, put("custom1", full("c1", "custom"))},
	{"partial update", time.Second, put("bookmarks", func(store.Timestamp) store.WBO {
		return store.WBO{ID: "b1", SortIndex: ptr[int64](5)}
	})},
	{"put with an older modified (MAX goes back)", time.Second, put("bookmarks", func(now store.Timestamp) store.WBO {
		return item("b1", "older", now-1000)
	}, func(now store.Timestamp) store.WBO {
		return item("b2", "older", now-1000)
	})},
	{"new row without payload", time.Second, put("clients", func(store.Timestamp) store.WBO {
		return store.WBO{ID: "cl1", ParentID: ptr("p")}
	})},
	{"ttl", time.Second, put("forms", withTTL("f1", "expires soon", 30), withTTL("f2", "expires later", 7200), full("f3", "stays"))},
	{"ttl overwrite", time.Second, put("forms", full("f3", "still stays"))},
	{"time passes: f1 expires", time.Minute, nil},
	{"time passes: f2 expires", 2 * time.Hour, nil},
	{"update tab", time.Second, put("tabs", full("t1", "tab one, again"))},
	{"delete items", time.Second, del("history", store.Query{IDs: []string{"h1", "h2"}, HasIDs: true})},
	{"delete newest (timestamp goes back)", time.Second, del("custom1", store.Query{})},
	{"delete with limit", time.Second, del("history", store.Query{Limit: 1, Sort: store.SortIndex})},
	{"delete tab", time.Second, del("tabs", store.Query{IDs: []string{"t2"}, HasIDs: true})},
	{"delete collection", time.Second, del("bookmarks", store.Query{})},
	{"overwrite meta/global", time.Second, put("meta", full("global", `{"syncID":"b"}`))},
	{"delete meta/global", time.Second, del("meta", store.Query{IDs: []string{"global"}, HasIDs: true})},
	{"put again", time.Second, put("meta", full("global", `{"syncID":"c"}`))},
	{"delete storage", time.Second, func(ctx context.Context, e store.Engine, user int64, _ store.Timestamp) error {
		return e.DeleteStorage(ctx, user)
	}},
	{"put after wipe", time.Second, put("bookmarks", full("b9", "nine"))},
	{"delete user", time.Second, func(ctx context.Context, e store.Engine, user int64, _ store.Timestamp) error {
		return e.DeleteUser(ctx, user)
	}},
}

// TestMatchesDatabaseAfterEveryWrite reads everything through the cache
// (filling it), checks a second read is served without the database,
// writes through the cache, and checks every answer equals the database's.
//
// Each step runs once as a plain call and once inside Sequenced, whose
// view must defer its memcache work until the transaction has committed.
func TestMatchesDatabaseAfterEveryWrite(t *testing.T) {
	for _, b := range storetest.Backends() {
		for _, sequenced := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sequenced=%v", b.Name, sequenced), func(t *testing.T) {
				matchesAfterEveryWrite(t, b, sequenced)
			})
		}
	}
}

func matchesAfterEveryWrite(t *testing.T, b storetest.Backend, sequenced bool) {
	{
		{
			mc := testenv.StartMemcached(t)
			f := newFixture(t, b.Open(t), mc.Addr, Config{Prefix: "t:"})
			ctx := context.Background()
			now := store.FromTime(time.Now())
			for _, s := range steps {
				now += store.Timestamp(s.later / (10 * time.Millisecond))
				read(t, f.cache, f.user, now)
				before := f.inner.calls.Load()
				cached := read(t, f.cache, f.user, now)
				if n := f.inner.calls.Load() - before; n != 0 {
					t.Errorf("%s: a second read asked the database %d times", s.name, n)
				}
				if d := cmp.Diff(read(t, f.sql, f.user, now), cached); d != "" {
					t.Fatalf("%s: cached before the step differs from the database (-db +cache):\n%s", s.name, d)
				}
				if s.do != nil {
					do := func() error { return s.do(ctx, f.cache, f.user, now) }
					if sequenced {
						do = func() error {
							return f.cache.Sequenced(ctx, f.user, now, func(ts store.Timestamp, tx store.Engine) error {
								return s.do(ctx, tx, f.user, ts)
							})
						}
					}
					if err := do(); err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
				}
				if d := cmp.Diff(read(t, f.sql, f.user, now), read(t, f.cache, f.user, now)); d != "" {
					t.Fatalf("%s: cache differs from the database (-db +cache):\n%s", s.name, d)
				}
			}
			if n := f.errs.total(); n != 0 {
				t.Errorf("memcache errors: %v", f.errs.ops)
			}
		}
	}
}

// TestSequencedRollback: a sequenced write that fails after writing is
// rolled back, and the cache, read valid before it, must not keep the
// timestamps it would have set in place.
func TestSequencedRollback(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			mc := testenv.StartMemcached(t)
			f := newFixture(t, b.Open(t), mc.Addr, Config{Prefix: "t:"})
			ctx := context.Background()
			now := store.FromTime(time.Now())
			if err := put("bookmarks", full("b1", "one"))(ctx, f.cache, f.user, now); err != nil {
				t.Fatal(err)
			}
			read(t, f.cache, f.user, now)
			boom := errors.New("boom")
			err := f.cache.Sequenced(ctx, f.user, now+100, func(ts store.Timestamp, tx store.Engine) error {
				if err := put("bookmarks", full("b2", "two"))(ctx, tx, f.user, ts); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Sequenced: %v, want boom", err)
			}
			if got, err := f.sql.GetItems(ctx, f.user, "bookmarks", store.Query{}); err != nil || len(got) != 1 {
				t.Fatalf("after the rollback the database holds %d bookmarks (%v), want 1", len(got), err)
			}
			if d := cmp.Diff(read(t, f.sql, f.user, now+200), read(t, f.cache, f.user, now+200)); d != "" {
				t.Fatalf("cache differs from the database after a rollback (-db +cache):\n%s", d)
			}
		})
	}
}

// TestLegacyWriteThenInvalidate writes behind the cache's back, as the
// legacy PHP server does: the cache keeps its answer (which is why the
// proxy must invalidate) until InvalidateUser, then answers fresh.
func TestLegacyWriteThenInvalidate(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			mc := testenv.StartMemcached(t)
			f := newFixture(t, b.Open(t), mc.Addr, Config{})
			ctx := context.Background()
			now := store.FromTime(time.Now())
			if err := put("bookmarks", full("b1", "x"))(ctx, f.cache, f.user, now); err != nil {
				t.Fatal(err)
			}
			old := read(t, f.cache, f.user, now)
			now += 100
			// The legacy server writes the database directly.
			for _, c := range []string{"bookmarks", "history", "tabs", "meta"} {
				id := "x"
				if c == "meta" {
					id = "global"
				}
				if err := put(c, full(id, "legacy write"))(ctx, f.sql, f.user, now); err != nil {
					t.Fatal(err)
				}
			}
			if d := cmp.Diff(old, read(t, f.cache, f.user, now)); d != "" {
				t.Fatalf("the cache was not in use (-before +after):\n%s", d)
			}
			Invalidator{E: f.cache}.InvalidateUser(ctx, strings.ToUpper(f.name))
			if d := cmp.Diff(read(t, f.sql, f.user, now), read(t, f.cache, f.user, now)); d != "" {
				t.Fatalf("stale after InvalidateUser (-db +cache):\n%s", d)
			}
			// An unknown user has nothing to invalidate.
			if err := f.cache.InvalidateUsername(ctx, "nobody-"+f.name); err != nil {
				t.Fatal(err)
			}
			// Accounts kept elsewhere (a directory) resolve the name there.
			accounts := storetest.SQLite().Open(t)
			if _, err := accounts.DB().Exec("INSERT INTO users (id, username, md5, status) VALUES (?, 'elsewhere', 'x', 1)", f.user); err != nil {
				t.Fatal(err)
			}
			now += 100
			if err := put("bookmarks", full("b2", "legacy write for elsewhere"))(ctx, f.sql, f.user, now); err != nil {
				t.Fatal(err)
			}
			stale := read(t, f.cache, f.user, now)
			Invalidator{E: f.cache}.InvalidateUser(ctx, "elsewhere") // not in E's users table
			if d := cmp.Diff(stale, read(t, f.cache, f.user, now)); d != "" {
				t.Fatalf("a name E does not know invalidated something (-before +after):\n%s", d)
			}
			Invalidator{E: f.cache, Users: accounts}.InvalidateUser(ctx, "elsewhere")
			if d := cmp.Diff(read(t, f.sql, f.user, now), read(t, f.cache, f.user, now)); d != "" {
				t.Fatalf("stale after invalidating through the accounts backend (-db +cache):\n%s", d)
			}
		})
	}
}

// TestPHPKeyDropped: the legacy server's coll:<uid> goes after every kind
// of native write, so PHP rebuilds it from the database.
func TestPHPKeyDropped(t *testing.T) {
	mc := testenv.StartMemcached(t)
	for _, tabsOnly := range []bool{false, true} {
		f := newFixture(t, storetest.SQLite().Open(t), mc.Addr, Config{Prefix: "p:", TabsInMemcacheOnly: tabsOnly})
		ctx := context.Background()
		now := store.FromTime(time.Now())
		writes := []step{
			{"put", 0, put("bookmarks", full("b1", "x"))},
			{"put tabs", 0, put("tabs", full("t1", "x"))},
			{"delete items", 0, del("bookmarks", store.Query{IDs: []string{"b1"}, HasIDs: true})},
			{"delete tabs", 0, del("tabs", store.Query{})},
			{"invalidate", 0, func(ctx context.Context, _ store.Engine, user int64, _ store.Timestamp) error {
				return f.cache.InvalidateUser(ctx, user)
			}},
			{"delete storage", 0, func(ctx context.Context, e store.Engine, user int64, _ store.Timestamp) error {
				return e.DeleteStorage(ctx, user)
			}},
			{"delete user", 0, func(ctx context.Context, e store.Engine, user int64, _ store.Timestamp) error {
				return e.DeleteUser(ctx, user)
			}},
		}
		key := fmt.Sprintf("coll:%d", f.user)
		for _, w := range writes {
			now++
			// PHP's own value: a serialized array, timestamps in hundredths.
			phpValue := fmt.Sprintf(`a:1:{s:9:"bookmarks";i:%d;}`, now)
			if err := f.client.Set(&memcache.Item{Key: key, Value: []byte(phpValue)}); err != nil {
				t.Fatal(err)
			}
			if err := w.do(ctx, f.cache, f.user, now); err != nil {
				t.Fatalf("tabsOnly=%v %s: %v", tabsOnly, w.name, err)
			}
			if it, err := f.client.Get(key); err == nil {
				t.Errorf("tabsOnly=%v %s: %s still holds %q", tabsOnly, w.name, key, it.Value)
			}
		}
	}
}

package cache

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// noClose shares one inner engine between two cache engines.
type noClose struct{ store.Engine }

func (noClose) Close() error { return nil }

// fresh fails unless every answer of e equals the database's.
func fresh(t *testing.T, what string, f *fixture, e store.Engine, now store.Timestamp) {
	t.Helper()
	if d := cmp.Diff(read(t, f.sql, f.user, now), read(t, e, f.user, now)); d != "" {
		t.Fatalf("%s: stale answer (-db +cache):\n%s", what, d)
	}
}

// TestMemcachedKilled: memcached dies mid-test; every call still succeeds
// from the database, the failures are counted; writes made while it is
// down are never hidden once it is back, and the cache is used again.
func TestMemcachedKilled(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			mc := testenv.StartMemcached(t)
			f := newFixture(t, b.Open(t), mc.Addr, Config{Backoff: 100 * time.Millisecond})
			ctx := context.Background()
			now := store.FromTime(time.Now())
			apply := func(s step) {
				t.Helper()
				now += 100
				if err := s.do(ctx, f.cache, f.user, now); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			}
			apply(step{"put", 0, put("bookmarks", full("b1", "x"), full("b2", "y"))})
			apply(step{"put tabs", 0, put("tabs", full("t1", "x"))})
			fresh(t, "before", f, f.cache, now)

			mc.Stop()
			for i, s := range steps[:6] {
				apply(s)
				fresh(t, "down: "+s.name, f, f.cache, now)
				if i == 2 {
					time.Sleep(150 * time.Millisecond) // past a backoff: memcache is tried again
				}
			}
			if f.errs.total() == 0 {
				t.Error("no memcache failure was reported through OnError")
			}

			mc.Start(t)
			fresh(t, "right after the restart", f, f.cache, now)
			apply(steps[6])
			waitUsable(t, f.cache)
			fresh(t, "healed", f, f.cache, now)
			before := f.inner.calls.Load()
			fresh(t, "healed, again", f, f.cache, now)
			if f.inner.calls.Load() != before {
				t.Error("the cache is not used again after memcached came back")
			}
		})
	}
}

// TestCutLinkNoStale: memcached stays up with its entries while one
// instance cannot reach it (a network cut, or a hung server answering
// nothing). The writes that instance makes meanwhile must not be hidden by
// those entries once the link is back, for that instance or any other; nor
// when the instance dies before it could heal and a new one starts.
func TestCutLinkNoStale(t *testing.T) {
	for _, mode := range []string{"cut", "stall"} {
		t.Run(mode, func(t *testing.T) {
			mc := testenv.StartMemcached(t)
			l := newLink(t, mc.Addr)
			inner := storetest.SQLite().Open(t)
			cfg := Config{Timeout: 50 * time.Millisecond, Backoff: 100 * time.Millisecond}
			f := newFixture(t, inner, l.Addr(), cfg)
			other := New(noClose{inner}, memcache.New(mc.Addr), cfg) // a second proxy instance
			t.Cleanup(func() { other.Close() })
			waitUsable(t, other)
			ctx := context.Background()
			now := store.FromTime(time.Now())
			write := func(e store.Engine, id string) {
				t.Helper()
				now += 100
				if err := put("bookmarks", full(id, id))(ctx, e, f.user, now); err != nil {
					t.Fatal(err)
				}
			}
			write(f.cache, "b1")
			read(t, f.cache, f.user, now)
			read(t, other, f.user, now)

			l.set(mode)
			write(f.cache, "b2")
			fresh(t, "instance cut off", f, f.cache, now)
			l.set("up")
			fresh(t, "link back", f, f.cache, now)
			waitUsable(t, f.cache)
			fresh(t, "healed", f, f.cache, now)
			fresh(t, "other instance after the heal", f, other, now)
			if f.errs.total() == 0 {
				t.Error("no failure reported")
			}

			// The instance dies cut off, its debt unpaid: a new instance's
			// first contact bumps the epoch, for every instance.
			l.set(mode)
			write(f.cache, "b3")
			f.cache.mc.close()
			l.set("up")
			started := New(noClose{inner}, memcache.New(mc.Addr), cfg)
			t.Cleanup(func() { started.Close() })
			waitUsable(t, started)
			fresh(t, "new instance", f, started, now)
			fresh(t, "other instance after a new one started", f, other, now)
		})
	}
}

// TestDryRunWritesNothing: the DryRun view reads its own writes through
// the transaction and leaves both the database and memcached untouched.
func TestDryRunWritesNothing(t *testing.T) {
	for _, tabsOnly := range []bool{false, true} {
		mc := testenv.StartMemcached(t)
		f := newFixture(t, storetest.SQLite().Open(t), mc.Addr, Config{TabsInMemcacheOnly: tabsOnly})
		ctx := context.Background()
		now := store.FromTime(time.Now())
		for _, s := range steps[:5] {
			if err := s.do(ctx, f.cache, f.user, now); err != nil {
				t.Fatal(err)
			}
		}
		before := read(t, f.cache, f.user, now)
		st := stats(t, mc.Addr)
		err := f.cache.DryRun(ctx, func(v store.Engine) error {
			now += 100
			for _, s := range []step{
				{"put", 0, put("bookmarks", full("b7", "seven"))},
				{"put tabs", 0, put("tabs", full("t7", "seven"), full("t1", "changed"))},
				{"delete", 0, del("history", store.Query{})},
			} {
				if err := s.do(ctx, v, f.user, now); err != nil {
					t.Fatalf("tabsOnly=%v %s: %v", tabsOnly, s.name, err)
				}
			}
			in := read(t, v, f.user, now)
			if in.Stamps["bookmarks"] != now || in.Stamps["tabs"] != now || in.Counts["tabs"] != 3 ||
				in.Counts["history"] != 0 || len(in.Tabs) != 3 {
				t.Errorf("tabsOnly=%v: the view does not see its own writes: %+v", tabsOnly, in)
			}
			if err := v.(*Engine).InvalidateUser(ctx, f.user); err != nil {
				t.Error(err)
			}
			return v.DeleteStorage(ctx, f.user)
		})
		if err != nil {
			t.Fatal(err)
		}
		after := stats(t, mc.Addr)
		for _, k := range []string{"cmd_set", "cmd_touch", "delete_hits", "delete_misses", "incr_hits",
			"incr_misses", "decr_hits", "decr_misses", "cas_hits", "cas_misses", "cas_badval"} {
			if after[k] != st[k] {
				t.Errorf("tabsOnly=%v: DryRun changed memcached's %s from %d to %d", tabsOnly, k, st[k], after[k])
			}
		}
		if d := cmp.Diff(before, read(t, f.cache, f.user, now)); d != "" {
			t.Errorf("tabsOnly=%v: DryRun left a trace (-before +after):\n%s", tabsOnly, d)
		}
	}
}

// TestDirtyOverflowBumpsEpoch: past MaxDirty users owed, the healer voids
// every entry through the epoch instead.
func TestDirtyOverflowBumpsEpoch(t *testing.T) {
	mc := testenv.StartMemcached(t)
	l := newLink(t, mc.Addr)
	inner := storetest.SQLite().Open(t)
	cfg := Config{MaxDirty: 1, Backoff: 50 * time.Millisecond, Timeout: 50 * time.Millisecond}
	f := newFixture(t, inner, l.Addr(), cfg)
	other := New(noClose{inner}, memcache.New(mc.Addr), cfg)
	t.Cleanup(func() { other.Close() })
	waitUsable(t, other)
	ctx := context.Background()
	second, err := inner.CreateUser(ctx, store.User{Username: "second" + f.name, MD5: "x"})
	if err != nil {
		t.Fatal(err)
	}
	users := []int64{f.user, second}
	now := store.FromTime(time.Now())
	for _, u := range users {
		read(t, other, u, now)
	}
	l.set("cut")
	for _, u := range users {
		if err := put("history", full("h", "x"))(ctx, f.cache, u, now+1); err != nil {
			t.Fatal(err)
		}
	}
	f.cache.mc.mu.Lock()
	overflowed := f.cache.mc.epochOwed != f.cache.mc.epochPaid
	f.cache.mc.mu.Unlock()
	if !overflowed {
		t.Fatal("the second user did not overflow into the epoch")
	}
	l.set("up")
	waitUsable(t, f.cache)
	for _, u := range users {
		if d := cmp.Diff(read(t, inner, u, now+1), read(t, other, u, now+1)); d != "" {
			t.Errorf("user %d stale (-db +cache):\n%s", u, d)
		}
	}
}

// TestInvalidateLookupFailureBumpsEpoch: when the proxy's invalidation
// cannot even find the user id, every entry is voided.
func TestInvalidateLookupFailureBumpsEpoch(t *testing.T) {
	mc := testenv.StartMemcached(t)
	dsn := storetest.SQLite().DSN(t)
	f := newFixture(t, storetest.Open(t, dsn), mc.Addr, Config{})
	ctx := context.Background()
	now := store.FromTime(time.Now())
	read(t, f.cache, f.user, now)
	if err := put("bookmarks", full("legacy", "x"))(ctx, f.sql, f.user, now); err != nil {
		t.Fatal(err)
	}
	broken := storetest.Open(t, dsn)
	broken.Close()
	g := New(broken, memcache.New(mc.Addr), Config{})
	defer g.mc.close()
	waitUsable(t, g)
	Invalidator{E: g}.InvalidateUser(ctx, f.name)
	waitUsable(t, g)
	fresh(t, "after a failed lookup", f, f.cache, now)
}

// TestConcurrentWritersNeverStale: writers on two instances race with
// readers rebuilding entries; once a write has returned, a read on either
// instance sees it, and at the end both equal the database.
func TestConcurrentWritersNeverStale(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			mc := testenv.StartMemcached(t)
			inner := b.Open(t)
			f := newFixture(t, inner, mc.Addr, Config{})
			other := New(noClose{inner}, memcache.New(mc.Addr), Config{})
			t.Cleanup(func() { other.Close() })
			waitUsable(t, other)
			engines := []store.Engine{f.cache, other}
			ctx := context.Background()
			start := store.FromTime(time.Now())
			const writers, rounds = 4, 15
			errc := make(chan error, writers+1)
			stop := make(chan struct{})
			go func() { // a reader that keeps rebuilding entries
				for {
					select {
					case <-stop:
						errc <- nil
						return
					default:
					}
					for _, e := range engines {
						if _, err := e.CollectionTimestamps(ctx, f.user); err != nil {
							errc <- err
							return
						}
						e.CollectionCounts(ctx, f.user, start)
					}
				}
			}()
			for w := range writers {
				go func() {
					coll := fmt.Sprintf("coll%d", w)
					for r := range rounds {
						ts := start + store.Timestamp(r*writers+w+1)
						e := engines[(w+r)%2]
						if _, err := e.PutItems(ctx, f.user, coll, []store.WBO{item(fmt.Sprint(r), "x", ts)}); err != nil {
							errc <- err
							return
						}
						for _, e := range engines {
							m, err := e.CollectionTimestamps(ctx, f.user)
							if err != nil {
								errc <- err
								return
							}
							if m[coll] < ts {
								errc <- fmt.Errorf("%s: write at %d returned, a read then gave %d", coll, ts, m[coll])
								return
							}
							c, err := e.CollectionCounts(ctx, f.user, start)
							if err != nil {
								errc <- err
								return
							}
							if c[coll] < int64(r+1) {
								errc <- fmt.Errorf("%s: %d writes returned, a read then counted %d", coll, r+1, c[coll])
								return
							}
						}
					}
					errc <- nil
				}()
			}
			for range writers {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			close(stop)
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			for _, e := range engines {
				fresh(t, "at the end", f, e, start)
			}
		})
	}
}

// lockedBuffer is a log sink the cache's goroutines may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// An outage is logged when it starts and when it ends, not once per
// backoff: memcached down for many backoffs gives one warning, and its
// return one line.
func TestOutageLoggedOncePerChange(t *testing.T) {
	b := storetest.Backends()[0]
	mc := testenv.StartMemcached(t)
	logs := &lockedBuffer{}
	f := newFixture(t, b.Open(t), mc.Addr, Config{Backoff: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx := context.Background()
	now := store.FromTime(time.Now())
	mc.Stop()
	for i := 0; i < 10; i++ {
		if _, err := f.cache.CollectionTimestamps(ctx, f.user); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // past each backoff: memcache is tried again
	}
	if got := f.errs.total(); got < 5 {
		t.Fatalf("only %d memcache failures while it was down", got)
	}
	if n := logs.count("memcache failed"); n != 1 {
		t.Errorf("%d 'memcache failed' lines for one outage; want 1:\n%s", n, logs.b.String())
	}
	mc.Start(t)
	waitUsable(t, f.cache)
	fresh(t, "after the outage", f, f.cache, now)
	if n := logs.count("memcache answers again"); n != 1 {
		t.Errorf("%d 'answers again' lines; want 1:\n%s", n, logs.b.String())
	}
}

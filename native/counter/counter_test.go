package counter

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// conformance runs the behaviour every Store must have.
func conformance(t *testing.T, s Store) {
	ctx := context.Background()
	t.Run("incr counts from one", func(t *testing.T) {
		for want := int64(1); want <= 5; want++ {
			got, err := s.Incr(ctx, "c:a", time.Hour)
			if err != nil || got != want {
				t.Fatalf("Incr = %d, %v; want %d", got, err, want)
			}
		}
		if v, ok, err := s.Get(ctx, "c:a"); v != 5 || !ok || err != nil {
			t.Errorf("Get = %d %v %v", v, ok, err)
		}
	})
	t.Run("missing key", func(t *testing.T) {
		if v, ok, err := s.Get(ctx, "c:missing"); v != 0 || ok || err != nil {
			t.Errorf("Get = %d %v %v", v, ok, err)
		}
		if err := s.Delete(ctx, "c:missing"); err != nil {
			t.Errorf("Delete missing: %v", err)
		}
	})
	t.Run("set get delete", func(t *testing.T) {
		if err := s.Set(ctx, "c:set", 1772368245123, time.Hour); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := s.Get(ctx, "c:set"); v != 1772368245123 || !ok || err != nil {
			t.Errorf("Get = %d %v %v", v, ok, err)
		}
		if err := s.Delete(ctx, "c:set"); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.Get(ctx, "c:set"); ok || err != nil {
			t.Errorf("after Delete: %v %v", ok, err)
		}
	})
	t.Run("set then incr continues", func(t *testing.T) {
		if err := s.Set(ctx, "c:seti", 41, time.Hour); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Incr(ctx, "c:seti", time.Hour); v != 42 || err != nil {
			t.Errorf("Incr after Set = %d %v", v, err)
		}
	})
	t.Run("awkward keys stay distinct", func(t *testing.T) {
		keys := []string{"lockout:a b", "lockout:a\nb", "lockout:" + strings.Repeat("x", 300), "lockout:" + strings.Repeat("x", 301), "lockout:jürgen"}
		for i, k := range keys {
			for j := 0; j <= i; j++ {
				if _, err := s.Incr(ctx, k, time.Hour); err != nil {
					t.Fatalf("Incr %q: %v", k, err)
				}
			}
		}
		for i, k := range keys {
			if v, ok, err := s.Get(ctx, k); v != int64(i+1) || !ok || err != nil {
				t.Errorf("Get %q = %d %v %v, want %d", k, v, ok, err, i+1)
			}
		}
	})
	t.Run("concurrent incr loses nothing", func(t *testing.T) {
		const workers, each = 8, 50
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					if _, err := s.Incr(ctx, "c:conc", time.Hour); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if v, _, err := s.Get(ctx, "c:conc"); v != workers*each || err != nil {
			t.Errorf("after %d increments: %d %v", workers*each, v, err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Incr(cctx, "c:x", time.Hour); err == nil {
			t.Error("Incr on a cancelled context succeeded")
		}
	})
}

func TestMemoryConformance(t *testing.T) { conformance(t, NewMemory()) }

func TestMemoryExpiry(t *testing.T) {
	clk := testenv.NewClock(time.Unix(1_800_000_000, 0))
	s := NewMemoryWith(clk.Now, 0)
	ctx := context.Background()
	s.Incr(ctx, "w", 10*time.Minute)
	clk.Advance(9 * time.Minute)
	if v, _ := s.Incr(ctx, "w", 10*time.Minute); v != 2 {
		t.Fatalf("second Incr inside the window = %d", v)
	}
	// The window is fixed at the first Incr, not extended by the second.
	clk.Advance(time.Minute)
	if _, ok, _ := s.Get(ctx, "w"); ok {
		t.Fatal("key alive at the end of its window")
	}
	if v, _ := s.Incr(ctx, "w", 10*time.Minute); v != 1 {
		t.Fatalf("Incr after expiry = %d, want a fresh 1", v)
	}
	s.Set(ctx, "forever", 7, 0)
	s.Set(ctx, "short", 7, time.Second)
	clk.Advance(1000 * time.Hour)
	if v, ok, _ := s.Get(ctx, "forever"); !ok || v != 7 {
		t.Error("ttl 0 expired")
	}
	if _, ok, _ := s.Get(ctx, "short"); ok {
		t.Error("ttl 1s still alive")
	}
}

// TestMemoryBounded: a flood of keys never holds more than the bound, and
// what is evicted first is what expires first.
func TestMemoryBounded(t *testing.T) {
	clk := testenv.NewClock(time.Unix(1_800_000_000, 0))
	s := NewMemoryWith(clk.Now, 100)
	ctx := context.Background()
	s.Set(ctx, "locked:keep", 1, 24*time.Hour)
	for i := 0; i < 1000; i++ {
		s.Incr(ctx, fmt.Sprintf("lockout:u%d", i), 10*time.Minute)
		if n := s.Len(); n > 100 {
			t.Fatalf("%d entries after %d keys", n, i+1)
		}
	}
	if _, ok, _ := s.Get(ctx, "locked:keep"); !ok {
		t.Error("the longest-lived entry was evicted before shorter ones")
	}
	// Expired entries are swept by later writes (at the latest after
	// sweepEvery of them).
	clk.Advance(time.Hour)
	for i := 0; i < sweepEvery; i++ {
		s.Set(ctx, "x", 1, 0)
	}
	if n := s.Len(); n != 2 {
		t.Errorf("%d entries after expiry and a sweep, want 2", n)
	}
}

func TestMemcacheConformance(t *testing.T) {
	mc := testenv.StartMemcached(t)
	conformance(t, NewMemcache(NewMemcacheClient(mc.Addr)))
}

// TestMemcacheSharedAcrossClients: two stores on separate clients (two
// proxy instances) count into one number.
func TestMemcacheSharedAcrossClients(t *testing.T) {
	mc := testenv.StartMemcached(t)
	a, b := NewMemcache(NewMemcacheClient(mc.Addr)), NewMemcache(NewMemcacheClient(mc.Addr))
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, s := range []Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if _, err := s.Incr(ctx, "lockout:shared", time.Hour); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v, ok, err := b.Get(ctx, "lockout:shared"); v != 400 || !ok || err != nil {
		t.Errorf("shared count = %d %v %v, want 400", v, ok, err)
	}
	if err := a.Delete(ctx, "lockout:shared"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Get(ctx, "lockout:shared"); ok {
		t.Error("delete on one client not seen by the other")
	}
}

// TestMemcacheExpiry uses memcached's own clock (whole seconds), so it
// waits; it checks only that a short window ends, not how fast.
func TestMemcacheExpiry(t *testing.T) {
	mc := testenv.StartMemcached(t)
	s := NewMemcache(NewMemcacheClient(mc.Addr))
	ctx := context.Background()
	if v, err := s.Incr(ctx, "short", time.Second); v != 1 || err != nil {
		t.Fatal(v, err)
	}
	s.Set(ctx, "long", 5, time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, err := s.Get(ctx, "short")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("1s key still present after 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v, err := s.Incr(ctx, "short", time.Hour); v != 1 || err != nil {
		t.Errorf("Incr after expiry = %d %v, want 1", v, err)
	}
	if v, ok, _ := s.Get(ctx, "long"); !ok || v != 5 {
		t.Error("1h key gone")
	}
}

// TestMemcacheDown: a killed memcached gives errors (never a hang or a
// made-up value), and a restarted one works again through the same client.
func TestMemcacheDown(t *testing.T) {
	mc := testenv.StartMemcached(t)
	s := NewMemcache(NewMemcacheClient(mc.Addr))
	ctx := context.Background()
	if _, err := s.Incr(ctx, "k", time.Hour); err != nil {
		t.Fatal(err)
	}
	mc.Stop()
	if _, err := s.Incr(ctx, "k", time.Hour); err == nil {
		t.Error("Incr with memcached down succeeded")
	}
	if _, _, err := s.Get(ctx, "k"); err == nil {
		t.Error("Get with memcached down succeeded")
	}
	if err := s.Set(ctx, "k", 1, time.Hour); err == nil {
		t.Error("Set with memcached down succeeded")
	}
	if err := s.Delete(ctx, "k"); err == nil {
		t.Error("Delete with memcached down succeeded")
	}
	mc.Start(t)
	if v, err := s.Incr(ctx, "k", time.Hour); v != 1 || err != nil {
		t.Errorf("Incr after restart = %d %v, want a fresh 1", v, err)
	}
}

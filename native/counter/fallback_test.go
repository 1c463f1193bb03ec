package counter

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

func TestFallbackConformance(t *testing.T) {
	mc := testenv.StartMemcached(t)
	// A generous timeout: on a loaded test machine a 100 ms timeout
	// would send some increments to memory, which is the point of a
	// Fallback but not what conformance checks.
	c := NewMemcacheClient(mc.Addr)
	c.Timeout = 5 * time.Second
	conformance(t, NewFallback(NewMemcache(c), FallbackConfig{}))
}

// TestFallbackOutage (issue 10 items 6 and 11): with memcached killed or
// frozen, counting goes on in memory, the shared store is asked once per
// back-off period, and the log has one line per change of state.
func TestFallbackOutage(t *testing.T) {
	for _, how := range []string{"killed", "frozen"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			mc := testenv.StartMemcached(t)
			clk := testenv.NewClock(time.Now())
			var logged strings.Builder
			var errs atomic.Int64
			f := NewFallback(NewMemcache(NewMemcacheClient(mc.Addr)), FallbackConfig{
				Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logged, nil)),
				OnError: func(string, error) { errs.Add(1) },
			})
			if n, err := f.Incr(ctx, "lockout:bob", time.Hour); n != 1 || err != nil {
				t.Fatalf("Incr with memcached up = %d, %v", n, err)
			}
			if how == "killed" {
				mc.Stop()
			} else {
				if err := mc.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				defer mc.Signal(syscall.SIGCONT)
			}
			for i := 0; i < 50; i++ {
				if _, err := f.Incr(ctx, "lockout:bob", time.Hour); err != nil {
					t.Fatalf("Incr %d during the outage: %v", i, err)
				}
			}
			if err := f.Set(ctx, "locked:bob", 42, time.Hour); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := f.Get(ctx, "locked:bob"); v != 42 || !ok || err != nil {
				t.Fatalf("lock set during the outage: Get = %d %v %v", v, ok, err)
			}
			if n := errs.Load(); n != 1 {
				t.Errorf("%d failed memcache operations for 52 calls within one back-off, want 1", n)
			}
			if c := strings.Count(logged.String(), "level=WARN"); c != 1 {
				t.Errorf("%d warnings during one outage, want 1:\n%s", c, logged.String())
			}

			if how == "killed" {
				mc.Start(t)
			} else {
				mc.Signal(syscall.SIGCONT)
			}
			clk.Advance(2 * DefaultBackoff)
			// The lock set in memory during the outage still holds.
			if v, ok, _ := f.Get(ctx, "locked:bob"); v != 42 || !ok {
				t.Fatalf("after the outage: lock = %d %v", v, ok)
			}
			if !f.Shared() {
				t.Fatal("shared store not used again after it answered")
			}
			if c := strings.Count(logged.String(), "answers again"); c != 1 {
				t.Errorf("%d recovery lines, want 1:\n%s", c, logged.String())
			}
		})
	}
}

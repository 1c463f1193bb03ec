package shadow

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/internal/dryrun"
)

// With too little idle CPU, shadow work does not start: reads and writes
// go to legacy alone, untouched (no dry run, no snapshot), and queued
// pairs are dropped; each is counted with reason cpu_busy, none stored.
func TestBusyMachineShedsShadowWork(t *testing.T) {
	var idle atomic.Uint64 // idle share in percent
	idle.Store(5)
	r := newRig(t, "", Options{Workers: 1, MinIdle: 0.2,
		Idle: func() float64 { return float64(idle.Load()) / 100 }})
	var dry atomic.Int64
	r.dry = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		dry.Add(1)
		dryrun.Opened(req.Context())
		w.Write([]byte("{}"))
	})
	if w := r.serve("GET", "/1.0/alice/info/collections", ""); !strings.Contains(w.Body.String(), "legacy") {
		t.Fatalf("client got %q", w.Body.String())
	}
	if w := r.serve("PUT", "/1.0/alice/storage/bookmarks/a", `{}`); !strings.Contains(w.Body.String(), "legacy") {
		t.Fatalf("client got %q", w.Body.String())
	}
	r.flush()
	if dry.Load() != 0 {
		t.Fatal("a dry run ran on a busy machine")
	}
	for _, route := range []string{infoRoute, putRoute} {
		if got := counter(r.sh.m.skipped, route, reasonBusy); got != 1 {
			t.Errorf("%s: skipped cpu_busy %v, want 1", route, got)
		}
		if got := counter(r.sh.m.requests, route); got != 1 {
			t.Errorf("%s: requests %v, want 1", route, got)
		}
	}

	// Idle again: compared. Then a pair queued while idle meets a busy
	// machine at its worker: dropped.
	idle.Store(50)
	r.native = r.legacy
	r.serve("GET", "/1.0/alice/info/collections", "")
	r.flush()
	if c := r.counts(infoRoute); c.Pairs != 1 {
		t.Fatalf("counts %+v, want the read compared once idle", c)
	}
	g := newGate()
	r.native = g.wrap(r.legacy)
	r.serve("GET", "/1.0/alice/info/collections", "")
	<-g.entered
	r.serve("GET", "/1.0/alice/info/collections", "")
	idle.Store(5)
	close(g.open)
	r.flush()
	if got := counter(r.sh.m.dropped, infoRoute, reasonBusy); got != 1 {
		t.Fatalf("dropped cpu_busy %v, want 1", got)
	}
	if c := r.counts(infoRoute); c.Pairs != 2 || c.Different != 0 {
		t.Fatalf("counts %+v, want 2 pairs, none different", c)
	}
	// The report's coverage: what was shed is in the store by reason.
	for route, want := range map[string]int64{infoRoute: 2, putRoute: 1} {
		rs, err := r.st.Route(context.Background(), route, store.Gate{MinPairs: 1, LastM: 1})
		if err != nil {
			t.Fatal(err)
		}
		if rs.NotCompared[reasonBusy] != want || rs.Different != 0 {
			t.Errorf("%s: not compared %v, want cpu_busy %d", route, rs.NotCompared, want)
		}
	}
	if rs, _ := r.st.Route(context.Background(), infoRoute, store.Gate{MinPairs: 1, LastM: 1}); rs.Shadowed() != 4 || rs.Coverage() != 0.5 {
		t.Errorf("info: shadowed %d, coverage %v; want 4 and 0.5", rs.Shadowed(), rs.Coverage())
	}
}

// The idle meter reads the machine's CPU times: a share between 0 and 1.
func TestIdleMeterMeasures(t *testing.T) {
	if _, _, err := cpuTimes(); err != nil {
		t.Skipf("no CPU times here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	share := startIdleMeter(ctx, 10*time.Millisecond)
	if got := share(); got != 1 {
		t.Fatalf("before any sample %v, want 1", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for share() == 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := share(); got < 0 || got >= 1 {
		t.Fatalf("idle share %v, want a measured share in [0, 1)", got)
	}
}

// A pair that waited longer than MaxQueueWait for a worker is dropped,
// counted with its reason, and never stored: a machine too busy to
// compare sheds pairs instead of queueing them.
func TestOldPairsAreShed(t *testing.T) {
	r := newRig(t, "", Options{Workers: 1, MaxQueueWait: 50 * time.Millisecond})
	g := newGate()
	r.native = g.wrap(r.legacy)
	r.serve("GET", "/1.0/alice/info/collections", "")
	<-g.entered // the only worker is busy with the first pair
	for range 2 {
		r.serve("GET", "/1.0/alice/info/collections", "")
	}
	time.Sleep(200 * time.Millisecond) // both queued pairs are now too old
	close(g.open)
	r.flush()
	if got := counter(r.sh.m.dropped, infoRoute, "too_old"); got != 2 {
		t.Fatalf("dropped too_old %v, want 2", got)
	}
	if got := counter(r.sh.m.requests, infoRoute); got != 3 {
		t.Fatalf("requests %v, want 3", got)
	}
	if c := r.counts(infoRoute); c.Pairs != 1 || c.Different != 0 {
		t.Fatalf("counts %+v, want only the first pair, identical", c)
	}
}

// A dry run that outlives DryRunLifetime (its snapshot held open, a
// purge held back) is cancelled; what it answered then is the
// cancellation's, so the write is counted as not compared, never as a
// difference.
func TestExpiredDryRunIsNotCompared(t *testing.T) {
	r := newRig(t, "", Options{DryRunLifetime: 50 * time.Millisecond})
	r.dry = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		dryrun.Opened(req.Context())
		<-req.Context().Done()
		http.Error(w, "dry run failed", http.StatusServiceUnavailable)
	})
	if w := r.serve("PUT", "/1.0/alice/storage/bookmarks/a", `{}`); !strings.Contains(w.Body.String(), "legacy") {
		t.Fatalf("client got %q", w.Body.String())
	}
	r.flush()
	if got := counter(r.sh.m.skipped, putRoute, "dry_run_expired"); got != 1 {
		t.Fatalf("skipped dry_run_expired %v, want 1", got)
	}
	if c := r.counts(putRoute); c.Pairs != 0 {
		t.Fatalf("counts %+v, want nothing stored", c)
	}
}

// X-Weave-Timestamp is the time of the answer: a read whose native run
// ends later than the route's timestamp tolerance after legacy got it
// could differ by the wait alone, so it is not compared (too_late), never
// counted as a difference.
func TestLateReadIsNotCompared(t *testing.T) {
	yaml := defaultRoutes + "routes:\n  - match: \"" + infoRoute + "\"\n    mode: shadow\n    diff:\n      timestamp_tolerance: 100ms\n"
	r := newRig(t, yaml, Options{Workers: 1})
	r.native = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		time.Sleep(200 * time.Millisecond) // later than 100ms, whatever the machine
		r.legacy.ServeHTTP(w, req)
	})
	r.serve("GET", "/1.0/alice/info/collections", "")
	r.flush()
	if got := counter(r.sh.m.skipped, infoRoute, "too_late"); got != 1 {
		t.Fatalf("skipped too_late %v, want 1", got)
	}
	if c := r.counts(infoRoute); c.Pairs != 0 {
		t.Fatalf("counts %+v, want nothing compared", c)
	}
}

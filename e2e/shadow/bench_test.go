package shadow_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	nstore "github.com/weaveproxy/weaveproxy/native/store"
)

// BenchmarkShadowLatency measures what shadow mode costs the client on
// the three workloads of issue 8, on the real stack: the original PHP
// server (../shared/legacy-php, php -S with 8 workers; skipped when it
// is absent), MariaDB, and the native server on the same
// database. Two proxies share the backend, one with every route in legacy
// mode and one with every route in shadow mode. Each sub-benchmark sends
// b.N requests through each proxy from benchClients concurrent clients,
// in alternating phases (legacy, shadow, shadow, legacy, each b.N/2), and
// reports each mode's p50 and p99 and their ratios shadow/legacy:
//
//	info-collections  GET info/collections (native runs later, in a worker)
//	get-100           GET storage/history?full=1&limit=100&sort=index of 1,000 items
//	post-100          POST 100 WBOs (the dry run's snapshot is taken before legacy
//	                  gets the write, the rest runs beside it)
//
// Run with
//
//	go test -run '^$' -bench ShadowLatency -benchtime 200x ./e2e/shadow/
func BenchmarkShadowLatency(b *testing.B) {
	be, user := benchBackend(b)
	legacyMode := newStack(b, be, stackOptions{routes: "default: legacy\n"})
	shadowMode := newStack(b, be, stackOptions{})
	var seq sync.Mutex
	n := 0
	next := func() int {
		seq.Lock()
		defer seq.Unlock()
		n++
		return n
	}
	workloads := []struct {
		name string
		req  func() (method, path, body string)
	}{
		{"info-collections", func() (string, string, string) {
			return "GET", "/1.0/" + user + "/info/collections", ""
		}},
		{"get-100", func() (string, string, string) {
			return "GET", "/1.0/" + user + "/storage/history?full=1&limit=100&sort=index", ""
		}},
		{"post-100", func() (string, string, string) {
			// 100 of 500 ids, in turn: the collection stays small.
			k := next() % 5
			items := make([]string, 100)
			for i := range items {
				items[i] = fmt.Sprintf(`{"id": "b%d", "payload": "%s", "sortindex": %d}`, k*100+i, strings.Repeat("x", 300), i)
			}
			return "POST", "/1.0/" + user + "/storage/bookmarks", "[" + strings.Join(items, ",") + "]"
		}},
	}
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			lat := map[string][]time.Duration{}
			half := max(b.N/2, benchClients)
			for _, mode := range []string{"legacy", "shadow", "shadow", "legacy"} {
				base := legacyMode.URL
				if mode == "shadow" {
					base = shadowMode.URL
				}
				lat[mode] = append(lat[mode], load(b, base, user, half, w.req)...)
				shadowMode.flush(b) // the next phase starts with no comparison pending
			}
			for _, mode := range []string{"legacy", "shadow"} {
				b.ReportMetric(float64(pct(lat[mode], 50).Microseconds()), mode+"-p50-µs")
				b.ReportMetric(float64(pct(lat[mode], 99).Microseconds()), mode+"-p99-µs")
			}
			for _, p := range []int{50, 99} {
				b.ReportMetric(float64(pct(lat["shadow"], p))/float64(pct(lat["legacy"], p)), fmt.Sprintf("p%d-shadow/legacy", p))
			}
			b.ReportMetric(dropped(b, shadowMode), "dropped")
			if w.name == "post-100" {
				b.ReportMetric(snapshotWait(b, shadowMode), "snapshot-wait-µs")
			}
		})
	}
}

// benchClients send requests at the same time in each phase.
const benchClients = 4

// benchBackend is the original PHP server with one user holding 1,000
// items in history; without the original the benchmark is skipped, saying
// how to provide it: what shadowing costs a client is measured against
// the real PHP only.
func benchBackend(b *testing.B) (*backend, string) {
	be, eng := newOriginalBackend(b)
	user := addUser(b, eng, "benchuser")
	seedHistory(b, be, user)
	return be, user
}

// seedHistory writes 1,000 items of 300 bytes into the user's history,
// through the native engine.
func seedHistory(b *testing.B, be *backend, user string) {
	b.Helper()
	ctx := context.Background()
	u, err := be.eng.UserByName(ctx, user)
	if err != nil {
		b.Fatal(err)
	}
	var items []nstore.WBO
	for i := range 1000 {
		p := strings.Repeat("h", 300)
		si := int64(i)
		m := nstore.FromTime(time.Now())
		items = append(items, nstore.WBO{ID: fmt.Sprintf("h%04d", i), Payload: &p, SortIndex: &si, Modified: &m})
	}
	for chunk := range slices.Chunk(items, 100) {
		if _, err := be.eng.PutItems(ctx, u.ID, "history", chunk); err != nil {
			b.Fatal(err)
		}
	}
}

// load sends n requests from benchClients clients and returns their
// latencies; an answer but 200 fails the benchmark.
func load(b *testing.B, base, user string, n int, req func() (string, string, string)) []time.Duration {
	var mu sync.Mutex
	var out []time.Duration
	var wg sync.WaitGroup
	for c := range benchClients {
		cl := newClient(b, base, user)
		wg.Go(func() {
			for range n / benchClients {
				method, path, body := req()
				start := time.Now()
				a := cl.do(method, path, body)
				took := time.Since(start)
				if a.status != http.StatusOK {
					b.Errorf("client %d: %s %s: %d %.200s", c, method, path, a.status, a.body)
					return
				}
				mu.Lock()
				out = append(out, took)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// pct is the p-th percentile of ds.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// snapshotWait is the mean time a shadowed write waited for its dry
// run's snapshot (weaveproxy_shadow_dry_run_seconds), in µs: the shadow
// work left on the client's path.
func snapshotWait(b *testing.B, s *stack) float64 {
	mfs, err := s.reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() == "weaveproxy_shadow_dry_run_seconds" {
			for _, m := range mf.GetMetric() {
				sum += m.GetHistogram().GetSampleSum()
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return sum / float64(max(n, 1)) * 1e6
}

// dropped sums weaveproxy_shadow_dropped_total from the stack's registry.
func dropped(b *testing.B, s *stack) float64 {
	mfs, err := s.reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "weaveproxy_shadow_dropped_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

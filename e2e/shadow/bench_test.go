package shadow_test

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkShadowLatency measures what shadow mode costs the client, on
// the real stack (PHP fixture, MariaDB, native server on the same
// database). Two proxies share the backend: one with every route in
// legacy mode, one with every route in shadow mode. Each iteration of a
// shadow sub-benchmark sends the same kind of request through both, one
// after the other (alternating which goes first), so the ratio comes from
// one run under one load:
//
//	legacy        reads and writes through the legacy-mode proxy (reference)
//	shadow-read   GET info/collections: shadow vs legacy (native runs later, in a worker)
//	shadow-write  PUT an item: shadow vs legacy (the native dry run precedes legacy)
//
// Run with
//
//	go test -run '^$' -bench ShadowLatency -benchtime 300x ./e2e/shadow/
func BenchmarkShadowLatency(b *testing.B) {
	be := newBackend(b)
	legacyMode := newStack(b, be, stackOptions{routes: "default: legacy\n"})
	shadowMode := newStack(b, be, stackOptions{})
	viaLegacy := newClient(b, legacyMode.URL, "benchlegacy")
	viaShadow := newClient(b, shadowMode.URL, "benchshadow")
	viaLegacy.register()
	viaShadow.register()
	for _, c := range []*client{viaLegacy, viaShadow} {
		c.must("PUT", "/1.0/"+c.user+"/storage/bookmarks/seed", `{"payload": "seed", "sortindex": 1}`)
	}
	read := func(c *client) time.Duration {
		start := time.Now()
		c.must("GET", "/1.0/"+c.user+"/info/collections", "")
		return time.Since(start)
	}
	i := 0
	write := func(c *client) time.Duration {
		i++
		start := time.Now()
		c.must("PUT", fmt.Sprintf("/1.0/%s/storage/bookmarks/i%d", c.user, i%50),
			fmt.Sprintf(`{"payload": "item %d", "sortindex": %d}`, i, i%10))
		return time.Since(start)
	}

	b.Run("legacy", func(b *testing.B) {
		var r, w time.Duration
		n := 0
		for b.Loop() {
			r += read(viaLegacy)
			w += write(viaLegacy)
			n++
		}
		b.ReportMetric(perReq(r, n), "read-ns/req")
		b.ReportMetric(perReq(w, n), "write-ns/req")
	})
	b.Run("shadow-read", func(b *testing.B) { versus(b, shadowMode, read, viaLegacy, viaShadow) })
	b.Run("shadow-write", func(b *testing.B) { versus(b, shadowMode, write, viaLegacy, viaShadow) })
}

// versus times do through both proxies, alternating which goes first: the
// worker comparing the previous shadow pair competes for the CPU with
// whatever comes next.
func versus(b *testing.B, shadowMode *stack, do func(*client) time.Duration, viaLegacy, viaShadow *client) {
	var l, s time.Duration
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			l += do(viaLegacy)
			s += do(viaShadow)
		} else {
			s += do(viaShadow)
			l += do(viaLegacy)
		}
		n++
	}
	b.StopTimer()
	shadowMode.flush(b)
	b.ReportMetric(perReq(l, n), "legacy-ns/req")
	b.ReportMetric(perReq(s, n), "shadow-ns/req")
	b.ReportMetric(perReq(s, n)/perReq(l, n), "shadow/legacy")
	b.ReportMetric(dropped(b, shadowMode), "dropped")
}

func perReq(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(max(n, 1)) }

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

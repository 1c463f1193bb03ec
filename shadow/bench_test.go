package shadow

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkQueueOverload offers the comparison queue 1× and 10× what it
// holds while its only worker is stuck, and reports the heap the
// shadower retains with the queue full (retained-B, after a GC) and the
// share of pairs dropped. Bounded memory shows as retained-B staying put
// from 1× to 10×:
//
//	go test -run '^$' -bench QueueOverload -benchmem ./shadow/
func BenchmarkQueueOverload(b *testing.B) {
	const queueSize = 256
	answer := strings.Repeat("x", 16<<10) // a 16 KiB legacy answer
	for _, load := range []int{1, 10} {
		b.Run(fmt.Sprintf("%dx", load), func(b *testing.B) {
			r := newRig(b, "", Options{Workers: 1, QueueSize: queueSize})
			r.legacy = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(answer)) })
			n := load * queueSize
			var retained, queued int64
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				g := newGate()
				r.native = g.wrap(r.legacy)
				before := heapAfterGC()
				b.StartTimer()
				for range n {
					r.serve("GET", "/1.0/alice/info/collections", "")
				}
				b.StopTimer()
				retained = max(retained, heapAfterGC()-before)
				queued = max(queued, r.sh.q.bytes.Load())
				close(g.open)
				r.flush()
				b.StartTimer()
			}
			dropped := counter(r.sh.m.dropped, infoRoute, string(dropFull))
			b.ReportMetric(float64(retained), "retained-B")
			b.ReportMetric(float64(queued), "queued-B")
			b.ReportMetric(dropped/float64(b.N*n), "dropped/op")
		})
	}
}

func heapAfterGC() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

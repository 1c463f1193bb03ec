package shadow

import (
	"context"
	"math"
	"sync/atomic"
	"time"
)

// Shadow work yields to client work. On a machine whose cores PHP, the
// database and the proxy already keep busy, every cycle a comparison or a
// dry run spends (and the database work a dry run causes) is taken from
// the requests clients wait on: in the bench, shadowing at full coverage
// cut PHP's throughput by a fifth to a half. So shadow work only starts
// while the machine has CPU to spare: at least Options.MinIdle of its CPU
// time idle in the last sample. Otherwise the request goes to legacy
// alone, untouched, and a queued pair is dropped, both counted with
// reason "cpu_busy": coverage falls, visibly (weaveproxy_shadow_requests_
// total against weaveproxy_shadow_pairs_total, and the report), and
// clients keep their latency.
//
// Lowering the priority of the threads doing shadow work (nice 19) was
// tried first and measured worse: a Go thread the kernel leaves waiting
// holds a P and whatever runtime or sync lock it had, and every garbage
// collection's stop-the-world waits until it runs again; with the cores
// saturated that stalled client requests for up to 1.6 s (post1 p99 3.4×
// the forwarded one's, history 3.4×).

// reasonBusy is the skip and drop reason of shadow work not started for
// want of idle CPU.
const reasonBusy = "cpu_busy"

// idleSample is how often the idle share is measured.
const idleSample = 100 * time.Millisecond

// busy reports that the machine has too little idle CPU for shadow work.
func (s *Shadower) busy() bool {
	return s.opt.MinIdle > 0 && s.idle != nil && s.idle() < s.opt.MinIdle
}

// startIdleMeter measures the machine's idle CPU share every interval
// until ctx ends, and returns its latest value (1 until measured, and
// where the machine cannot tell).
func startIdleMeter(ctx context.Context, every time.Duration) func() float64 {
	var share atomic.Uint64
	share.Store(math.Float64bits(1))
	idle, total, err := cpuTimes()
	if err != nil {
		return func() float64 { return 1 }
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			i, n, err := cpuTimes()
			if err != nil || n <= total {
				continue
			}
			share.Store(math.Float64bits(float64(i-idle) / float64(n-total)))
			idle, total = i, n
		}
	}()
	return func() float64 { return math.Float64frombits(share.Load()) }
}

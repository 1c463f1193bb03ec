package shadow

import (
	"context"
	"sync"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/dryrun"
	"github.com/weaveproxy/weaveproxy/proxy"
)

// dryRuns bounds and tracks the writes' dry runs, which outlive the
// client's request.
type dryRuns struct {
	slots  chan struct{} // one per dry run in progress
	mu     sync.Mutex    // guards closed against wg.Add
	closed bool
	wg     sync.WaitGroup
}

// acquire takes a slot without waiting; false when all are taken or the
// shadower is closing.
func (d *dryRuns) acquire() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	select {
	case d.slots <- struct{}{}:
		d.wg.Add(1)
		return true
	default:
		return false
	}
}

func (d *dryRuns) release() {
	<-d.slots
	d.wg.Done()
}

// close refuses new dry runs and waits for those in progress.
func (d *dryRuns) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.wg.Wait()
}

// startDryRun starts a write's native dry run and returns once its
// snapshot is taken (or it ended before, or DryRunTimeout passed), so that
// legacy gets the write only after the state native answers from is
// fixed. The dry run goes on beside legacy and completes the job when it
// ends. A write that is not compared gets j.skip.
func (s *Shadower) startDryRun(call proxy.ShadowCall, j *job) {
	switch {
	case !call.Route.ShadowWrites:
		j.skip = "writes_off"
		return
	case call.NativeDryRun == nil:
		j.skip = "no_dry_run"
		return
	case !s.dry.acquire():
		j.skip = "dry_run_busy"
		return
	}

	// Not the client's context: the dry run outlives the request.
	ctx, cancel := context.WithTimeout(s.ctx, min(s.opt.NativeTimeout, s.opt.DryRunLifetime))
	gate := dryrun.NewGate()
	ended := make(chan struct{})
	j.parts.Add(1)
	s.q.hold() // Flush waits for the dry run
	go func() {
		defer s.dry.release()
		defer s.q.unhold()
		defer cancel()
		j.dry = run(call.NativeDryRun, j.req.request(gate.Bind(ctx)), s.opt.MaxCapture)
		if ctx.Err() != nil {
			// Cut short (its lifetime, or Close): its answer is the
			// cancellation's, not native's.
			j.drySkip = "dry_run_expired"
		}
		close(ended)
		s.finish(j)
	}()
	start := time.Now()
	timer := time.NewTimer(s.opt.DryRunTimeout)
	defer timer.Stop()
	select {
	case <-gate.Opened():
	case <-ended: // failed before its snapshot: compared as it answered
	case <-timer.C:
		// Legacy must not wait longer; a late snapshot might see the
		// write, so the pair is not compared.
		j.skip = "dry_run_timeout"
		cancel()
	}
	s.m.dryRun.WithLabelValues(j.route).Observe(time.Since(start).Seconds())
}

// finish marks one part of j done; the last one queues it.
func (s *Shadower) finish(j *job) {
	if j.parts.Add(-1) == 0 {
		s.enqueue(j)
	}
}

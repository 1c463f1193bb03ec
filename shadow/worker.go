package shadow

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
)

// job is one shadowed request on its way to comparison. It holds no
// reference to the client's request or connection.
type job struct {
	route string
	user  string
	conf  *routeConf
	req   *captured
	at    time.Time
	write bool

	legacy *answer
	// dry is a write's native answer from the dry run, nil for reads.
	dry *answer
	// native is the handler a read runs on, from the worker.
	native http.Handler
	// repeat: the worker also sends the read to legacy again.
	repeat bool
	// clock and quiet: the user's write clock when the read started.
	clock uint64
	quiet bool

	skip string // set on the request path: not compared, for this reason
	// drySkip is set by the dry run's goroutine: not compared, for this
	// reason (apart from skip, which the request path may set meanwhile).
	drySkip string
	size    int64     // bytes held while queued
	queued  time.Time // when it was offered to the queue

	// parts counts what is still to come before the job can be queued:
	// legacy's answer, and a write's dry run, which may end later.
	parts atomic.Int32
}

func (s *Shadower) worker() {
	defer s.wg.Done()
	for j := range s.q.ch {
		switch {
		case time.Since(j.queued) > s.opt.MaxQueueWait:
			s.drop(j.route, string(dropOld))
		case s.busy():
			s.drop(j.route, reasonBusy)
		default:
			s.process(j)
		}
		s.q.done(j)
	}
}

func (s *Shadower) process(j *job) {
	p := diff.Pair{Route: j.route, Request: j.req.exchange(), Legacy: j.legacy.diff(),
		DryRun: j.write, At: j.at}
	if j.write {
		p.Native = j.dry.diff()
	} else if !s.runRead(j, &p) {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.StoreTimeout)
	defer cancel()
	out, err := j.conf.rec.Observe(ctx, p)
	if err != nil {
		s.m.errors.WithLabelValues("store").Inc()
		s.log.Warn("shadow: storing a pair failed", "route", j.route, "err", err)
		return
	}
	s.m.pairs.WithLabelValues(j.route, string(out.Class)).Inc()
}

// runRead runs a read natively (and on legacy again when asked) and fills
// in p; false means the pair is not to be compared.
func (s *Shadower) runRead(j *job, p *diff.Pair) bool {
	if !j.quiet {
		s.skip(j.route, "stale")
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.NativeTimeout)
	defer cancel()
	nat := run(j.native, j.req.request(ctx), s.opt.MaxCapture)
	var again *answer
	if j.repeat {
		again = run(s.opt.Repeat, j.req.request(ctx), s.opt.MaxCapture)
		s.m.repeated.Inc()
	}
	switch {
	case !s.clock.unchanged(j.user, j.clock):
		s.skip(j.route, "stale")
		return false
	case late(j.conf.tolerance, time.Since(j.at)):
		// X-Weave-Timestamp is the time of the answer: native's, read
		// this much later than legacy's, would differ by the wait alone.
		s.skip(j.route, "too_late")
		return false
	case ctx.Err() != nil:
		s.skip(j.route, "native_timeout")
		return false
	case nat.truncated:
		s.skip(j.route, "answer_too_large")
		return false
	}
	p.Native = nat.diff()
	if again != nil && usableRepeat(j.legacy, again) {
		a := again.diff()
		p.Legacy2 = &a
	}
	return true
}

// late: a read whose native run ended lag after legacy got the request
// is not compared when lag is past the route's timestamp tolerance: the
// two X-Weave-Timestamps may then differ by more than it for the wait
// alone.
func late(tolerance, lag time.Duration) bool {
	return tolerance >= 0 && lag > tolerance
}

// usableRepeat: a repeat that failed where the first answer did not
// (legacy briefly down, breaker open) says nothing about which fields
// legacy repeats, and would teach that everything is noise.
func usableRepeat(first, again *answer) bool {
	if again.err != nil || again.truncated {
		return false
	}
	return first.status >= 500 || again.status < 500
}

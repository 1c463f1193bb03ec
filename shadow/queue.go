package shadow

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// queue hands jobs from the request path to the workers. Offer never
// blocks: a job that does not fit (too many jobs, or too many bytes held)
// is refused and the caller counts it as dropped. Holding bytes, not just
// jobs, bounded is what keeps memory bounded under overload: one job may
// carry a 1 MiB batch and its two answers.
type queue struct {
	ch       chan *job
	maxBytes int64
	bytes    atomic.Int64

	mu      sync.Mutex // guards closed against offer's send, and pending
	closed  bool
	pending int             // jobs offered and not yet finished
	idle    []chan struct{} // closed when pending drops to 0
}

// dropReason says why Offer refused a job.
type dropReason string

const (
	dropNone   dropReason = ""
	dropFull   dropReason = "queue_full"
	dropBytes  dropReason = "queue_bytes"
	dropClosed dropReason = "closed"
	// dropOld: the pair waited longer than Options.MaxQueueWait for a
	// worker (the machine is too busy to compare all it shadows).
	dropOld dropReason = "too_old"
)

func newQueue(size int, maxBytes int64) *queue {
	return &queue{ch: make(chan *job, size), maxBytes: maxBytes}
}

func (q *queue) offer(j *job) dropReason {
	if q.bytes.Add(j.size) > q.maxBytes {
		q.bytes.Add(-j.size)
		return dropBytes
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.bytes.Add(-j.size)
		return dropClosed
	}
	select {
	case q.ch <- j:
		q.pending++
		return dropNone
	default:
		q.bytes.Add(-j.size)
		return dropFull
	}
}

// done releases a job taken from the channel.
func (q *queue) done(j *job) {
	q.bytes.Add(-j.size)
	q.unhold()
}

// hold counts a job that is not offered yet (a write whose dry run is
// still going) as pending, so that wait waits for it too; unhold ends
// that, after the job was offered (or dropped).
func (q *queue) hold() {
	q.mu.Lock()
	q.pending++
	q.mu.Unlock()
}

func (q *queue) unhold() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending--; q.pending == 0 {
		for _, c := range q.idle {
			close(c)
		}
		q.idle = nil
	}
}

// length is the number of jobs offered and not yet finished.
func (q *queue) length() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// close stops offers; the workers drain what is queued and exit.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

// wait returns once every job offered so far is finished, or ctx ends.
func (q *queue) wait(ctx context.Context) error {
	q.mu.Lock()
	if q.pending == 0 {
		q.mu.Unlock()
		return nil
	}
	idle := make(chan struct{})
	q.idle = append(q.idle, idle)
	q.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeClock tells whether a user's state may have changed while a read
// was being compared: each write the shadower sees bumps the user's count
// when it starts, and is in flight until legacy answered it. Counts live
// in a fixed array of stripes, so the clock never grows; two users sharing
// a stripe only make a read pair be skipped needlessly, never compared
// against the wrong state.
type writeClock struct {
	seed     maphash.Seed
	started  [4096]atomic.Uint64
	inFlight [4096]atomic.Int64
}

func newWriteClock() *writeClock { return &writeClock{seed: maphash.MakeSeed()} }

func (c *writeClock) index(user string) uint64 {
	return maphash.String(c.seed, user) % uint64(len(c.started))
}

func (c *writeClock) begin(user string) {
	i := c.index(user)
	c.started[i].Add(1)
	c.inFlight[i].Add(1)
}

func (c *writeClock) end(user string) { c.inFlight[c.index(user)].Add(-1) }

// now is the user's clock when a read starts; quiet is false when a write
// is in flight at that moment (the read may see it half done).
func (c *writeClock) now(user string) (count uint64, quiet bool) {
	i := c.index(user)
	return c.started[i].Load(), c.inFlight[i].Load() == 0
}

// unchanged reports whether no write started since now gave count and
// none is in flight.
func (c *writeClock) unchanged(user string, count uint64) bool {
	i := c.index(user)
	return c.started[i].Load() == count && c.inFlight[i].Load() == 0
}

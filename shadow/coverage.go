package shadow

import (
	"context"
	"sync"
	"time"

	"github.com/weaveproxy/weaveproxy/diff/store"
)

// coverage gathers the requests shadowed and not compared, by route and
// reason, for the diff store, where the report shows each route's
// coverage (store.AddUncompared). They are written every
// coverageInterval, on Flush and on Close: never once per request, since
// they are most numerous when the machine is busiest.
type coverage struct {
	mu     sync.Mutex
	counts map[store.Uncompared]int64
}

const coverageInterval = 5 * time.Second

func (c *coverage) add(route, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(store.Uncompared{Route: route, Reason: reason}, 1)
}

// putBack returns counts take gave out and the store did not take.
func (c *coverage) putBack(counts map[store.Uncompared]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range counts {
		c.addLocked(k, n)
	}
}

func (c *coverage) addLocked(k store.Uncompared, n int64) {
	if c.counts == nil {
		c.counts = map[store.Uncompared]int64{}
	}
	c.counts[k] += n
}

// take returns the counts gathered and starts again.
func (c *coverage) take() map[store.Uncompared]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = nil
	return out
}

// skip counts a request not compared, decided on the request path or in
// a worker.
func (s *Shadower) skip(route, reason string) {
	s.m.skipped.WithLabelValues(route, reason).Inc()
	s.cov.add(route, reason)
}

// drop counts a pair dropped uncompared on its way to or in the queue.
func (s *Shadower) drop(route, reason string) {
	s.m.dropped.WithLabelValues(route, reason).Inc()
	s.cov.add(route, reason)
}

// writeCoverage stores the counts gathered so far; a failure keeps them
// for the next try.
func (s *Shadower) writeCoverage(ctx context.Context) {
	counts := s.cov.take()
	if len(counts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.StoreTimeout)
	defer cancel()
	if err := s.opt.Store.AddUncompared(ctx, counts); err != nil {
		s.m.errors.WithLabelValues("store").Inc()
		s.log.Warn("shadow: storing coverage failed", "err", err)
		s.cov.putBack(counts)
	}
}

// coverageWriter writes the coverage counts now and then until the
// shadower stops.
func (s *Shadower) coverageWriter(stop <-chan struct{}) {
	t := time.NewTicker(coverageInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.writeCoverage(context.Background())
		}
	}
}

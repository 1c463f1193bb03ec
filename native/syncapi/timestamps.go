package syncapi

import (
	"context"
	"sync"

	"weaveproxy/native/store"
)

// writers serialises the writes of each user within this process and
// remembers the last timestamp each user was issued.
//
// Clients sync with newer=<last timestamp they saw>, so a write must never
// become visible with a modified at or below one a reader could already
// have seen. Taking the time, reading the collection's maximum, issuing a
// strictly greater timestamp and committing all happen under the user's
// lock: within one process, commit order is timestamp order. Across
// processes (another instance, the legacy PHP server) the collection
// maximum read under the lock still keeps timestamps strictly increasing
// per collection, as far as the database shows them.
//
// The map is bounded: beyond max users an idle entry is dropped (any one;
// a dropped user only loses the in-memory floor, the collection maximum
// still applies).
type writers struct {
	mu    sync.Mutex
	users map[int64]*writer
	max   int
}

type writer struct {
	// sem is the user's write lock, a channel so that waiting gives up
	// with the request's context.
	sem  chan struct{}
	last store.Timestamp // guarded by sem
	refs int             // guarded by writers.mu
}

func newWriters(max int) *writers {
	return &writers{users: map[int64]*writer{}, max: max}
}

// lock takes userID's write lock. The returned function releases it.
func (ws *writers) lock(ctx context.Context, userID int64) (*writer, func(), error) {
	ws.mu.Lock()
	w := ws.users[userID]
	if w == nil {
		if len(ws.users) >= ws.max {
			ws.evictIdle()
		}
		w = &writer{sem: make(chan struct{}, 1)}
		ws.users[userID] = w
	}
	w.refs++
	ws.mu.Unlock()
	select {
	case w.sem <- struct{}{}:
		return w, func() { <-w.sem; ws.unref(w) }, nil
	case <-ctx.Done():
		ws.unref(w)
		return nil, nil, ctx.Err()
	}
}

func (ws *writers) unref(w *writer) {
	ws.mu.Lock()
	w.refs--
	ws.mu.Unlock()
}

// evictIdle drops one entry nobody holds or waits for. Map iteration
// order makes the choice arbitrary, which is all a bound needs.
func (ws *writers) evictIdle() {
	for id, w := range ws.users {
		if w.refs == 0 {
			delete(ws.users, id)
			return
		}
	}
}

// issue returns the timestamp of a write made at now into a collection
// whose highest modified is collMax (hasMax false: no rows): now, or one
// hundredth above whichever of the user's last write and collMax is not
// below it. The caller holds w's lock.
func (w *writer) issue(now, collMax store.Timestamp, hasMax bool) store.Timestamp {
	ts := now
	if ts <= w.last {
		ts = w.last + 1
	}
	if hasMax && ts <= collMax {
		ts = collMax + 1
	}
	w.last = ts
	return ts
}

package storageapi

import (
	"sync"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// issuedCapacity bounds the per-user memory of write timestamps: beyond
// it the oldest generation is forgotten, which only loses the guarantee
// for users idle that long (CollectionMax still protects each collection).
const issuedCapacity = 1 << 16

// issuedStamps remembers the last timestamp given to each user's writes,
// in two generations: lookups see both, inserts go to the current one, and
// when it is full the previous generation is dropped. Memory stays below
// twice the capacity without any per-entry bookkeeping.
type issuedStamps struct {
	mu        sync.Mutex
	cur, prev map[int64]store.Timestamp
	capacity  int
}

func newIssuedStamps(capacity int) *issuedStamps {
	return &issuedStamps{cur: map[int64]store.Timestamp{}, capacity: capacity}
}

// reserve returns the timestamp for a write of user at server time now:
// now, raised to just above the user's previous write and above floor (the
// collection's highest modified), so that no two writes of a user share a
// timestamp and a write never sorts before what it replaces.
func (s *issuedStamps) reserve(user int64, now, floor store.Timestamp) store.Timestamp {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.cur[user]
	if !ok {
		last, ok = s.prev[user]
	}
	ts := now
	if ok && ts <= last {
		ts = last + 1
	}
	if ts <= floor {
		ts = floor + 1
	}
	if len(s.cur) >= s.capacity {
		if _, in := s.cur[user]; !in {
			s.prev, s.cur = s.cur, make(map[int64]store.Timestamp, s.capacity)
		}
	}
	s.cur[user] = ts
	return ts
}

// writeLocks serialise the writes of one user within a handler, from the
// moment a write's timestamp is reserved until it is committed. Without
// them two concurrent writes could commit out of timestamp order, and a
// client that synced with newer= between the two commits would never see
// the earlier one. Striped by user id: bounded memory, and writes of
// different users rarely wait for each other.
type writeLocks [64]sync.Mutex

func (l *writeLocks) lock(user int64) func() {
	m := &l[uint64(user)%uint64(len(l))]
	m.Lock()
	return m.Unlock
}

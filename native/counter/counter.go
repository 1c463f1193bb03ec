// Package counter holds the small expiring integers that lockout and rate
// limiting keep: in memcache, so that every proxy instance sees the same
// numbers, or in process memory when no memcache is configured.
package counter

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Store is a map of expiring int64 counters. Implementations are safe for
// concurrent use. Errors mean the store could not be asked (memcached down
// or slow); callers decide whether to fail open.
type Store interface {
	// Incr adds one to key and returns the new value. A missing or expired
	// key starts at 1 and expires window later; incrementing an existing
	// key does not move its expiry (a fixed window, as memcached's incr).
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	// Get returns key's value; ok is false when it is missing or expired.
	Get(ctx context.Context, key string) (value int64, ok bool, err error)
	// Set stores value under key for ttl (ttl <= 0: no expiry).
	Set(ctx context.Context, key string, value int64, ttl time.Duration) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// DefaultMaxEntries bounds a Memory store: beyond it, expired entries are
// swept and then the soonest-expiring ones evicted, so a flood of distinct
// keys (one per guessed user name) cannot grow the process without end.
const DefaultMaxEntries = 100_000

// sweepEvery is how many writes pass between sweeps of expired entries.
const sweepEvery = 1024

// Memory is a Store in process memory: each instance counts alone.
type Memory struct {
	now        func() time.Time
	maxEntries int

	mu     sync.Mutex
	m      map[string]entry
	writes int
}

type entry struct {
	value   int64
	expires time.Time // zero: never
}

func (e entry) live(now time.Time) bool {
	return e.expires.IsZero() || now.Before(e.expires)
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store on the wall clock.
func NewMemory() *Memory { return NewMemoryWith(time.Now, DefaultMaxEntries) }

// NewMemoryWith returns an in-memory store on clock now holding at most
// maxEntries keys (<= 0: DefaultMaxEntries).
func NewMemoryWith(now func() time.Time, maxEntries int) *Memory {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Memory{now: now, maxEntries: maxEntries, m: map[string]entry{}}
}

// Incr implements Store.
func (s *Memory) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || !e.live(now) {
		e = entry{expires: expiry(now, window)}
	}
	e.value++
	s.put(key, e, now)
	return e.value, nil
}

// Get implements Store.
func (s *Memory) Get(ctx context.Context, key string) (int64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || !e.live(now) {
		return 0, false, nil
	}
	return e.value, true, nil
}

// Set implements Store.
func (s *Memory) Set(ctx context.Context, key string, value int64, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(key, entry{value: value, expires: expiry(now, ttl)}, now)
	return nil
}

// Delete implements Store.
func (s *Memory) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
	return nil
}

// Len is the number of entries held, expired ones not yet swept included.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func expiry(now time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return now.Add(d)
}

// put stores e under key, sweeping now and then; the caller holds mu.
func (s *Memory) put(key string, e entry, now time.Time) {
	s.m[key] = e
	s.writes++
	if s.writes%sweepEvery == 0 || len(s.m) > s.maxEntries {
		s.sweep(now)
	}
}

// sweep drops expired entries and, if still over the bound, evicts the
// entries closest to expiring (never-expiring ones last) down to 90% of it.
func (s *Memory) sweep(now time.Time) {
	for k, e := range s.m {
		if !e.live(now) {
			delete(s.m, k)
		}
	}
	if len(s.m) <= s.maxEntries {
		return
	}
	type kv struct {
		k string
		e entry
	}
	all := make([]kv, 0, len(s.m))
	for k, e := range s.m {
		all = append(all, kv{k, e})
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].e.expires, all[j].e.expires
		if a.IsZero() != b.IsZero() {
			return b.IsZero()
		}
		return a.Before(b)
	})
	for _, x := range all[:len(all)-s.maxEntries*9/10] {
		delete(s.m, x.k)
	}
}

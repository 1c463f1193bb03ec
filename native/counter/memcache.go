package counter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// DefaultMemcacheTimeout is the socket timeout NewMemcacheClient sets:
// counters sit in every request's path, so a sick memcached must cost
// little before the caller fails open.
const DefaultMemcacheTimeout = 100 * time.Millisecond

// NewMemcacheClient returns a gomemcache client on servers with the short
// DefaultMemcacheTimeout and enough idle connections for a busy proxy.
func NewMemcacheClient(servers ...string) *memcache.Client {
	c := memcache.New(servers...)
	c.Timeout = DefaultMemcacheTimeout
	c.MaxIdleConns = 16
	return c
}

// Memcache is a Store in memcached, shared by every instance that uses the
// same servers. Its timeouts are the client's (see NewMemcacheClient).
type Memcache struct {
	c *memcache.Client
}

var _ Store = (*Memcache)(nil)

// NewMemcache returns a Store over c.
func NewMemcache(c *memcache.Client) *Memcache { return &Memcache{c: c} }

// maxRelativeExpiry: memcached reads larger expiry values as absolute Unix
// times.
const maxRelativeExpiry = 30 * 24 * time.Hour

// expirySeconds converts d to memcached's expiration field: whole seconds
// rounded up (at least 1, since 0 means never), or an absolute Unix time
// beyond 30 days.
func expirySeconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	if d > maxRelativeExpiry {
		return int32(time.Now().Add(d).Unix())
	}
	return int32((d + time.Second - 1) / time.Second)
}

// mcKey returns key if memcached accepts it (≤ 250 bytes, no spaces or
// control characters); otherwise a hash of it, so user-supplied parts
// (a user name, an address) can never be refused or split a command.
func mcKey(key string) string {
	ok := len(key) > 0 && len(key) <= 250
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] > ' ' && key[i] != 0x7f
	}
	if ok {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "h:" + hex.EncodeToString(sum[:])
}

// Incr implements Store: Add the first value with the window as expiry,
// else Increment, so every instance agrees on one count per window. If
// the key expires between the two calls, Add is tried again.
func (s *Memcache) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	k := mcKey(key)
	for attempt := 0; attempt < 3; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		err := s.c.Add(&memcache.Item{Key: k, Value: []byte("1"), Expiration: expirySeconds(window)})
		if err == nil {
			return 1, nil
		}
		if !errors.Is(err, memcache.ErrNotStored) {
			return 0, fmt.Errorf("counter: memcache add %s: %w", k, err)
		}
		n, err := s.c.Increment(k, 1)
		if err == nil {
			return int64(n), nil
		}
		if !errors.Is(err, memcache.ErrCacheMiss) {
			return 0, fmt.Errorf("counter: memcache incr %s: %w", k, err)
		}
	}
	return 0, fmt.Errorf("counter: memcache incr %s: key keeps vanishing", k)
}

// Get implements Store.
func (s *Memcache) Get(ctx context.Context, key string) (int64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	k := mcKey(key)
	it, err := s.c.Get(k)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("counter: memcache get %s: %w", k, err)
	}
	v, err := strconv.ParseInt(string(trimSpace(it.Value)), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("counter: memcache %s holds %q: %w", k, it.Value, err)
	}
	return v, true, nil
}

// trimSpace drops the padding memcached may leave after incr shrinks a
// value's digits in place ("10" decremented to "9 ").
func trimSpace(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// Set implements Store.
func (s *Memcache) Set(ctx context.Context, key string, value int64, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := mcKey(key)
	err := s.c.Set(&memcache.Item{Key: k, Value: []byte(strconv.FormatInt(value, 10)), Expiration: expirySeconds(ttl)})
	if err != nil {
		return fmt.Errorf("counter: memcache set %s: %w", k, err)
	}
	return nil
}

// Delete implements Store.
func (s *Memcache) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := mcKey(key)
	if err := s.c.Delete(k); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return fmt.Errorf("counter: memcache delete %s: %w", k, err)
	}
	return nil
}

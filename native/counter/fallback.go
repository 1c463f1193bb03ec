package counter

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultBackoff is how long a Fallback counts in process memory after
// its shared store failed, before it asks the shared store again: the
// same second the storage cache backs off for.
const DefaultBackoff = time.Second

// FallbackConfig configures a Fallback.
type FallbackConfig struct {
	// Backoff after a failure of the shared store (default DefaultBackoff).
	Backoff time.Duration
	// Logger hears once when the shared store goes away and once when it
	// comes back, never per request; nil discards.
	Logger *slog.Logger
	// OnError hears every failed operation of the shared store (metrics);
	// nil ignores them.
	OnError func(op string, err error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Fallback is a Store that counts in a shared store (memcache) and, while
// that fails, in process memory, so that lockout and rate budgets keep
// refusing instead of failing open. After a failure it leaves the shared
// store alone for Backoff: a memcached that accepts connections and never
// answers costs one timeout per back-off period, not one per request.
//
// Counts made in memory during an outage stay in memory: a lock set then
// is still seen afterwards (Get consults both), but failures counted on
// one instance are not shared with the others until the store is back.
type Fallback struct {
	shared Store
	local  *Memory
	cfg    FallbackConfig

	mu        sync.Mutex
	downUntil time.Time
	down      bool // logged as down; cleared (and logged) at the next success
}

var _ Store = (*Fallback)(nil)

// NewFallback returns a Store over shared with an in-memory fallback.
func NewFallback(shared Store, cfg FallbackConfig) *Fallback {
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Fallback{shared: shared, local: NewMemoryWith(cfg.Now, 0), cfg: cfg}
}

// Shared reports whether the shared store is in use (not backing off).
func (f *Fallback) Shared() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.cfg.Now().Before(f.downUntil)
}

// result records the outcome of one shared-store operation and reports
// whether it succeeded.
func (f *Fallback) result(ctx context.Context, op string, err error) bool {
	if err != nil && ctx.Err() != nil {
		return false // the caller gave up; not the store's fault
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		if f.down {
			f.down = false
			f.cfg.Logger.Info("counters: memcache answers again; lockout and rate counters are shared again")
		}
		return true
	}
	if f.cfg.OnError != nil {
		f.cfg.OnError(op, err)
	}
	f.downUntil = f.cfg.Now().Add(f.cfg.Backoff)
	if !f.down {
		f.down = true
		f.cfg.Logger.Warn("counters: memcache failed; lockout and rate counters kept in this process until it answers",
			"op", op, "err", err, "retry_every", f.cfg.Backoff)
	}
	return false
}

// Incr implements Store.
func (f *Fallback) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	if f.Shared() {
		n, err := f.shared.Incr(ctx, key, window)
		if f.result(ctx, "incr", err) {
			return n, nil
		}
	}
	return f.local.Incr(ctx, key, window)
}

// Get implements Store. A value the shared store lacks may have been set
// in memory during an outage (a lock), so memory is asked too.
func (f *Fallback) Get(ctx context.Context, key string) (int64, bool, error) {
	if f.Shared() {
		v, ok, err := f.shared.Get(ctx, key)
		if f.result(ctx, "get", err) && ok {
			return v, ok, nil
		}
	}
	return f.local.Get(ctx, key)
}

// Set implements Store.
func (f *Fallback) Set(ctx context.Context, key string, value int64, ttl time.Duration) error {
	if f.Shared() {
		err := f.shared.Set(ctx, key, value, ttl)
		if f.result(ctx, "set", err) {
			return nil
		}
	}
	return f.local.Set(ctx, key, value, ttl)
}

// Delete implements Store: from both, so an unlock also lifts a lock set
// during an outage. It fails when the shared store was asked and failed
// (an admin's unlock must not claim success then); during a back-off the
// shared copy is left alone.
func (f *Fallback) Delete(ctx context.Context, key string) error {
	if err := f.local.Delete(ctx, key); err != nil {
		return err
	}
	if !f.Shared() {
		return nil
	}
	err := f.shared.Delete(ctx, key)
	f.result(ctx, "delete", err)
	return err
}

// Package lockout locks an account after repeated authentication failures
// (shared/spec/security.md §1). It wraps any auth.Authenticator; the
// counters live in a counter.Store, memcache when several instances must
// agree.
package lockout

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/counter"
	"github.com/weaveproxy/weaveproxy/native/store"
)

// Config holds the lockout policy. Zero fields take the spec's defaults.
type Config struct {
	// MaxFailures failed logins within Window lock the account (default
	// 10). A negative value turns lockout off.
	MaxFailures int64
	// Window is how long a failure counts (default 10 minutes). The window
	// is fixed from the first failure, as memcached's expiry is.
	Window time.Duration
	// Lockout is how long a lock lasts (default 30 minutes).
	Lockout time.Duration
	// OnStoreError hears about counter store failures, after which the
	// request is authenticated normally (fail open); nil logs them.
	OnStoreError func(error)
	// OnRefused hears about every request refused because its account is
	// locked (the /metrics counter of lockout refusals); nil: nobody.
	OnRefused func()
}

// Defaults from security.md §1.
const (
	DefaultMaxFailures = 10
	DefaultWindow      = 10 * time.Minute
	DefaultLockout     = 30 * time.Minute
)

// Authenticator is an auth.Authenticator that refuses locked accounts
// before asking the inner one, and counts the inner one's failures.
type Authenticator struct {
	inner    auth.Authenticator
	counters counter.Store
	cfg      Config
	events   cef.Sink
	now      func() time.Time
}

var _ auth.Authenticator = (*Authenticator)(nil)

// New wraps inner. events may be nil (no CEF), now nil (time.Now).
func New(inner auth.Authenticator, counters counter.Store, cfg Config, events cef.Sink, now func() time.Time) *Authenticator {
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = DefaultLockout
	}
	if cfg.OnStoreError == nil {
		cfg.OnStoreError = func(err error) { log.Printf("lockout: failing open: %v", err) }
	}
	if events == nil {
		events = cef.Discard{}
	}
	if now == nil {
		now = time.Now
	}
	return &Authenticator{inner: inner, counters: counters, cfg: cfg, events: events, now: now}
}

// Key is the name counters are kept under for a user as written in a
// path or given to the admin command: the stored form (lower-cased, e-mail
// addresses mapped to their derived name), or the lower-cased input when
// it is not a valid name at all, so that every spelling of one account
// shares one counter.
func Key(user string) string { return weaveurl.UserKey(user) }

func failuresKey(name string) string { return "lockout:" + name }
func lockedKey(name string) string   { return "locked:" + name }

// Authenticate implements auth.Authenticator. A request without an
// Authorization header goes straight to inner: it tries no password, so it
// neither counts nor needs refusing.
func (a *Authenticator) Authenticate(r *http.Request, pathUser string) (store.User, error) {
	if a.cfg.MaxFailures < 0 || r.Header.Get("Authorization") == "" {
		return a.inner.Authenticate(r, pathUser)
	}
	ctx := r.Context()
	name := Key(pathUser)
	if left := a.lockedFor(ctx, name); left > 0 {
		// The password is not checked: a locked account is no oracle.
		a.refused()
		return store.User{}, &auth.LockedError{RetryAfter: left}
	}
	u, err := a.inner.Authenticate(r, pathUser)
	switch {
	case err == nil:
		// A success before the threshold starts the count afresh.
		if derr := a.counters.Delete(ctx, failuresKey(name)); derr != nil {
			a.cfg.OnStoreError(derr)
		}
	case errors.Is(err, auth.ErrBadCredentials):
		if lerr := a.fail(r, name); lerr != nil {
			a.refused()
			return store.User{}, lerr
		}
	}
	return u, err
}

func (a *Authenticator) refused() {
	if a.cfg.OnRefused != nil {
		a.cfg.OnRefused()
	}
}

// lockedFor is the time left on name's lock, 0 when not locked or when
// the store cannot say.
func (a *Authenticator) lockedFor(ctx context.Context, name string) time.Duration {
	until, ok, err := a.counters.Get(ctx, lockedKey(name))
	if err != nil {
		a.cfg.OnStoreError(err)
		return 0
	}
	if !ok {
		return 0
	}
	return time.UnixMilli(until).Sub(a.now())
}

// fail counts one failure and locks the account when it reaches the
// threshold, returning the LockedError to answer with then.
func (a *Authenticator) fail(r *http.Request, name string) error {
	ctx := r.Context()
	n, err := a.counters.Incr(ctx, failuresKey(name), a.cfg.Window)
	if err != nil {
		a.cfg.OnStoreError(err)
		return nil
	}
	if n < a.cfg.MaxFailures {
		return nil
	}
	until := a.now().Add(a.cfg.Lockout)
	if err := a.counters.Set(ctx, lockedKey(name), until.UnixMilli(), a.cfg.Lockout); err != nil {
		a.cfg.OnStoreError(err)
		return nil
	}
	// Once the lock ends, the account starts with a clean count.
	if err := a.counters.Delete(ctx, failuresKey(name)); err != nil {
		a.cfg.OnStoreError(err)
	}
	a.events.Emit(r, cef.AccountLocked(name, n, until))
	return &auth.LockedError{RetryAfter: a.cfg.Lockout}
}

// Unlock lifts user's lock and clears its failure count (the admin
// command). It is logged as a CEF AccountUnlocked event with no request.
func (a *Authenticator) Unlock(ctx context.Context, user string) error {
	name := Key(user)
	err := errors.Join(a.counters.Delete(ctx, lockedKey(name)), a.counters.Delete(ctx, failuresKey(name)))
	if err != nil {
		return fmt.Errorf("lockout: unlocking %q: %w", name, err)
	}
	a.events.Emit(nil, cef.AccountUnlocked(name))
	return nil
}

// Status reports user's current failure count and the time left on its
// lock (0 when not locked), for the admin command.
func (a *Authenticator) Status(ctx context.Context, user string) (failures int64, locked time.Duration, err error) {
	name := Key(user)
	failures, _, err = a.counters.Get(ctx, failuresKey(name))
	if err != nil {
		return 0, 0, fmt.Errorf("lockout: status of %q: %w", name, err)
	}
	until, ok, err := a.counters.Get(ctx, lockedKey(name))
	if err != nil {
		return 0, 0, fmt.Errorf("lockout: status of %q: %w", name, err)
	}
	if ok {
		locked = max(time.UnixMilli(until).Sub(a.now()), 0)
	}
	return failures, locked, nil
}

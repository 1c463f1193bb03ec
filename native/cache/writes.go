package cache

import (
	"context"
	"errors"
	"fmt"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// PutItems writes through the inner engine (or to memcache alone for tabs
// in that mode), then invalidates the user's entries and PHP's coll: key.
func (e *Engine) PutItems(ctx context.Context, userID int64, collection string, items []store.WBO) ([]*store.Timestamp, error) {
	if collection == tabsName && e.tabsOnly() {
		olds, err := e.putTabs(ctx, userID, items)
		if err == nil {
			e.dropPHP(userID)
		}
		return olds, err
	}
	// The timestamps are read while the database writes: reading them
	// after the commit is as safe (see afterWrite) and saves a round trip.
	type fetched struct {
		s  snap
		ok bool
	}
	preCh := make(chan fetched, 1)
	go func() {
		s, ok := e.fetch(userID, nStamps)
		preCh <- fetched{s, ok}
	}()
	olds, err := e.inner.PutItems(ctx, userID, collection, items)
	pre := <-preCh
	if err != nil {
		// The outcome of a failed commit is not always known: invalidate.
		e.afterWrite(userID, snap{}, false, nil)
		return nil, err
	}
	e.afterWrite(userID, pre.s, pre.ok, func(m map[string]store.Timestamp) bool {
		// Only a write that does not go back in time gives a MAX() known
		// without the database: an older modified may replace the row
		// that held the maximum, and a NULL one is not counted at all.
		for _, it := range items {
			if it.Modified == nil {
				return false
			}
			if cur, ok := m[collection]; ok && *it.Modified < cur {
				return false
			}
			m[collection] = *it.Modified
		}
		return true
	})
	return olds, nil
}

// DeleteItems deletes through the inner engine (or in memcache for tabs in
// that mode), then invalidates.
func (e *Engine) DeleteItems(ctx context.Context, userID int64, collection string, q store.Query) (int64, error) {
	if collection == tabsName && e.tabsOnly() {
		n, err := e.deleteTabs(ctx, userID, q)
		if err == nil {
			e.dropPHP(userID)
		}
		return n, err
	}
	n, err := e.inner.DeleteItems(ctx, userID, collection, q)
	e.afterWrite(userID, snap{}, false, nil)
	return n, err
}

// DeleteStorage removes everything of the user, memcache-only tabs first
// (so that a failure there leaves the account whole rather than the tabs
// alone surviving), then flushes the user's keys.
func (e *Engine) DeleteStorage(ctx context.Context, userID int64) error {
	return e.wipe(userID, func() error { return e.inner.DeleteStorage(ctx, userID) })
}

// DeleteUser removes the account and everything of it, as DeleteStorage.
func (e *Engine) DeleteUser(ctx context.Context, userID int64) error {
	return e.wipe(userID, func() error { return e.inner.DeleteUser(ctx, userID) })
}

func (e *Engine) wipe(userID int64, inner func() error) error {
	if e.tabsOnly() {
		if err := e.dropTabs(userID); err != nil {
			return err
		}
	}
	err := inner()
	e.afterWrite(userID, snap{}, false, nil)
	e.dropDerived(userID)
	return err
}

// afterWrite runs after every database write, committed or failed: it
// moves the user's generation on, which voids every entry built before,
// and drops PHP's coll: key. When the increment cannot be made the debt
// is recorded for the healer.
//
// With stamps set and pre holding timestamps valid at generation G, they
// are updated in place when the increment returns exactly G+1. pre may
// have been read before or after the commit: if a reader rebuilt it after
// the commit it already holds this write, and applying a write's
// timestamps twice changes nothing. Any other write that pre misses
// either incremented before this one (the increment is then not G+1) or
// will increment after it and void the entry stored here.
func (e *Engine) afterWrite(userID int64, pre snap, preOK bool, stamps func(map[string]store.Timestamp) bool) {
	if e.dry != nil {
		return
	}
	if e.after != nil {
		*e.after = append(*e.after, func() { e.afterWriteNow(userID, pre, preOK, stamps) })
		return
	}
	e.afterWriteNow(userID, pre, preOK, stamps)
}

// Sequenced runs fn in the inner engine's sequenced transaction, on a view
// that writes through it. What every write does to memcache afterwards
// (move the generation on, drop PHP's key) waits until the transaction has
// ended: done before the commit, it would let a reader cache the state
// before the write under the new generation. A transaction that failed
// only invalidates: its queued in-place updates describe writes that were
// rolled back. Over an inner engine that is no Sequencer (a dry run's
// overlay) it answers store.ErrNotSequenced and runs nothing.
func (e *Engine) Sequenced(ctx context.Context, userID int64, at store.Timestamp, fn func(store.Timestamp, store.Engine) error) error {
	sq, ok := e.inner.(store.Sequencer)
	if !ok {
		return store.ErrNotSequenced
	}
	var after []func()
	err := sq.Sequenced(ctx, userID, at, func(ts store.Timestamp, tx store.Engine) error {
		after = after[:0]
		return fn(ts, &Engine{inner: tx, cfg: e.cfg, mc: e.mc, dry: e.dry, after: &after})
	})
	if err != nil {
		if len(after) > 0 {
			e.afterWrite(userID, snap{}, false, nil)
		}
		return err
	}
	for _, f := range after {
		f()
	}
	return nil
}

func (e *Engine) afterWriteNow(userID int64, pre snap, preOK bool, stamps func(map[string]store.Timestamp) bool) {
	// PHP's key lives apart: drop it in parallel, one round trip less.
	php := make(chan struct{})
	go func() {
		e.dropPHP(userID)
		close(php)
	}()
	defer func() { <-php }()
	gen, err := e.mc.incr(keyGen(e.cfg.Prefix, userID))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return // no generation: no entry can match any more
	}
	if err != nil {
		e.mc.owe(userID)
		return
	}
	if !preOK || stamps == nil || gen != pre.tag.gen+1 {
		return
	}
	var m map[string]store.Timestamp
	if pre.value(e.cfg.Prefix, userID, nStamps, 0, &m) {
		if m == nil {
			m = map[string]store.Timestamp{}
		}
		if stamps(m) {
			e.store(userID, nStamps, tag{epoch: pre.tag.epoch, gen: gen}, nil, m)
		}
	}
}

// dropPHP deletes the legacy PHP server's coll:<uid>, so that PHP rebuilds
// it from the database; the healer retries when memcache is unreachable.
func (e *Engine) dropPHP(userID int64) {
	if e.dry != nil {
		return
	}
	if err := e.mc.delete(e.mc.php, keyPHP(userID)); err != nil {
		e.mc.owe(userID)
	}
}

// dropDerived deletes the user's derived entries. The generation already
// voids them; this only gives the memory back.
func (e *Engine) dropDerived(userID int64) {
	if e.dry != nil {
		return
	}
	names := derived
	if !e.tabsOnly() {
		names = append(names[:len(names):len(names)], nTabs)
	}
	for _, n := range names {
		if e.mc.delete(e.mc.client, keyUser(e.cfg.Prefix, userID, n)) != nil {
			return
		}
	}
}

// InvalidateUser drops every native entry of a user (memcache-only tabs
// excepted: they are data, not a copy) and PHP's coll: key. The proxy calls
// it after each write it forwarded to the legacy server. An error means
// memcache could not be told; the debt is recorded and paid by the healer
// before this instance uses a cached value again.
func (e *Engine) InvalidateUser(ctx context.Context, userID int64) error {
	if e.dry != nil {
		return nil
	}
	_, err := e.mc.incr(keyGen(e.cfg.Prefix, userID))
	if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		e.mc.owe(userID)
		return fmt.Errorf("cache: invalidate user %d: %w: %w", userID, store.ErrUnavailable, err)
	}
	if err := e.mc.delete(e.mc.php, keyPHP(userID)); err != nil {
		e.mc.owe(userID)
		return fmt.Errorf("cache: invalidate user %d: %w: %w", userID, store.ErrUnavailable, err)
	}
	e.dropDerived(userID)
	return nil
}

// InvalidateUsername is InvalidateUser by name. An unknown user has
// nothing cached. When the name cannot be looked up, the global epoch is
// bumped instead (every user's entries voided): a legacy write must never
// leave a stale entry behind.
func (e *Engine) InvalidateUsername(ctx context.Context, username string) error {
	return e.invalidateName(ctx, e.inner, username)
}

// invalidateName resolves username through accounts, the inner engine
// or the accounts backend when it lives elsewhere (an LDAP directory).
func (e *Engine) invalidateName(ctx context.Context, accounts store.Users, username string) error {
	u, err := accounts.UserByName(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.mc.oweEpoch()
		return fmt.Errorf("cache: invalidate %q: %w", username, err)
	}
	return e.InvalidateUser(ctx, u.ID)
}

// Invalidator adapts an Engine to the proxy's invalidation hook, which
// has no error result: failures are logged, counted through OnError, and
// repaid by the healer.
type Invalidator struct {
	E *Engine
	// Users resolves names to storage ids when the accounts live outside
	// E's database (--auth ldap); nil: E's own users table.
	Users store.Users
}

// InvalidateUser invalidates the cached entries of username.
func (i Invalidator) InvalidateUser(ctx context.Context, username string) {
	accounts := i.Users
	if accounts == nil {
		accounts = i.E.inner
	}
	if err := i.E.invalidateName(ctx, accounts, username); err != nil {
		i.E.cfg.Logger.Warn("cache: invalidation after a legacy write", "user", username, "err", err)
	}
}

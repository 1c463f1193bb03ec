package cache

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Config tunes an Engine. The zero value is usable.
type Config struct {
	// Prefix is put in front of every native key, so several deployments
	// can share one memcached. PHP's coll:<uid> never gets it.
	Prefix string
	// TabsInMemcacheOnly keeps the tabs collection in memcache alone, as
	// the Python server did. Leave it false while any route is still served
	// by the legacy PHP server: tabs are then written to the database too.
	TabsInMemcacheOnly bool
	// Timeout bounds each memcache operation (socket read/write). New sets
	// it on the client. Default 100ms.
	Timeout time.Duration
	// Backoff is how long memcache is left alone after a failure, so that a
	// dead or hung server costs one timeout per Backoff, not one per call.
	// Default 1s.
	Backoff time.Duration
	// EntryTTL is the memcache expiration of derived entries: an upper
	// bound on the life of any entry, see the package doc. Default 1h.
	EntryTTL time.Duration
	// MaxDirty is how many users whose invalidation failed are remembered
	// one by one; beyond it the global epoch is bumped instead. Default 10000.
	MaxDirty int
	// PHPClient reaches the memcached where the legacy PHP server keeps
	// coll:<uid>, when that is not where the client passed to New would
	// hash the key (several servers). Nil: the same client.
	PHPClient *memcache.Client
	// Logger gets state changes (memcache lost, healed). Nil: discarded.
	Logger *slog.Logger
	// OnError is called for every memcache failure, and with ErrBypassed
	// for every operation skipped during a backoff, for metrics. op names
	// the operation ("get", "incr", "set", "delete", ...).
	OnError func(op string, err error)
	// Now is the clock for backoff; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = 100 * time.Millisecond
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.EntryTTL <= 0 {
		c.EntryTTL = time.Hour
	}
	if c.MaxDirty <= 0 {
		c.MaxDirty = 10000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.OnError == nil {
		c.OnError = func(string, error) {}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Engine is a store.Engine that answers from memcache what it can and
// from the inner engine the rest. Create it with New; Close it to stop its
// healer (Close also closes the inner engine).
type Engine struct {
	inner store.Engine
	cfg   Config
	mc    *mc
	// dry is non-nil in the view DryRun hands out: nothing is written to
	// memcache and everything but memcache-only tabs comes from the
	// transaction.
	dry *dryTabs
	// after is set in the view Sequenced hands out: the memcache work
	// that follows each database write is queued here and done once the
	// transaction has ended (see Sequenced).
	after *[]func()
}

var _ store.Engine = (*Engine)(nil)

// New wraps inner with the memcache reached by client. It sets
// client.Timeout to cfg.Timeout, and client.MaxIdleConns to 16 when it is
// zero: a write runs memcache operations in parallel, and the library's
// default of 2 idle connections would make it dial for each. The first
// successful contact with memcached bumps the global epoch (see the
// package doc); until then calls are served by inner alone.
func New(inner store.Engine, client *memcache.Client, cfg Config) *Engine {
	cfg = cfg.withDefaults()
	client.Timeout = cfg.Timeout
	if client.MaxIdleConns == 0 {
		client.MaxIdleConns = 16
	}
	php := cfg.PHPClient
	if php == nil {
		php = client
	}
	return &Engine{inner: inner, cfg: cfg, mc: newMC(client, php, cfg)}
}

// Inner is the wrapped engine.
func (e *Engine) Inner() store.Engine { return e.inner }

// Name is the inner engine's name: the cache is not a storage engine of
// its own for logs and metrics.
func (e *Engine) Name() string { return e.inner.Name() }

// Ping checks the database only: memcache is optional.
func (e *Engine) Ping(ctx context.Context) error { return e.inner.Ping(ctx) }

// Close stops the healer and closes the inner engine. The memcache client
// belongs to the caller.
func (e *Engine) Close() error {
	if e.dry == nil {
		e.mc.close()
	}
	return e.inner.Close()
}

// DryRun runs fn against a view on the inner engine's dry-run view: reads
// go through it (they must see fn's own writes), and nothing is written to
// memcache. Memcache-only tabs are read from memcache and
// written to a copy private to the view.
func (e *Engine) DryRun(ctx context.Context, fn func(store.Engine) error) error {
	return e.inner.DryRun(ctx, func(tx store.Engine) error {
		return fn(&Engine{inner: tx, cfg: e.cfg, mc: e.mc, dry: newDryTabs()})
	})
}

// The account side passes through: it is not cached.

func (e *Engine) CreateUser(ctx context.Context, u store.User) (int64, error) {
	return e.inner.CreateUser(ctx, u)
}

func (e *Engine) UserByName(ctx context.Context, username string) (store.User, error) {
	return e.inner.UserByName(ctx, username)
}

func (e *Engine) SetPasswordMD5(ctx context.Context, userID int64, md5hex string) error {
	return e.inner.SetPasswordMD5(ctx, userID, md5hex)
}

// SetPasswordHash passes through to an inner engine with a hash table.
func (e *Engine) SetPasswordHash(ctx context.Context, userID int64, hash, marker string) error {
	hs, ok := e.inner.(store.PasswordHashes)
	if !ok {
		return fmt.Errorf("cache: the engine below keeps no password hashes")
	}
	return hs.SetPasswordHash(ctx, userID, hash, marker)
}

func (e *Engine) SetEmail(ctx context.Context, userID int64, email string) error {
	return e.inner.SetEmail(ctx, userID, email)
}

func (e *Engine) SetResetCode(ctx context.Context, userID int64, rc store.ResetCode) error {
	return e.inner.SetResetCode(ctx, userID, rc)
}

func (e *Engine) GetResetCode(ctx context.Context, userID int64) (store.ResetCode, error) {
	return e.inner.GetResetCode(ctx, userID)
}

func (e *Engine) ClearResetCode(ctx context.Context, userID int64) error {
	return e.inner.ClearResetCode(ctx, userID)
}

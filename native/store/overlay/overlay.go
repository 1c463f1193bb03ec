// Package overlay is a store.Engine that keeps every write in memory, over
// a base engine it only ever reads. Shadow mode runs a write natively
// through one, on a read-only snapshot of the live database: the native
// answer is computed as if the write happened, yet the database is never
// written and no row or gap lock is taken that the legacy server's writes
// could wait on.
//
// Reads merge the base with the overlay: an id the overlay touched (wrote
// or deleted) is answered from memory, every other row from the base; a
// whole-collection delete or DeleteStorage hides the base altogether. The
// base is queried with the same Query values the handlers use, so its SQL
// is the engine's own, written once.
//
// What the overlay cannot know it leaves to the base schema's Limits
// (column sizes the database would refuse). Users it creates get negative
// ids: a dry-run registration never takes a real AUTO_INCREMENT value.
package overlay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Limits are the checks the base's schema would make on a write. Nil
// functions accept everything.
type Limits struct {
	// Collection refuses a collection name (store.ErrInvalidName).
	Collection func(name string) error
	// Item refuses an item the table could not hold.
	Item func(store.WBO) error
	// User refuses account values the users table could not hold.
	User func(store.User) error
}

// UserByIDer is the lookup by id the overlay needs from its base to tell
// whether an account it never saw by name exists. sqlstore's snapshot
// views and overlays implement it.
type UserByIDer interface {
	UserByID(ctx context.Context, id int64) (store.User, error)
}

// Engine is the overlay. It is safe for concurrent use, though a dry run
// is one request and calls it from one goroutine.
type Engine struct {
	base store.Engine
	lim  Limits

	mu     sync.Mutex
	users  map[int64]*store.User // created or changed accounts; nil: deleted
	names  map[string]int64      // lower-cased name of each created account
	nextID int64                 // the next created account's id (negative)
	resets map[int64]*store.ResetCode
	data   map[int64]*userData
	stamps map[int64]store.Timestamp // each user's last sequenced write
}

var (
	_ store.Engine    = (*Engine)(nil)
	_ store.Sequencer = (*Engine)(nil)
)

// New returns an empty overlay on base. base is only read.
func New(base store.Engine, lim Limits) *Engine {
	return &Engine{base: base, lim: lim, users: map[int64]*store.User{}, names: map[string]int64{},
		nextID: -1, resets: map[int64]*store.ResetCode{}, data: map[int64]*userData{},
		stamps: map[int64]store.Timestamp{}}
}

// allTime is a Query.Now before every ttl: reads with it see expired rows
// too, as writes and deletes must.
const allTime = store.Timestamp(math.MinInt64 / 2)

// ErrReadOnly is what a base refuses writes with; the overlay never sends
// it any.
var ErrReadOnly = errors.New("store: read-only snapshot")

func (o *Engine) Name() string                   { return o.base.Name() }
func (o *Engine) Ping(ctx context.Context) error { return o.base.Ping(ctx) }

// Close does nothing: the overlay holds nothing but memory, and the base
// belongs to whoever made it.
func (o *Engine) Close() error { return nil }

// DryRun runs fn on an overlay of this overlay, thrown away afterwards.
func (o *Engine) DryRun(ctx context.Context, fn func(store.Engine) error) error {
	return fn(New(o, o.lim))
}

// CreateUser adds an account to the overlay under a negative id, unless
// the name is taken in the base or the overlay.
func (o *Engine) CreateUser(ctx context.Context, u store.User) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u.Username = strings.ToLower(u.Username)
	if u.Status == 0 {
		u.Status = 1
	}
	if err := o.check(u); err != nil {
		return 0, err
	}
	_, err := o.userByName(ctx, u.Username)
	switch {
	case err == nil:
		return 0, fmt.Errorf("overlay: user %q: %w", u.Username, store.ErrUserExists)
	case !errors.Is(err, store.ErrNotFound):
		return 0, err
	}
	u.ID = o.nextID
	o.nextID--
	o.users[u.ID] = &u
	o.names[u.Username] = u.ID
	return u.ID, nil
}

func (o *Engine) check(u store.User) error {
	if o.lim.User == nil {
		return nil
	}
	return o.lim.User(u)
}

func (o *Engine) UserByName(ctx context.Context, username string) (store.User, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.userByName(ctx, username)
}

func (o *Engine) userByName(ctx context.Context, username string) (store.User, error) {
	name := strings.ToLower(username)
	if id, ok := o.names[name]; ok {
		if u := o.users[id]; u != nil {
			return *u, nil
		}
	}
	u, err := o.base.UserByName(ctx, username)
	if err != nil {
		return u, err
	}
	return o.merged(u)
}

// merged is the overlay's version of a base account.
func (o *Engine) merged(u store.User) (store.User, error) {
	cur, touched := o.users[u.ID]
	switch {
	case !touched:
		return u, nil
	case cur == nil:
		return store.User{}, fmt.Errorf("overlay: user %d: %w", u.ID, store.ErrNotFound)
	}
	return *cur, nil
}

// UserByID implements UserByIDer, for overlays of overlays.
func (o *Engine) UserByID(ctx context.Context, id int64) (store.User, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.userByID(ctx, id)
}

func (o *Engine) userByID(ctx context.Context, id int64) (store.User, error) {
	if u, touched := o.users[id]; touched {
		if u == nil {
			return store.User{}, fmt.Errorf("overlay: user %d: %w", id, store.ErrNotFound)
		}
		return *u, nil
	}
	b, ok := o.base.(UserByIDer)
	if !ok {
		return store.User{}, fmt.Errorf("overlay: base %s cannot look users up by id", o.base.Name())
	}
	return b.UserByID(ctx, id)
}

// DeleteUser forgets the account, its storage and its reset code.
func (o *Engine) DeleteUser(ctx context.Context, userID int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.userByID(ctx, userID); err != nil {
		return err
	}
	o.users[userID] = nil
	o.resets[userID] = nil
	o.data[userID] = &userData{wiped: true}
	return nil
}

func (o *Engine) SetPasswordMD5(ctx context.Context, userID int64, md5hex string) error {
	return o.changeUser(ctx, userID, func(u *store.User) { u.MD5 = md5hex })
}

func (o *Engine) SetEmail(ctx context.Context, userID int64, email string) error {
	return o.changeUser(ctx, userID, func(u *store.User) { u.Email = email })
}

func (o *Engine) changeUser(ctx context.Context, userID int64, change func(*store.User)) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	u, err := o.userByID(ctx, userID)
	if err != nil {
		return err
	}
	change(&u)
	if err := o.check(u); err != nil {
		return err
	}
	o.users[userID] = &u
	return nil
}

// SetResetCode keeps the code, at the whole second the database would.
func (o *Engine) SetResetCode(_ context.Context, userID int64, rc store.ResetCode) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	rc.Expires = time.Unix(rc.Expires.Unix(), 0)
	o.resets[userID] = &rc
	return nil
}

func (o *Engine) GetResetCode(ctx context.Context, userID int64) (store.ResetCode, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if rc, touched := o.resets[userID]; touched {
		if rc == nil {
			return store.ResetCode{}, fmt.Errorf("overlay: user %d: %w", userID, store.ErrNoResetCode)
		}
		return *rc, nil
	}
	return o.base.GetResetCode(ctx, userID)
}

func (o *Engine) ClearResetCode(_ context.Context, userID int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.resets[userID] = nil
	return nil
}

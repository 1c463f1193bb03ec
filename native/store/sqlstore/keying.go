package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Storage keyings. The legacy PHP schema keys a user's rows by the numeric
// users.id (wbo.username INT, collections.userid INT); older PHP and
// Python deployments key them by the user's name (wbo.username a string).
// The store interface passes the numeric id everywhere; an engine keyed by
// name turns it into the user's name (users.username, or the id map's
// name for an account kept outside the users table) where a statement
// binds the user, and nowhere else: the SQL is the same for both.
const (
	KeyAuto = ""     // as the existing wbo table is keyed; by id when there is none
	KeyID   = "id"   // users.id
	KeyName = "name" // users.username
)

// ParseStorageKey checks a keying given in configuration ("auto" is
// KeyAuto).
func ParseStorageKey(s string) (string, error) {
	switch s {
	case "", "auto":
		return KeyAuto, nil
	case KeyID, KeyName:
		return s, nil
	}
	return "", fmt.Errorf("sqlstore: storage key %q: want auto, id or name", s)
}

// storageKey is the value that stands for a user in the storage tables
// (wbo, collections and our ttl, stamps and sums tables, which join them):
// the int64 id, or the user's name. A type of its own, so that an id
// passed where a key belongs does not compile.
type storageKey struct{ v any }

// Value binds the key as a statement argument.
func (k storageKey) Value() (driver.Value, error) { return k.v, nil }

func (k storageKey) String() string { return fmt.Sprint(k.v) }

// nameTTL bounds how long a name is taken from the cache. A user's id
// never changes its name, but a MySQL server that restarts after the
// newest account was deleted may hand its id out again (InnoDB before
// MariaDB 10.2.4 and MySQL 8); a minute keeps such a reuse from reading the
// old account's rows beyond that.
const nameTTL = time.Minute

// maxNames bounds the cache; it starts over when full.
const maxNames = 100_000

// nameCache maps ids to names for an engine keyed by name; the views an
// engine hands out share it.
type nameCache struct {
	mu sync.Mutex
	m  map[int64]cachedName
}

type cachedName struct {
	name string
	at   time.Time
}

func (c *nameCache) get(id int64) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[id]
	if !ok || time.Since(n.at) > nameTTL {
		return "", false
	}
	return n.name, true
}

func (c *nameCache) put(id int64, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxNames {
		c.m = map[int64]cachedName{}
	}
	c.m[id] = cachedName{name, time.Now()}
}

func (c *nameCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// NamesFrom makes an engine keyed by name look names up in accounts' users
// and id map tables instead of its own: a node's storage database holds
// no accounts (serve --node-db).
func (e *Engine) NamesFrom(accounts *Engine) { e.accounts = accounts }

// KeyedByName reports whether the engine keys storage by user name (after
// Init, as the tables found say).
func (e *Engine) KeyedByName() bool { return e.names != nil }

// userKey is what stands for the user in storage statements: the id
// itself, or (keyed by name) the user's name. Callers resolve it before
// they open a transaction: on SQLite the read may need the connection the
// transaction would hold.
func (e *Engine) userKey(ctx context.Context, id int64) (storageKey, error) {
	if e.names == nil {
		return storageKey{id}, nil
	}
	if name, ok := e.names.get(id); ok {
		return storageKey{name}, nil
	}
	src := e
	if e.accounts != nil {
		src = e.accounts
	}
	q := src.reader()
	var name string
	err := q.QueryRowContext(ctx, "SELECT username FROM "+src.d.quote(src.t.users)+" WHERE id = ?", id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		err = q.QueryRowContext(ctx, "SELECT username FROM "+src.d.quote(src.t.ids)+" WHERE id = ?", id).Scan(&name)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return storageKey{}, fmt.Errorf("sqlstore: user %d has no name to key storage by: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return storageKey{}, src.wrap("user name", err)
	}
	e.names.put(id, name)
	return storageKey{name}, nil
}

// detectKeying sets the engine's keying from the wbo table when it
// exists (its username column a string: by name); without one the
// keying stays as Open or WithTables set it. A configured keying the
// table contradicts is an error: Init never alters a table.
func (e *Engine) detectKeying(ctx context.Context) error {
	var typ string
	err := e.db.QueryRowContext(ctx, e.d.columnType, e.t.wbo, "username").Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // no table yet: Init creates it keyed as set
	}
	if err != nil {
		return e.wrap("init: read the type of "+e.t.wbo+".username", err)
	}
	typ = strings.ToLower(typ)
	found := KeyID
	if strings.Contains(typ, "char") || strings.Contains(typ, "text") || strings.Contains(typ, "clob") {
		found = KeyName
	}
	if e.key != KeyAuto && e.key != found {
		return fmt.Errorf("sqlstore %s: init: %s.username is %s, so storage is keyed by %s, not %s (storage key)",
			e.d.name, e.t.wbo, typ, found, e.key)
	}
	switch {
	case found == KeyID:
		e.names = nil
	case e.names == nil:
		e.names = &nameCache{}
	}
	return nil
}

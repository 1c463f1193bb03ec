// Package storetest opens the real database engines that tests of the
// native packages run on: a SQLite file in the test's temp dir and a fresh
// database on the shared throwaway MariaDB server of internal/testenv. It is
// imported only by tests.
//
// It does not import native/auth, so auth's own tests can use it too:
// callers hash passwords themselves (auth.HashPassword) when they create
// users with AddUser.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
)

// Backend is one of the databases the tests run every behaviour on.
type Backend struct {
	// Name is the subtest name: "sqlite" or "mysql" (the DSN scheme).
	Name string
	// DSN gives a fresh, empty database for the test, as an sqlstore DSN.
	DSN func(t testing.TB) string
	// StorageKey is the keying of the tables Open creates (sqlstore.KeyID
	// when empty).
	StorageKey string
}

// Open opens and initialises an engine on a fresh database of b.
func (b Backend) Open(t testing.TB) *sqlstore.Engine {
	t.Helper()
	return OpenConfig(t, b.DSN(t), sqlstore.Config{StorageKey: b.StorageKey})
}

// NameKeyed is b with storage keyed by user name (the older PHP and
// Python schemas: wbo.username a string); its Name ends in "-name".
func NameKeyed(b Backend) Backend {
	b.Name += "-name"
	b.StorageKey = sqlstore.KeyName
	return b
}

// SQLite is a database file in t.TempDir().
func SQLite() Backend {
	return Backend{Name: "sqlite", DSN: func(t testing.TB) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "weave.db")
	}}
}

// MariaDB is a fresh database on the test binary's MariaDB server; the
// package's TestMain must call testenv.Main.
func MariaDB() Backend {
	return Backend{Name: "mysql", DSN: func(t testing.TB) string {
		return "mysql:" + testenv.MariaDB(t)
	}}
}

// Backends are the real engines every behaviour runs against, SQLite first.
func Backends() []Backend { return []Backend{SQLite(), MariaDB()} }

// KeyedBackends are Backends with storage keyed by id and by name, for
// the functional tests of storage.
func KeyedBackends() []Backend {
	return []Backend{SQLite(), NameKeyed(SQLite()), MariaDB(), NameKeyed(MariaDB())}
}

// Open opens an engine on dsn, creates its tables (Init) and closes it when
// the test ends. Opening one dsn twice gives two engines on one database,
// as two proxy instances would have.
func Open(t testing.TB, dsn string) *sqlstore.Engine {
	t.Helper()
	return OpenConfig(t, dsn, sqlstore.Config{})
}

// OpenConfig is Open with cfg.
func OpenConfig(t testing.TB, dsn string, cfg sqlstore.Config) *sqlstore.Engine {
	t.Helper()
	ctx := context.Background()
	e, err := sqlstore.Open(ctx, dsn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.Init(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// AddUser creates u through the engine and returns it with its new ID. u.MD5
// is the stored hash: pass auth.HashPassword(password).
func AddUser(t testing.TB, e store.Users, u store.User) store.User {
	t.Helper()
	id, err := e.CreateUser(context.Background(), u)
	if err != nil {
		t.Fatalf("create user %q: %v", u.Username, err)
	}
	u.ID = id
	return u
}

package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"unicode/utf8"

	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/overlay"
)

// DryRun runs fn against an overlay (package overlay) on a read-only
// snapshot of the database, taken before fn is called: fn reads the
// database as it was at that moment plus its own writes, which stay in
// memory. Nothing is written and no lock is taken that another writer
// could wait on: the legacy server writing the same rows at the same time
// never waits for a dry run, nor deadlocks with one. fn must not use the
// view after returning.
func (e *Engine) DryRun(ctx context.Context, fn func(store.Engine) error) error {
	view, release, err := e.Snapshot(ctx)
	if err != nil {
		return err
	}
	defer release()
	return fn(overlay.New(view, e.Limits()))
}

// Snapshot returns a read-only view of the engine on a consistent
// snapshot of the database, taken now, and the function that ends it.
// Reads through the view never lock: on MySQL the view is a READ ONLY,
// REPEATABLE READ transaction started WITH CONSISTENT SNAPSHOT (plain
// SELECTs in it are consistent non-locking reads); on SQLite it is a read
// transaction on one reader connection (WAL keeps writers going). Its
// write methods fail with overlay.ErrReadOnly. The view holds one
// connection until release, which must be called.
func (e *Engine) Snapshot(ctx context.Context) (*Engine, func(), error) {
	if e.snap != nil {
		return e, func() {}, nil
	}
	conn, err := e.sdb.Conn(ctx)
	if err != nil {
		return nil, nil, e.wrap("snapshot", err)
	}
	if err := e.beginSnapshot(ctx, conn); err != nil {
		discard(conn)
		return nil, nil, e.wrap("snapshot", err)
	}
	view := *e
	view.snap = conn
	release := func() {
		// The client's context may be gone by now; the rollback must
		// still run, or the connection goes back to the pool inside a
		// transaction.
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			discard(conn)
			return
		}
		conn.Close()
	}
	return &view, release, nil
}

func (e *Engine) beginSnapshot(ctx context.Context, conn *sql.Conn) error {
	if e.d == sqliteDialect {
		// A deferred transaction: its first read fixes the snapshot.
		if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
			return err
		}
		var n int64
		return conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+e.d.quote(e.t.users)).Scan(&n)
	}
	// One round trip, on the client's path: the pool's connections are
	// REPEATABLE READ already (openMySQL).
	_, err := conn.ExecContext(ctx, "START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT")
	return err
}

// discard closes conn and keeps it out of the pool: its transaction state
// is unknown.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// Limits are the checks the tables make on a write, for an overlay that
// writes nothing: the same rows are refused with or without a database
// (MySQL's strict mode, the CHECK constraints of the SQLite schema).
func (e *Engine) Limits() overlay.Limits {
	return overlay.Limits{Collection: checkName, Item: checkItem, User: checkUser}
}

func checkItem(w store.WBO) error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"id", &w.ID}, {"parentid", w.ParentID}, {"predecessorid", w.PredecessorID}} {
		if f.v != nil && len(*f.v) > 64 {
			return fmt.Errorf("sqlstore: %s %.70q: longer than 64 bytes", f.name, *f.v)
		}
	}
	if s := w.SortIndex; s != nil && (*s < -1<<31 || *s > 1<<31-1) {
		return fmt.Errorf("sqlstore: sortindex %d out of range", *s)
	}
	return nil
}

func checkUser(u store.User) error {
	switch {
	case len(u.Username) > 32 || !utf8.ValidString(u.Username):
		return fmt.Errorf("sqlstore: user name %.40q: invalid or longer than 32 bytes", u.Username)
	case len(u.MD5) > 32:
		return fmt.Errorf("sqlstore: md5 longer than 32 bytes")
	case len(u.Email) > 64:
		return fmt.Errorf("sqlstore: email %.70q: longer than 64 bytes", u.Email)
	}
	return nil
}

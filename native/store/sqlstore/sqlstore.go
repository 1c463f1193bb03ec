// Package sqlstore is the SQL storage engine: one implementation of
// store.Engine over database/sql, with a small dialect value for the two
// backends it supports.
//
//   - MySQL/MariaDB on the legacy PHP schema, table for table and column for
//     column, so that the legacy server and this engine can serve the same
//     database at the same time. Existing tables are never altered; what the
//     legacy schema lacks (ttl, reset codes) lives in tables of our own.
//   - SQLite (modernc.org/sqlite, no cgo) with the same tables and columns,
//     for small installations and tests.
//
// Nothing is cached between calls: PHP may write the same tables at any
// moment, so every call reads the state it needs.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"

	dsnpkg "github.com/weaveproxy/weaveproxy/internal/dsn"
	"github.com/weaveproxy/weaveproxy/native/store"
)

// Config holds the optional settings of an engine.
type Config struct {
	// Table names, as PHP's WEAVE_MYSQL_STORE_TABLE_NAME and
	// WEAVE_MYSQL_COLLECTION_TABLE_NAME allow. Defaults: wbo, collections,
	// users.
	WBOTable, CollectionsTable, UsersTable string
	// Our own tables. Defaults derive from the names above (WBOTable+"_ttl";
	// "reset_codes", or UsersTable+"_reset_codes" for a non-default users
	// table) so that two engines with different legacy tables in one
	// database never share ttl or reset-code rows.
	TTLTable, ResetCodesTable string
	// IDMapTable maps the names of accounts kept outside the users table
	// (an LDAP directory without uidNumber) to storage ids. Default
	// "user_ids", or UsersTable+"_ids" for a non-default users table.
	IDMapTable string
	// StampsTable holds each user's last write timestamp (see Sequenced),
	// SumsTable each collection's item count and bytes (see sums.go).
	// Defaults: WBOTable+"_stamps", WBOTable+"_sums".
	StampsTable, SumsTable string
	// NodesTable holds the storage nodes and their capacities for node
	// assignment (default "nodes"); NodesTable+"_users" which node each
	// user got.
	NodesTable string
	// PasswordHashesTable holds salted password hashes (bcrypt), which
	// do not fit the legacy users.md5 column (varbinary(32)); default
	// "password_hashes", or UsersTable+"_password_hashes".
	PasswordHashesTable string
	// StorageKey is how the storage tables stand for a user: KeyID
	// (users.id), KeyName (users.username) or KeyAuto, as the existing
	// wbo table is keyed (see keying.go and Init).
	StorageKey string
	Logger     *slog.Logger
}

// Engine is a store.Engine on an SQL database. Every method is safe for
// concurrent use.
type Engine struct {
	d   *dialect
	t   tables
	db  *sql.DB // writes and transactions (SQLite: its single writer connection)
	rdb *sql.DB // reads outside a transaction; the same as db on MySQL
	// sdb holds dry runs' snapshots: on MySQL a small pool of REPEATABLE
	// READ connections, opened only when a dry run needs one; rdb on
	// SQLite.
	sdb *sql.DB
	log *slog.Logger
	// key is the configured keying; names, set by Init when storage is
	// keyed by name, caches each id's name (see keying.go).
	key   string
	names *nameCache
	// accounts, when set, is the engine whose tables give the names
	// (see NamesFrom).
	accounts *Engine

	// snap is set in a snapshot view (see Snapshot): every read runs on
	// it, and every write is refused.
	snap querier
	// tx is set in the view Sequenced hands out: every read and write
	// runs in its transaction, which commits when the view's work is
	// done, so a failed write fails all of it and needs no savepoint.
	tx *sql.Tx
	// borrowed is set on an engine made by WithTables: the pools are
	// another engine's, which closes them.
	borrowed bool
	// stmts prepares the hot reads on rdb (see stmts.go); shared by views
	// and WithTables engines, closed with the pools.
	stmts *stmtCache
	// wstmts prepares the upserts of the usual batch sizes on db (see
	// upsert), shared and closed as stmts.
	wstmts *stmtCache
}

var _ store.Engine = (*Engine)(nil)

// querier is what both *sql.DB and *sql.Tx offer: the engine's queries are
// written once against it and run inside or outside a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Open parses "sqlite:PATH" or "mysql:<go-sql-driver DSN>" and opens the
// engine. It does not touch the schema (see Init) and does not connect yet:
// call Ping to check the database answers.
//
// On MySQL the DSN's charset must be the one the legacy data was written
// with: a latin1 database that PHP filled through a latin1 connection is
// read with charset=latin1, which passes the UTF-8 bytes through as they
// are; a utf8mb4 connection would convert them (and refuse emoji in
// latin1 columns).
func Open(ctx context.Context, dsn string, cfg Config) (*Engine, error) {
	t, err := cfg.tables()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := ParseStorageKey(cfg.StorageKey)
	if err != nil {
		return nil, err
	}
	e := &Engine{t: t, log: log, key: key}
	if key == KeyName {
		e.names = &nameCache{}
	}
	kind, source, err := dsnpkg.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	switch kind {
	case dsnpkg.MySQL:
		e.d = mysqlDialect
		e.db, err = openMySQL(source, "READ COMMITTED", maxMySQLConns)
		e.rdb = e.db
		if err == nil {
			e.sdb, err = openMySQL(source, "REPEATABLE READ", maxSnapshotConns)
		}
	default:
		e.d = sqliteDialect
		e.db, e.rdb, err = openSQLite(source)
		e.sdb = e.rdb
	}
	if err != nil {
		return nil, err
	}
	e.stmts = newStmtCache(e.rdb)
	e.wstmts = newStmtCache(e.db)
	e.log = log.With("engine", e.d.name)
	return e, nil
}

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func (c Config) tables() (tables, error) {
	pick := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	wbo := pick(c.WBOTable, "wbo")
	users := pick(c.UsersTable, "users")
	resetDef, idsDef, hashesDef := "reset_codes", "user_ids", "password_hashes"
	if users != "users" {
		resetDef, idsDef, hashesDef = users+"_reset_codes", users+"_ids", users+"_password_hashes"
	}
	t := tables{
		wbo:         wbo,
		collections: pick(c.CollectionsTable, "collections"),
		users:       users,
		ttl:         pick(c.TTLTable, wbo+"_ttl"),
		reset:       pick(c.ResetCodesTable, resetDef),
		ids:         pick(c.IDMapTable, idsDef),
		stamps:      pick(c.StampsTable, wbo+"_stamps"),
		nodes:       pick(c.NodesTable, "nodes"),
		sums:        pick(c.SumsTable, wbo+"_sums"),
		hashes:      pick(c.PasswordHashesTable, hashesDef),
	}
	t.nodeUsers = t.nodes + "_users"
	for _, n := range []string{t.wbo, t.collections, t.users, t.ttl, t.reset, t.ids, t.stamps, t.nodes, t.nodeUsers, t.sums, t.hashes} {
		if !tableName.MatchString(n) {
			return t, fmt.Errorf("sqlstore: invalid table name %q", n)
		}
	}
	return t, nil
}

// WithTables is a second engine on e's database and connection pools
// with the table names of cfg (the Python server's table sharding: one
// engine per wbo0 … wboN-1). Its Close leaves the pools to e.
func (e *Engine) WithTables(cfg Config) (*Engine, error) {
	t, err := cfg.tables()
	if err != nil {
		return nil, err
	}
	if e.snap != nil || e.tx != nil {
		return nil, fmt.Errorf("sqlstore: WithTables on a view")
	}
	key, err := ParseStorageKey(cfg.StorageKey)
	if err != nil {
		return nil, err
	}
	c := &Engine{d: e.d, t: t, db: e.db, rdb: e.rdb, sdb: e.sdb, log: e.log.With("wbo", t.wbo), borrowed: true, key: key,
		stmts: e.stmts, wstmts: e.wstmts}
	// Keyed as e unless told otherwise, for tables Init creates; Init
	// follows the tables that exist.
	if key == KeyName || key == KeyAuto && e.names != nil {
		c.names = &nameCache{}
	}
	return c, nil
}

// DB is the underlying database (on SQLite, the writer), for tests and
// admin tools.
func (e *Engine) DB() *sql.DB { return e.db }

// Name is "mysql" or "sqlite".
func (e *Engine) Name() string { return e.d.name }

// Ping checks that the database answers a query.
func (e *Engine) Ping(ctx context.Context) error {
	var one int
	if err := e.reader().QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return e.wrap("ping", err)
	}
	return nil
}

// Close closes the database. On a snapshot view it does nothing: the
// view ends with its release.
func (e *Engine) Close() error {
	if e.snap != nil || e.tx != nil || e.borrowed {
		return nil
	}
	err := errors.Join(e.stmts.close(), e.wstmts.close(), e.db.Close())
	if e.rdb != e.db {
		err = errors.Join(err, e.rdb.Close())
	}
	if e.sdb != e.rdb {
		err = errors.Join(err, e.sdb.Close())
	}
	return err
}

// reader is where a read goes: the view's snapshot, or the read pool.
func (e *Engine) reader() querier {
	if e.snap != nil {
		return e.snap
	}
	if e.tx != nil {
		return e.tx
	}
	return e.rdb
}

// readQuery runs a read on r, prepared (stmts.go) when r is the read
// pool: a view's transaction or snapshot connection would prepare it anew
// for each run.
func (e *Engine) readQuery(ctx context.Context, r querier, query string, args ...any) (*sql.Rows, error) {
	if db, ok := r.(*sql.DB); ok && db == e.rdb {
		return e.stmts.query(ctx, query, args...)
	}
	return r.QueryContext(ctx, query, args...)
}

// wrap adds context to a database error and marks connection-level
// failures with store.ErrUnavailable, which the API answers with 503.
func (e *Engine) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if e.d.unavailable(err) {
		return fmt.Errorf("sqlstore %s: %s: %w: %w", e.d.name, op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore %s: %s: %w", e.d.name, op, err)
}

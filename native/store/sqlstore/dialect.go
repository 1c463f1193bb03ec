package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// tables are the (validated, unquoted) names of the engine's tables.
type tables struct {
	wbo, collections, users, ttl, reset, ids, stamps, sums, hashes string
	nodes, nodeUsers                                               string
}

// dialect is everything that differs between the two backends. The queries
// themselves are shared: both accept ? placeholders, LIMIT/OFFSET, COALESCE
// and multi-row VALUES.
type dialect struct {
	name string
	// quote quotes a table name.
	quote func(string) string
	// nullSafeEq compares two possibly-NULL values for equality.
	nullSafeEq string
	// notPrimary is an index hint that keeps a per-user aggregate off
	// the clustered primary key (see TotalSize); empty where not needed.
	notPrimary string
	// forUpdate locks the rows a read inside a write transaction selects.
	// SQLite needs none: its write transactions are exclusive.
	forUpdate string
	// gapLocks are the options of a transaction whose locking reads must
	// also lock the gaps where missing rows would go (see withGapLocks).
	gapLocks *sql.TxOptions
	// upsert starts the clause that turns an INSERT into an update of the
	// row with the same key; excluded names the value the INSERT carried.
	upsert   func(key ...string) string
	excluded func(col string) string
	// schema is the DDL creating each table with its indexes; user is
	// the column type of the storage key (see keying.go).
	schema func(t tables, user string) []tableDDL
	// idType and nameType are the column types of a storage key by id
	// and by name.
	idType, nameType string
	// columnType is a query with two parameters, a table and a column
	// name, giving the column's type (no row: no such table or column).
	columnType string
	// nextStamp raises the user's row of the stamps table (see
	// Sequenced) to GREATEST(last + 1, at), creating it at at, and
	// returns the new value.
	nextStamp func(ctx context.Context, q querier, table string, userID storageKey, at int64) (int64, error)
	// countedUpsert: the upsert of items can count, in session
	// variables, the rows it updates and the payload bytes it replaces
	// (see countedUpsert); resetCounters is the piece of a select list
	// that zeroes them, empty where there are none.
	countedUpsert bool
	resetCounters string
	// prepareWrites: upserts run as prepared statements (see upsert).
	// SQLite, in the process, parses nothing it would save.
	prepareWrites bool
	// tableExists is a query with one parameter, the table name, giving the
	// number of tables of that name.
	tableExists string

	duplicate   func(error) bool // unique key violation
	retryable   func(error) bool // lost a deadlock: run the transaction again
	unavailable func(error) bool // the database cannot be reached or used now
}

// tableDDL creates one table: all of its statements run only when the
// table does not exist yet, so that a pre-existing legacy table never gets
// an index (or anything else) it did not have.
type tableDDL struct {
	name  string
	stmts []string
}

// maxMySQLConns bounds one engine's connections to MySQL.
const maxMySQLConns = 32

// maxSnapshotConns bounds the connections dry runs hold open at once
// (shadow mode runs at most 8 by default).
const maxSnapshotConns = 16

// sessionIsolation opens connections at one isolation level; the engine's
// pool is READ COMMITTED.
// Under InnoDB's default, REPEATABLE READ, every locking read, UPDATE,
// DELETE and duplicate-key INSERT also locks the gaps between index
// records, and the gap after one user's last row is the gap before the
// next user's first: two users writing new items at once deadlocked
// (measured: 8 users posting 100 new items each lost transactions even
// after ten retries). READ COMMITTED locks rows only. Nothing here needs
// gap locks: a user's writes are ordered by the stamps row (Sequenced),
// and every statement reads what is committed when it runs.
//
// Dry runs read a consistent snapshot, which needs REPEATABLE READ: they
// have a pool of their own whose connections are opened at that level, so
// that starting a snapshot is one statement (see Snapshot).
type sessionIsolation struct {
	driver.Connector
	level string // "READ COMMITTED" or "REPEATABLE READ"
}

func (c sessionIsolation) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, errors.New("sqlstore mysql: driver connection cannot execute statements")
	}
	if _, err := ex.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL "+c.level, nil); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// openMySQL opens a pool of at most maxConns connections whose
// transactions run at the isolation level given.
func openMySQL(dsn, level string, maxConns int) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore mysql: DSN: %w", err)
	}
	// Every statement with arguments is otherwise a server-side prepare,
	// an execute and a close: two round trips where one does. The driver
	// escapes arguments itself for every character set it allows this
	// with (it refuses the unsafe multi-byte ones, which keep prepares).
	cfg.InterpolateParams = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		cfg.InterpolateParams = false
		if conn, err = mysql.NewConnector(cfg); err != nil {
			return nil, fmt.Errorf("sqlstore mysql: %w", err)
		}
	}
	db := sql.OpenDB(sessionIsolation{conn, level})
	// Servers drop idle connections (wait_timeout); recycle them first.
	db.SetConnMaxLifetime(3 * time.Minute)
	// As many idle connections as may be open: with fewer, a burst of
	// concurrent requests closes the surplus after each query and dials
	// (TCP, handshake, auth) again for the next. The cap keeps a busy
	// instance well below MariaDB's default max_connections (151), with
	// room for a few instances and PHP.
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	return db, nil
}

// openSQLite opens two pools on one file: a single writer connection, so
// that writers queue in Go instead of failing with SQLITE_BUSY, and a pool
// of readers, which WAL lets run beside the writer. BEGIN IMMEDIATE takes
// the write lock when a transaction starts, never halfway through, and
// busy_timeout covers other processes holding it.
func openSQLite(path string) (w, r *sql.DB, err error) {
	if path == "" {
		return nil, nil, errors.New("sqlstore sqlite: empty path")
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	params := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(0)&_txlock=immediate"
	if path == ":memory:" {
		// Every connection to :memory: is a database of its own: one
		// connection for everything.
		w, err = sql.Open("sqlite", path+sep+params)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlstore sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		return w, w, nil
	}
	params += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	if w, err = sql.Open("sqlite", path+sep+params); err != nil {
		return nil, nil, fmt.Errorf("sqlstore sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if r, err = sql.Open("sqlite", path+sep+params+"&_pragma=query_only(1)"); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("sqlstore sqlite: %w", err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	return w, r, nil
}

var mysqlDialect = &dialect{
	name:       "mysql",
	quote:      backquote,
	nullSafeEq: "<=>",
	notPrimary: " IGNORE INDEX (PRIMARY)",
	forUpdate:  " FOR UPDATE",
	gapLocks:   &sql.TxOptions{Isolation: sql.LevelRepeatableRead},
	upsert:     func(...string) string { return " ON DUPLICATE KEY UPDATE " },
	excluded:   func(col string) string { return "VALUES(" + col + ")" },
	schema:     mysqlSchema,
	idType:     "INT",
	nameType:   "VARCHAR(32)",
	columnType: "SELECT DATA_TYPE FROM information_schema.columns" +
		" WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?",
	nextStamp:     mysqlNextStamp,
	countedUpsert: true,
	prepareWrites: true,
	resetCounters: ", @wbo_updated := 0, @wbo_replaced := 0",
	tableExists:   "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
	duplicate:     func(err error) bool { return mysqlErrno(err) == 1062 },
	retryable: func(err error) bool {
		n := mysqlErrno(err)
		return n == 1213 || n == 1205 // deadlock, lock wait timeout
	},
	unavailable: mysqlUnavailable,
}

var sqliteDialect = &dialect{
	name:       "sqlite",
	quote:      doublequote,
	nullSafeEq: "IS",
	upsert: func(key ...string) string {
		return " ON CONFLICT(" + strings.Join(key, ", ") + ") DO UPDATE SET "
	},
	excluded:    func(col string) string { return "excluded." + col },
	schema:      sqliteSchema,
	idType:      "INTEGER",
	nameType:    "TEXT",
	columnType:  "SELECT type FROM pragma_table_info(?) WHERE name = ?",
	nextStamp:   sqliteNextStamp,
	tableExists: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
	duplicate: func(err error) bool {
		c := sqliteCode(err)
		return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	},
	retryable:   func(error) bool { return false },
	unavailable: sqliteUnavailable,
}

func backquote(s string) string   { return "`" + s + "`" }
func doublequote(s string) string { return `"` + s + `"` }

func mysqlErrno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func mysqlUnavailable(err error) bool {
	if commonUnavailable(err) || errors.Is(err, mysql.ErrInvalidConn) {
		return true
	}
	switch mysqlErrno(err) {
	case 1040, // too many connections
		1045, // access denied
		1049, // unknown database
		1053, // server shutdown in progress
		1129, // host blocked
		1152, // aborted connection
		1205, // lock wait timeout
		1213, // deadlock, still lost after retries
		1290, // --read-only
		1836, // read-only mode
		1927, // connection killed
		4031: // disconnected by the server (MariaDB)
		return true
	}
	return false
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func sqliteUnavailable(err error) bool {
	if commonUnavailable(err) {
		return true
	}
	switch sqliteCode(err) & 0xff { // primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM,
		sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT,
		sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// commonUnavailable catches failures to reach the database at all. A
// cancelled request is not one: only deadlines, which mean the database was
// too slow.
func commonUnavailable(err error) bool {
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &ne)
}

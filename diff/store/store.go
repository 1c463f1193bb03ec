// Package store keeps what the shadow comparison learns, in SQLite (the
// default) or MySQL (so that several proxy instances write to one place):
// per route the pairs seen by class and time bucket, per field the
// legacy-vs-legacy noise counts, a bounded set of redacted samples per
// field, the last pairs for the cutover gate, and QA's waivers.
//
// Counts are kept per pair shape (the set of differing fields), not per
// class: whether a field is noise or waived is decided when reading, with
// everything learned and accepted so far, so that reports and the gate
// never disagree.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite"

	"github.com/weaveproxy/weaveproxy/diff/noise"
	dsnpkg "github.com/weaveproxy/weaveproxy/internal/dsn"
)

// Options configure a store; zero fields take the defaults.
type Options struct {
	// BucketSize is the width of a stored time bucket; reports merge
	// buckets to fit the run they show, so it is only the finest grain.
	BucketSize time.Duration // 10s
	// SamplesPerField bounds the samples kept per route and field (the
	// newest are kept).
	SamplesPerField int // 5
	// SampleEvery: once a field has its samples, a new one replaces the
	// oldest at most this often, so that a steady difference does not
	// rewrite samples on every pair.
	SampleEvery time.Duration // 10s
	// MaxBodyBytes caps each body kept in a sample.
	MaxBodyBytes int // 64 KiB
	// KeepPairs is how many recent pairs per route are kept for the
	// cutover gate; a gate's LastM cannot exceed it.
	KeepPairs int // 10000
	// Noise are the learned-noise thresholds.
	Noise noise.Params
	// Now and NewID are the clock and the id source (tests fix them).
	Now   func() time.Time
	NewID func() string
}

func (o Options) withDefaults() Options {
	if o.BucketSize <= 0 {
		o.BucketSize = 10 * time.Second
	}
	if o.SamplesPerField <= 0 {
		o.SamplesPerField = 5
	}
	if o.SampleEvery <= 0 {
		o.SampleEvery = 10 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 10
	}
	if o.KeepPairs <= 0 {
		o.KeepPairs = 10000
	}
	if o.Noise == (noise.Params{}) {
		o.Noise = noise.DefaultParams()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = randomID
	}
	return o
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Store is a diff store. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	d    *dialect
	opt  Options
	desc string

	mu      sync.Mutex
	waivers []Waiver // active waivers, cached for Save
	loaded  time.Time
	saves   map[string]int // per route, to trim the pair log now and then
	// stmts: Save's statements, prepared by New (stmts.go); read-only
	// afterwards.
	stmts saveStmts
	// classes: per route, the analysis Save classifies with
	// (classcache.go); guarded by mu.
	classes map[string]*routeClasses
}

// Open opens the store a DSN names, as every weaveproxy flag takes one
// (dsn.Parse: "sqlite:PATH", "mysql:<go-sql-driver DSN>" or
// "mysql://…"), and creates its tables where missing. Errors name the DSN,
// password masked.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	kind, source, err := dsnpkg.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("diff store: %w", err)
	}
	var db *sql.DB
	d := sqliteDialect
	if kind == dsnpkg.MySQL {
		d = mysqlDialect
		db, err = openMySQL(source)
	} else {
		db, err = openSQLite(source)
	}
	if err != nil {
		return nil, fmt.Errorf("diff store %s: %w", dsnpkg.Redact(dsn), err)
	}
	s, err := New(ctx, db, d.name, opt)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("diff store %s: %w", dsnpkg.Redact(dsn), err)
	}
	s.desc = d.name
	return s, nil
}

// New uses an open database; dialect is "sqlite" or "mysql". For SQLite
// the caller should limit db to one open connection (Open does).
func New(ctx context.Context, db *sql.DB, dialectName string, opt Options) (*Store, error) {
	d := map[string]*dialect{"sqlite": sqliteDialect, "mysql": mysqlDialect}[dialectName]
	if d == nil {
		return nil, fmt.Errorf("diff store: unknown dialect %q", dialectName)
	}
	opt = opt.withDefaults()
	if err := opt.Noise.Validate(); err != nil {
		return nil, fmt.Errorf("diff store: %w", err)
	}
	s := &Store{db: db, d: d, opt: opt, desc: dialectName, saves: map[string]int{}}
	for _, stmt := range d.schema() {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("diff store: create schema: %w", err)
		}
	}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.closeStmts()
	return s.db.Close()
}

// Options returns the options in force (defaults filled in).
func (s *Store) Options() Options { return s.opt }

func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("diff store: empty SQLite path")
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	// One connection: SQLite has one writer anyway, and queueing in Go
	// beats SQLITE_BUSY. busy_timeout covers other processes (several
	// proxy instances on one host may share the file); WAL lets their
	// readers run beside a writer.
	params := "_pragma=busy_timeout(10000)&_txlock=immediate"
	if path != ":memory:" {
		params += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", path+sep+params)
	if err != nil {
		return nil, fmt.Errorf("diff store sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

func openMySQL(dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("diff store mysql: DSN: %w", err)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("diff store mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetConnMaxLifetime(3 * time.Minute)
	db.SetMaxIdleConns(4)
	return db, nil
}

// dialect holds what differs between SQLite and MySQL.
type dialect struct {
	name string
	// tableSuffix follows CREATE TABLE (MySQL: engine and charset).
	tableSuffix string
	// addOnConflict turns "INSERT ... VALUES (...)" into an upsert adding
	// column n of the new row to the stored one.
	addOnConflict func(pk string) string
	// ignoreOnConflict makes an INSERT keep the stored row.
	ignoreOnConflict func(pk string) string
	retryable        func(error) bool
}

var sqliteDialect = &dialect{
	name:             "sqlite",
	addOnConflict:    func(pk string) string { return " ON CONFLICT (" + pk + ") DO UPDATE SET n = n + excluded.n" },
	ignoreOnConflict: func(pk string) string { return " ON CONFLICT (" + pk + ") DO NOTHING" },
	retryable:        func(error) bool { return false },
}

var mysqlDialect = &dialect{
	name:             "mysql",
	tableSuffix:      " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	addOnConflict:    func(string) string { return " ON DUPLICATE KEY UPDATE n = n + VALUES(n)" },
	ignoreOnConflict: func(string) string { return " ON DUPLICATE KEY UPDATE hash = hash" },
	retryable: func(err error) bool {
		var me *mysql.MySQLError
		return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
	},
}

// Key columns are VARCHAR(190): with utf8mb4 that stays within InnoDB's
// 767-byte column limit of older row formats. Longer routes and field
// paths are cut (keyText) before they are written.
const keyLen = 190

func (d *dialect) schema() []string {
	tables := []string{
		`diff_shapes (route VARCHAR(190) NOT NULL, hash CHAR(16) NOT NULL, shape TEXT NOT NULL,
			PRIMARY KEY (route, hash))`,
		`diff_counts (route VARCHAR(190) NOT NULL, bucket BIGINT NOT NULL, base VARCHAR(20) NOT NULL,
			hash CHAR(16) NOT NULL, dry_run SMALLINT NOT NULL, n BIGINT NOT NULL,
			PRIMARY KEY (route, bucket, base, hash, dry_run))`,
		`diff_noise (route VARCHAR(190) NOT NULL, field VARCHAR(190) NOT NULL, n BIGINT NOT NULL,
			PRIMARY KEY (route, field))`,
		`diff_rules (route VARCHAR(190) NOT NULL, rule VARCHAR(190) NOT NULL, n BIGINT NOT NULL,
			PRIMARY KEY (route, rule))`,
		`diff_pairs (route VARCHAR(190) NOT NULL, at_ns BIGINT NOT NULL, id CHAR(16) NOT NULL,
			base VARCHAR(20) NOT NULL, hash CHAR(16) NOT NULL, dry_run SMALLINT NOT NULL,
			PRIMARY KEY (route, at_ns, id))`,
		`diff_pair_keys (route VARCHAR(190) NOT NULL, at_ns BIGINT NOT NULL, id CHAR(16) NOT NULL,
			user_key CHAR(16) NOT NULL, request CHAR(16) NOT NULL, PRIMARY KEY (route, at_ns, id))`,
		`diff_samples (id CHAR(16) NOT NULL PRIMARY KEY, route VARCHAR(190) NOT NULL, at_ns BIGINT NOT NULL,
			dry_run SMALLINT NOT NULL, pair MEDIUMTEXT NOT NULL, findings MEDIUMTEXT NOT NULL)`,
		`diff_sample_refs (route VARCHAR(190) NOT NULL, field VARCHAR(190) NOT NULL, at_ns BIGINT NOT NULL,
			sample_id CHAR(16) NOT NULL, PRIMARY KEY (route, field, sample_id))`,
		`diff_uncompared (route VARCHAR(190) NOT NULL, reason VARCHAR(64) NOT NULL, n BIGINT NOT NULL,
			PRIMARY KEY (route, reason))`,
		`diff_waivers (id CHAR(16) NOT NULL PRIMARY KEY, route VARCHAR(190) NOT NULL,
			field VARCHAR(190) NOT NULL, shape TEXT NOT NULL, legacy_contains TEXT NOT NULL,
			request_match TEXT NOT NULL, reason TEXT NOT NULL, by_who VARCHAR(190) NOT NULL,
			created_ns BIGINT NOT NULL, revoked_ns BIGINT NOT NULL, revoked_by VARCHAR(190) NOT NULL)`,
	}
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = "CREATE TABLE IF NOT EXISTS " + t + d.tableSuffix
	}
	return out
}

// keyText cuts s to what a key column holds.
func keyText(s string) string {
	r := []rune(s)
	if len(r) <= keyLen {
		return s
	}
	return string(r[:keyLen-1]) + "…"
}

// inTx runs f in a transaction, retrying it when MySQL reports a deadlock
// (concurrent upserts from several proxy instances).
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var tx *sql.Tx
		if tx, err = s.db.BeginTx(ctx, nil); err != nil {
			return err
		}
		if err = f(tx); err == nil {
			if err = tx.Commit(); err == nil {
				return nil
			}
		} else {
			_ = tx.Rollback()
		}
		if !s.d.retryable(err) {
			return err
		}
	}
	return err
}

package sqlstore

import (
	"context"
	"fmt"
)

// Init creates every table that does not exist yet, with its indexes. It
// never alters an existing table: a legacy table keeps exactly the columns
// and indexes it has (the users table, for one, gets a unique index on
// username only when Init creates it). Running it again is harmless.
//
// The storage tables are keyed as the wbo table found says, or as
// configured when there is none (see keying.go).
func (e *Engine) Init(ctx context.Context) error {
	if err := e.detectKeying(ctx); err != nil {
		return err
	}
	user := e.d.idType
	if e.names != nil {
		user = e.d.nameType
	}
	for _, td := range e.d.schema(e.t, user) {
		var n int
		if err := e.db.QueryRowContext(ctx, e.d.tableExists, td.name).Scan(&n); err != nil {
			return e.wrap("init: look for table "+td.name, err)
		}
		if n > 0 {
			continue
		}
		for _, stmt := range td.stmts {
			if _, err := e.db.ExecContext(ctx, stmt); err != nil {
				return e.wrap("init: create "+td.name, err)
			}
		}
		e.log.InfoContext(ctx, "created table", "table", td.name)
	}
	e.prepareUpserts(ctx)
	return nil
}

// mysqlSchema is the legacy PHP schema (storage.md §10, user.md §1) plus our
// own tables. The character set is only given for tables we create; utf8mb4
// because payloads are arbitrary Unicode.
func mysqlSchema(t tables, user string) []tableDDL {
	q := backquote
	const opts = ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	return []tableDDL{
		{t.users, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.users) + ` (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username VARCHAR(32),
  md5 VARBINARY(32),
  email VARBINARY(64),
  location TEXT,
  status TINYINT DEFAULT 1,
  alert TEXT,
  UNIQUE KEY username (username)` + opts}},
		{t.collections, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.collections) + ` (
  userid ` + user + ` NOT NULL,
  collectionid SMALLINT NOT NULL,
  name VARCHAR(32) NOT NULL,
  PRIMARY KEY (userid, collectionid),
  KEY nameindex (userid, name)` + opts}},
		{t.wbo, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.wbo) + ` (
  username ` + user + ` NOT NULL,
  collection SMALLINT NOT NULL DEFAULT 0,
  id VARBINARY(64) NOT NULL DEFAULT '',
  parentid VARBINARY(64) NULL,
  predecessorid VARBINARY(64) NULL,
  sortindex INT NULL,
  modified BIGINT NULL,
  payload LONGTEXT,
  payload_size INT NULL,
  PRIMARY KEY (username, collection, id),
  KEY parentindex (username, collection, parentid),
  KEY modified (username, collection, modified),
  KEY weightindex (username, collection, sortindex),
  KEY predecessorindex (username, collection, predecessorid),
  KEY size_index (username, payload_size)` + opts}},
		{t.ttl, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.ttl) + ` (
  username ` + user + ` NOT NULL,
  collection SMALLINT NOT NULL,
  id VARBINARY(64) NOT NULL,
  modified BIGINT NULL,
  ttl INT NOT NULL,
  PRIMARY KEY (username, collection, id)` + opts}},
		{t.reset, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.reset) + ` (
  userid INT NOT NULL PRIMARY KEY,
  code VARCHAR(32) NOT NULL,
  expires BIGINT NOT NULL` + opts}},
		{t.ids, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.ids) + ` (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username VARCHAR(255) NOT NULL,
  UNIQUE KEY username (username)` + opts}},
		{t.stamps, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.stamps) + ` (
  username ` + user + ` NOT NULL PRIMARY KEY,
  last BIGINT NOT NULL` + opts}},
		{t.nodes, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.nodes) + ` (
  node VARCHAR(255) NOT NULL PRIMARY KEY,
  capacity INT NOT NULL,
  assigned INT NOT NULL DEFAULT 0` + opts}},
		{t.nodeUsers, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.nodeUsers) + ` (
  userid INT NOT NULL PRIMARY KEY,
  node VARCHAR(255) NOT NULL` + opts}},
		{t.sums, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.sums) + ` (
  username ` + user + ` NOT NULL,
  collection SMALLINT NOT NULL,
  items BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  high BIGINT NOT NULL,
  PRIMARY KEY (username, collection)` + opts}},
		{t.hashes, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.hashes) + ` (
  userid INT NOT NULL PRIMARY KEY,
  hash VARBINARY(255) NOT NULL` + opts}},
	}
}

// sqliteSchema mirrors the MySQL one. Ids are TEXT, whose default BINARY
// collation compares them byte for byte as VARBINARY does; CHECK
// constraints give the length and range limits that MySQL's strict mode
// enforces, so that both engines refuse the same rows. Names (users,
// collections) compare case-insensitively, as under MySQL's default
// collations. Index names carry the table name: SQLite's are per database.
func sqliteSchema(t tables, user string) []tableDDL {
	q := doublequote
	idx := func(table, name, cols string) string {
		return fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", q(table+"_"+name), q(table), cols)
	}
	bytesMax := func(col string, n int) string {
		return fmt.Sprintf("CHECK (length(CAST(%s AS BLOB)) <= %d)", col, n)
	}
	const intRange = "BETWEEN -2147483648 AND 2147483647"
	return []tableDDL{
		{t.users, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.users) + ` (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT COLLATE NOCASE ` + bytesMax("username", 32) + `,
  md5 TEXT ` + bytesMax("md5", 32) + `,
  email TEXT ` + bytesMax("email", 64) + `,
  location TEXT,
  status INTEGER DEFAULT 1,
  alert TEXT)`,
			fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (username)", q(t.users+"_username"), q(t.users)),
		}},
		{t.collections, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.collections) + ` (
  userid ` + user + ` NOT NULL,
  collectionid INTEGER NOT NULL CHECK (collectionid BETWEEN -32768 AND 32767),
  name TEXT NOT NULL COLLATE NOCASE ` + bytesMax("name", 32) + `,
  PRIMARY KEY (userid, collectionid))`,
			idx(t.collections, "nameindex", "userid, name"),
		}},
		{t.wbo, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.wbo) + ` (
  username ` + user + ` NOT NULL,
  collection INTEGER NOT NULL DEFAULT 0,
  id TEXT NOT NULL DEFAULT '' ` + bytesMax("id", 64) + `,
  parentid TEXT NULL ` + bytesMax("parentid", 64) + `,
  predecessorid TEXT NULL ` + bytesMax("predecessorid", 64) + `,
  sortindex INTEGER NULL CHECK (sortindex ` + intRange + `),
  modified INTEGER NULL,
  payload TEXT,
  payload_size INTEGER NULL,
  PRIMARY KEY (username, collection, id))`,
			idx(t.wbo, "parentindex", "username, collection, parentid"),
			idx(t.wbo, "modified", "username, collection, modified"),
			idx(t.wbo, "weightindex", "username, collection, sortindex"),
			idx(t.wbo, "predecessorindex", "username, collection, predecessorid"),
			idx(t.wbo, "size_index", "username, payload_size"),
		}},
		{t.ttl, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.ttl) + ` (
  username ` + user + ` NOT NULL,
  collection INTEGER NOT NULL,
  id TEXT NOT NULL,
  modified INTEGER NULL,
  ttl INTEGER NOT NULL,
  PRIMARY KEY (username, collection, id))`}},
		{t.reset, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.reset) + ` (
  userid INTEGER NOT NULL PRIMARY KEY,
  code TEXT NOT NULL,
  expires INTEGER NOT NULL)`}},
		{t.ids, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.ids) + ` (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL COLLATE NOCASE UNIQUE)`}},
		{t.stamps, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.stamps) + ` (
  username ` + user + ` NOT NULL PRIMARY KEY,
  last INTEGER NOT NULL)`}},
		{t.nodes, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.nodes) + ` (
  node TEXT NOT NULL PRIMARY KEY,
  capacity INTEGER NOT NULL,
  assigned INTEGER NOT NULL DEFAULT 0)`}},
		{t.nodeUsers, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.nodeUsers) + ` (
  userid INTEGER NOT NULL PRIMARY KEY,
  node TEXT NOT NULL)`}},
		{t.sums, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.sums) + ` (
  username ` + user + ` NOT NULL,
  collection INTEGER NOT NULL,
  items INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  high INTEGER NOT NULL,
  PRIMARY KEY (username, collection))`}},
		{t.hashes, []string{`CREATE TABLE IF NOT EXISTS ` + q(t.hashes) + ` (
  userid INTEGER NOT NULL PRIMARY KEY,
  hash TEXT NOT NULL)`}},
	}
}

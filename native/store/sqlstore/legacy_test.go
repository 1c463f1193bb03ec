package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
)

// legacyDDL is the legacy schema as an existing installation has it:
// written by hand, without our charset and without a unique index on
// users.username.
var legacyDDL = map[string]map[string]string{
	"mysql": {
		"users": `CREATE TABLE users (id int(11) NOT NULL AUTO_INCREMENT PRIMARY KEY, username varchar(32),
  md5 varbinary(32), email varbinary(64), location text, status tinyint(4) DEFAULT 1, alert text) ENGINE=InnoDB`,
		"collections": `CREATE TABLE collections (userid int(11) NOT NULL, collectionid smallint(6) NOT NULL,
  name varchar(32) NOT NULL, PRIMARY KEY (userid, collectionid), KEY nameindex (userid, name)) ENGINE=InnoDB`,
		"wbo": `CREATE TABLE wbo (username int(11) NOT NULL, collection smallint(6) NOT NULL DEFAULT 0,
  id varbinary(64) NOT NULL DEFAULT '', parentid varbinary(64) DEFAULT NULL, predecessorid varbinary(64) DEFAULT NULL,
  sortindex int(11) DEFAULT NULL, modified bigint(20) DEFAULT NULL, payload longtext, payload_size int(11) DEFAULT NULL,
  PRIMARY KEY (username, collection, id), KEY parentindex (username, collection, parentid),
  KEY modified (username, collection, modified), KEY weightindex (username, collection, sortindex),
  KEY predecessorindex (username, collection, predecessorid), KEY size_index (username, payload_size)) ENGINE=InnoDB`,
	},
	"sqlite": {
		"users": `CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT, md5 TEXT,
  email TEXT, location TEXT, status INTEGER DEFAULT 1, alert TEXT)`,
		"collections": `CREATE TABLE collections (userid INTEGER NOT NULL, collectionid INTEGER NOT NULL,
  name TEXT NOT NULL, PRIMARY KEY (userid, collectionid))`,
		"wbo": `CREATE TABLE wbo (username INTEGER NOT NULL, collection INTEGER NOT NULL DEFAULT 0,
  id TEXT NOT NULL DEFAULT '', parentid TEXT, predecessorid TEXT, sortindex INTEGER, modified INTEGER,
  payload TEXT, payload_size INTEGER, PRIMARY KEY (username, collection, id))`,
	},
}

// schemaOf is what the database says a table (with its indexes) is.
func schemaOf(t *testing.T, db *sql.DB, backend, table string) string {
	t.Helper()
	ctx := context.Background()
	if backend == "mysql" {
		var name, ddl string
		if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE "+table).Scan(&name, &ddl); err != nil {
			t.Fatal(err)
		}
		return ddl
	}
	rows, err := db.QueryContext(ctx, "SELECT COALESCE(sql, '') FROM sqlite_master WHERE tbl_name = ? ORDER BY name", table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out += s + ";\n"
	}
	return out
}

func TestInitKeepsLegacyTables(t *testing.T) {
	forEachDSN(t, func(t *testing.T, b backend, dsn string) {
		ctx := context.Background()
		e, err := Open(ctx, dsn, Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		before := map[string]string{}
		for table, ddl := range legacyDDL[b.name] {
			if _, err := e.DB().ExecContext(ctx, ddl); err != nil {
				t.Fatal(err)
			}
			before[table] = schemaOf(t, e.DB(), b.name, table)
		}
		for range 2 { // idempotent
			if err := e.Init(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for table, want := range before {
			if diff := cmp.Diff(want, schemaOf(t, e.DB(), b.name, table)); diff != "" {
				t.Errorf("Init changed legacy table %s (-before +after):\n%s", table, diff)
			}
		}
		for _, ours := range []string{"wbo_ttl", "reset_codes"} {
			if schemaOf(t, e.DB(), b.name, ours) == "" {
				t.Errorf("Init did not create %s", ours)
			}
		}
		// And the engine works on them.
		id, err := e.CreateUser(ctx, store.User{Username: "legacy", MD5: "m"})
		if err != nil {
			t.Fatal(err)
		}
		mustPut(t, e, id, "custom", wbo("a", "p", 100))
		if got := mustGet(t, e, id, "custom", store.Query{}); len(got) != 1 {
			t.Fatalf("engine on legacy tables: %v", got)
		}
	})
}

func TestInitCreatesFullSchema(t *testing.T) {
	forEachDSN(t, func(t *testing.T, b backend, dsn string) {
		e := openEngine(t, dsn, Config{})
		first := map[string]string{}
		for _, table := range []string{"users", "collections", "wbo", "wbo_ttl", "reset_codes"} {
			first[table] = schemaOf(t, e.DB(), b.name, table)
		}
		if err := e.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		for table, want := range first {
			if diff := cmp.Diff(want, schemaOf(t, e.DB(), b.name, table)); diff != "" {
				t.Errorf("second Init changed %s:\n%s", table, diff)
			}
		}
		if b.name == "mysql" {
			for _, key := range []string{"PRIMARY KEY (`username`,`collection`,`id`)", "KEY `parentindex`",
				"KEY `modified`", "KEY `weightindex`", "KEY `predecessorindex`", "KEY `size_index`",
				"`id` varbinary(64) NOT NULL DEFAULT ''", "`payload` longtext", "ENGINE=InnoDB"} {
				if !strings.Contains(first["wbo"], key) {
					t.Errorf("wbo lacks %s:\n%s", key, first["wbo"])
				}
			}
			if !strings.Contains(first["users"], "UNIQUE KEY `username`") {
				t.Errorf("a users table we create has a unique username:\n%s", first["users"])
			}
		}
	})
}

// TestLegacyRows reads rows written the way the PHP server writes them:
// its INSERT ... ON DUPLICATE KEY UPDATE, its collections numbering, its
// users rows.
func TestLegacyRows(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		db := e.DB()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec("INSERT INTO users (username, md5, email) VALUES (?, ?, ?)", "carol", "c0ffee", "carol@example.org")
		u, err := e.UserByName(ctx, "Carol")
		if err != nil || u.Status != 1 || u.MD5 != "c0ffee" || u.Location != "" {
			t.Fatalf("legacy user: %+v %v", u, err)
		}
		exec("INSERT INTO collections (userid, collectionid, name) VALUES (?, 101, 'addons')", u.ID)
		payload := `{"ciphertext":"ü🦊"}`
		for _, row := range []struct {
			id   string
			coll int
			mod  int64
		}{{"b1", 7, 179589550065}, {"a1", 101, 179589550070}} {
			exec("INSERT INTO wbo (username, id, collection, parentid, predecessorid, sortindex, modified, payload, payload_size)"+
				" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", u.ID, row.id, row.coll, "menu", nil, 3, row.mod, payload, len(payload))
		}
		got, err := e.GetItem(ctx, u.ID, "bookmarks", "b1", 0)
		if err != nil {
			t.Fatal(err)
		}
		want := store.WBO{ID: "b1", ParentID: ptr("menu"), SortIndex: ptr[int64](3), Modified: ts(179589550065),
			Payload: &payload, PayloadSize: int64(len(payload))}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("legacy row (-want +got):\n%s", diff)
		}
		stamps, err := e.CollectionTimestamps(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]store.Timestamp{"bookmarks": 179589550065, "addons": 179589550070}, stamps); diff != "" {
			t.Fatalf("timestamps (-want +got):\n%s", diff)
		}
		// Our next custom collection follows PHP's numbering.
		mustPut(t, e, u.ID, "mine", wbo("m", "p", 1))
		if id := count(t, e, "SELECT collectionid FROM collections WHERE name = 'mine'"); id != 102 {
			t.Fatalf("new custom id %d after PHP's 101, want 102", id)
		}
		if got := mustGet(t, e, u.ID, "addons", store.Query{}); len(got) != 1 || got[0].ID != "a1" {
			t.Fatalf("PHP's custom collection: %v", got)
		}
	})
}

func TestTwoEnginesOneDatabase(t *testing.T) {
	forEachDSN(t, func(t *testing.T, b backend, dsn string) {
		ctx := context.Background()
		e1 := openEngine(t, dsn, Config{})
		e2 := openEngine(t, dsn, Config{WBOTable: "wbo2", CollectionsTable: "coll2", UsersTable: "users2"})
		for _, table := range []string{"wbo2", "coll2", "users2", "wbo2_ttl", "users2_reset_codes"} {
			if schemaOf(t, e1.DB(), b.name, table) == "" {
				t.Fatalf("table %s not created", table)
			}
		}
		id1, err1 := e1.CreateUser(ctx, store.User{Username: "same", MD5: "1"})
		id2, err2 := e2.CreateUser(ctx, store.User{Username: "same", MD5: "2"})
		if err1 != nil || err2 != nil {
			t.Fatalf("same name in two engines: %v, %v", err1, err2)
		}
		w := wbo("x", "one", 100)
		w.TTL = ptr[int64](50)
		mustPut(t, e1, id1, "custom", w)
		mustPut(t, e2, id2, "custom", wbo("x", "two", 200))
		if got, err := e2.GetItem(ctx, id2, "custom", "x", 10_000); err != nil || *got.Payload != "two" {
			t.Fatalf("engine 2 sees %+v, %v (engine 1's ttl must not apply)", got, err)
		}
		if _, err := e1.GetItem(ctx, id1, "custom", "x", 10_000); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("engine 1's own ttl: %v", err)
		}
		if u, _ := e2.UserByName(ctx, "same"); u.MD5 != "2" {
			t.Fatalf("engine 2 user: %+v", u)
		}
	})
}

func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	port := testenv.FreePort(t) // nothing listens there
	for name, dsn := range map[string]string{
		"mysql":  "mysql:root@tcp(127.0.0.1:" + strconv.Itoa(port) + ")/weave?timeout=2s",
		"sqlite": "sqlite:" + t.TempDir() + "/no/such/dir/weave.db",
	} {
		t.Run(name, func(t *testing.T) {
			e, err := Open(ctx, dsn, Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if err := e.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Ping: %v, want ErrUnavailable", err)
			}
			if _, err := e.GetItems(ctx, 1, "custom", store.Query{}); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("GetItems: %v, want ErrUnavailable", err)
			}
			if _, err := e.PutItems(ctx, 1, "tabs", []store.WBO{wbo("a", "b", 1)}); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("PutItems: %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	for _, c := range []struct {
		dsn string
		cfg Config
	}{
		{"postgres://x", Config{}},
		{"mysql:not a dsn", Config{}},
		{"sqlite:", Config{}},
		{"sqlite:/tmp/x.db", Config{WBOTable: "wbo; DROP TABLE users"}},
	} {
		if e, err := Open(context.Background(), c.dsn, c.cfg); err == nil {
			e.Close()
			t.Errorf("Open(%q, %+v) succeeded", c.dsn, c.cfg)
		}
	}
}

// TestLatin1LegacyDatabase runs on a legacy database in MySQL's old
// default character set, read through a latin1 connection as PHP's did:
// bytes pass through untouched, so UTF-8 payloads and ids round-trip
// exactly and sizes stay in bytes.
func TestLatin1LegacyDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := strings.Replace(testenv.MariaDB(t), "charset=utf8mb4", "charset=latin1", 1)
	e, err := Open(ctx, "mysql:"+dsn, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.DB().ExecContext(ctx, "ALTER DATABASE CHARACTER SET latin1"); err != nil {
		t.Fatal(err)
	}
	for _, ddl := range legacyDDL["mysql"] {
		if _, err := e.DB().ExecContext(ctx, ddl); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Init(ctx); err != nil {
		t.Fatal(err)
	}
	payload := `{"ciphertext":"héllo 🦊"}`
	w := wbo("🦊", payload, 100)
	w.ParentID = ptr("père")
	mustPut(t, e, 1, "näme-🦊", w)
	got, err := e.GetItem(ctx, 1, "näme-🦊", "🦊", 0)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Payload != payload || *got.ParentID != "père" || got.PayloadSize != int64(len(payload)) {
		t.Fatalf("latin1 round trip: %q %q %d", *got.Payload, *got.ParentID, got.PayloadSize)
	}
	var stored int
	if err := e.DB().QueryRowContext(ctx, "SELECT LENGTH(payload) FROM wbo").Scan(&stored); err != nil || stored != len(payload) {
		t.Fatalf("stored %d bytes (%v), want the UTF-8 bytes as they are, %d", stored, err, len(payload))
	}
	stamps, err := e.CollectionTimestamps(ctx, 1)
	if err != nil || stamps["näme-🦊"] != 100 {
		t.Fatalf("timestamps %v %v", stamps, err)
	}
}

package sqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// nameKeyedDDL is the legacy schema of a deployment keying storage by
// user name: wbo.username and collections.userid strings.
func nameKeyedDDL(backend string) []string {
	r := strings.NewReplacer(
		"username int(11) NOT NULL", "username varchar(32) NOT NULL",
		"userid int(11) NOT NULL", "userid varchar(32) NOT NULL",
		"username INTEGER NOT NULL", "username TEXT NOT NULL",
		"userid INTEGER NOT NULL", "userid TEXT NOT NULL")
	var out []string
	for _, table := range []string{"users", "collections", "wbo"} {
		out = append(out, r.Replace(legacyDDL[backend][table]))
	}
	return out
}

// TestInitDetectsNameKeying: Init on tables keyed by name (made by hand,
// as an old deployment has them) keys by name without being told, and
// the rows written there carry the user's name.
func TestInitDetectsNameKeying(t *testing.T) {
	ctx := context.Background()
	forEachDSN(t, func(t *testing.T, b backend, dsn string) {
		raw, err := Open(ctx, dsn, Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ddl := range nameKeyedDDL(b.name) {
			if _, err := raw.DB().ExecContext(ctx, ddl); err != nil {
				t.Fatalf("%s: %v", ddl, err)
			}
		}
		raw.Close()

		if _, err := openEngineErr(t, dsn, Config{StorageKey: KeyID}); err == nil {
			t.Fatal("Init with storage keyed by id on name-keyed tables: no error")
		}
		e := openEngine(t, dsn, Config{})
		if !e.KeyedByName() {
			t.Fatal("Init on a name-keyed wbo: keyed by id")
		}
		alice, err := e.CreateUser(ctx, store.User{Username: "alice", MD5: "x", Status: 1})
		if err != nil {
			t.Fatal(err)
		}
		bob, err := e.CreateUser(ctx, store.User{Username: "bob", MD5: "x", Status: 1})
		if err != nil {
			t.Fatal(err)
		}
		mustPut(t, e, alice, "custom", wbo("a", "A", 100))
		mustPut(t, e, bob, "custom", wbo("b", "B", 200))
		if n := count(t, e, "SELECT COUNT(*) FROM wbo WHERE username = 'alice' AND id = 'a'"); n != 1 {
			t.Errorf("alice's row under her name: %d rows", n)
		}
		if n := count(t, e, "SELECT COUNT(*) FROM collections WHERE userid = 'bob' AND name = 'custom'"); n != 1 {
			t.Errorf("bob's collection under his name: %d rows", n)
		}
		if got := ids(mustGet(t, e, alice, "custom", store.Query{})); len(got) != 1 || got[0] != "a" {
			t.Errorf("alice reads %v, want [a]", got)
		}
		if err := e.DeleteUser(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if n := count(t, e, "SELECT COUNT(*) FROM wbo WHERE username = 'alice'"); n != 0 {
			t.Errorf("deleted alice keeps %d rows", n)
		}
		if got := ids(mustGet(t, e, bob, "custom", store.Query{})); len(got) != 1 || got[0] != "b" {
			t.Errorf("bob reads %v after alice's deletion, want [b]", got)
		}
		if _, err := e.PutItems(ctx, alice, "custom", []store.WBO{wbo("c", "C", 300)}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("write for a deleted id: %v, want ErrNotFound", err)
		}
	})
}

// TestInitKeysAsConfigured: a fresh database gets the configured keying,
// and a later Init, told nothing, keeps to it; told the other keying, it
// refuses rather than altering the tables.
func TestInitKeysAsConfigured(t *testing.T) {
	forEachDSN(t, func(t *testing.T, b backend, dsn string) {
		e := openEngine(t, dsn, Config{StorageKey: KeyName})
		if !e.KeyedByName() {
			t.Fatal("configured by name, keyed by id")
		}
		if again := openEngine(t, dsn, Config{}); !again.KeyedByName() {
			t.Error("second Init on name-keyed tables: keyed by id")
		}
		if _, err := openEngineErr(t, dsn, Config{StorageKey: KeyID}); err == nil {
			t.Error("Init keyed by id on tables keyed by name: no error")
		}

		byID := b.dsn(t)
		if e := openEngine(t, byID, Config{}); e.KeyedByName() {
			t.Error("fresh database, nothing configured: keyed by name")
		}
		if _, err := openEngineErr(t, byID, Config{StorageKey: KeyName}); err == nil {
			t.Error("Init keyed by name on tables keyed by id: no error")
		}
	})
}

func TestParseStorageKey(t *testing.T) {
	for in, want := range map[string]string{"": KeyAuto, "auto": KeyAuto, "id": KeyID, "name": KeyName} {
		if got, err := ParseStorageKey(in); err != nil || got != want {
			t.Errorf("ParseStorageKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseStorageKey("username"); err == nil {
		t.Error(`ParseStorageKey("username"): no error`)
	}
}

// openEngineErr is openEngine for an Init expected to fail.
func openEngineErr(t *testing.T, dsn string, cfg Config) (*Engine, error) {
	t.Helper()
	ctx := context.Background()
	e, err := Open(ctx, dsn, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { e.Close() })
	return e, e.Init(ctx)
}

// TestNamesFromAccounts: a node's storage database keyed by name holds no
// accounts; the names come from the accounts engine's users table.
func TestNamesFromAccounts(t *testing.T) {
	ctx := context.Background()
	accounts := openEngine(t, backends[0].dsn(t), Config{})
	node := openEngine(t, backends[0].dsn(t), Config{StorageKey: KeyName})
	alice, err := accounts.CreateUser(ctx, store.User{Username: "alice", MD5: "x", Status: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.PutItems(ctx, alice, "bookmarks", []store.WBO{wbo("a", "A", 100)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("write before NamesFrom: %v, want ErrNotFound (no such account on the node)", err)
	}
	node.NamesFrom(accounts)
	mustPut(t, node, alice, "bookmarks", wbo("a", "A", 100))
	if n := count(t, node, "SELECT COUNT(*) FROM wbo WHERE username = 'alice'"); n != 1 {
		t.Errorf("node keeps %d rows under alice's name, want 1", n)
	}
}

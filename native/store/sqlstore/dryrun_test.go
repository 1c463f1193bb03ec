package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"

	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestDryRunLeavesNothing(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		alice, _ := e.CreateUser(ctx, store.User{Username: "alice", MD5: "a"})
		mustPut(t, e, alice, "bookmarks", wbo("keep", "before", 100))
		sentinel := errors.New("from fn")
		err := e.DryRun(ctx, func(v store.Engine) error {
			if _, err := v.CreateUser(ctx, store.User{Username: "ghost", MD5: "g"}); err != nil {
				return err
			}
			if _, err := v.UserByName(ctx, "ghost"); err != nil {
				return fmt.Errorf("view does not see its own user: %w", err)
			}
			w := wbo("new", "p", 200)
			w.TTL = ptr[int64](2_000_000_000)
			if _, err := v.PutItems(ctx, alice, "custom", []store.WBO{w, wbo("keep", "changed", 200)}); err != nil {
				return err
			}
			got, err := v.GetItems(ctx, alice, "custom", store.Query{})
			if err != nil || len(got) != 2 {
				return fmt.Errorf("view reads %v, %v", got, err)
			}
			// A failing write inside the view leaves the view as it was.
			if _, err := v.PutItems(ctx, alice, "custom", []store.WBO{wbo("x", "p", 300), wbo(strings.Repeat("z", 65), "p", 300)}); err == nil {
				return errors.New("65-byte id accepted")
			}
			if _, err := v.GetItem(ctx, alice, "custom", "x", 0); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("failed batch visible in the view: %v", err)
			}
			// Nested dry run: its writes vanish, the outer ones stay.
			err = v.DryRun(ctx, func(inner store.Engine) error {
				_, err := inner.DeleteItems(ctx, alice, "custom", store.Query{})
				return err
			})
			if err != nil {
				return err
			}
			if _, err := v.GetItem(ctx, alice, "custom", "new", 0); err != nil {
				return fmt.Errorf("nested dry run kept its delete: %v", err)
			}
			for _, f := range []func() error{
				func() error { return v.SetEmail(ctx, alice, "x@y") },
				func() error { return v.SetResetCode(ctx, alice, store.ResetCode{Code: "C"}) },
				func() error { _, err := v.DeleteItems(ctx, alice, "bookmarks", store.Query{}); return err },
				func() error { return v.DeleteStorage(ctx, alice) },
				func() error { return v.DeleteUser(ctx, alice) },
				func() error { return v.Ping(ctx) },
				v.Close, // a no-op on a view
			} {
				if err := f(); err != nil {
					return err
				}
			}
			return sentinel
		})
		if !errors.Is(err, sentinel) {
			t.Fatalf("DryRun: %v, want fn's error", err)
		}
		for _, table := range []string{"users WHERE username = 'ghost'", "wbo WHERE id <> 'keep'", "wbo_ttl",
			"collections", "reset_codes"} {
			if n := count(t, e, "SELECT COUNT(*) FROM "+table); n != 0 {
				t.Errorf("%s: %d rows after a dry run", table, n)
			}
		}
		got, err := e.GetItem(ctx, alice, "bookmarks", "keep", 0)
		if err != nil || *got.Payload != "before" {
			t.Fatalf("row changed by a dry run: %+v %v", got, err)
		}
		if u, err := e.UserByName(ctx, "alice"); err != nil || u.Email != "" {
			t.Fatalf("user changed by a dry run: %+v %v", u, err)
		}
		// The engine still works, and was not closed by the view.
		mustPut(t, e, alice, "bookmarks", wbo("after", "p", 300))
	})
}

// TestConcurrentWriters hammers one user from many goroutines and two
// engine values (as two processes would be): no write may fail, SQLite's
// busy errors included, and a custom collection gets one id.
func TestConcurrentWriters(t *testing.T) {
	forEachDSN(t, func(t *testing.T, b backend, dsn string) {
		ctx := context.Background()
		engines := []*Engine{openEngine(t, dsn, Config{}), openEngine(t, dsn, Config{})}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 16 {
			e := engines[g%2]
			wg.Go(func() {
				for i := range 10 {
					items := []store.WBO{wbo(fmt.Sprintf("g%d-%d", g, i), "p", int64(i)), wbo("common", fmt.Sprint(g), int64(i))}
					if _, err := e.PutItems(ctx, 1, "custom", items); err != nil {
						errs <- err
						return
					}
					if _, err := e.GetItems(ctx, 1, "custom", store.Query{Limit: 5}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := count(t, engines[0], "SELECT COUNT(*) FROM collections"); n != 1 {
			t.Fatalf("%d collections rows for one name", n)
		}
		if got := mustGet(t, engines[1], 1, "custom", store.Query{}); len(got) != 161 {
			t.Fatalf("%d items, want 161", len(got))
		}
	})
}

// A dry run reads a snapshot taken when it starts and holds no lock: while
// it has written (in memory) the rows of a user, another connection
// updates and inserts those very rows, and registers the same new name,
// without waiting; the dry run keeps seeing the database as it was,
// merged with its own writes.
func TestDryRunTakesNoLockAndReadsItsSnapshot(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		alice, _ := e.CreateUser(ctx, store.User{Username: "alice", MD5: "a"})
		mustPut(t, e, alice, "bookmarks", wbo("keep", "before", 100), wbo("other", "o", 101))
		other := openEngine(t, dsnOf(t, e), Config{})
		if e.Name() == "mysql" {
			// One connection whose lock waits give up at once.
			other.db.SetMaxOpenConns(1)
			if _, err := other.db.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1"); err != nil {
				t.Fatal(err)
			}
		}
		waitsBefore := lockWaits(t, e)
		err := e.DryRun(ctx, func(v store.Engine) error {
			w := wbo("keep", "dry", 200)
			if _, err := v.PutItems(ctx, alice, "bookmarks", []store.WBO{w, wbo("new", "dry", 200)}); err != nil {
				return err
			}
			if _, err := v.DeleteItems(ctx, alice, "bookmarks", store.Query{IDs: []string{"other"}, HasIDs: true}); err != nil {
				return err
			}
			if _, err := v.CreateUser(ctx, store.User{Username: "bob", MD5: "b"}); err != nil {
				return err
			}
			// The live database, meanwhile, from elsewhere.
			start := time.Now()
			if _, err := other.PutItems(ctx, alice, "bookmarks", []store.WBO{wbo("keep", "live", 300),
				wbo("new", "live", 300), wbo("other", "live", 300), wbo("gap", "live", 300)}); err != nil {
				return fmt.Errorf("live write beside a dry run: %w", err)
			}
			if _, err := other.CreateUser(ctx, store.User{Username: "bob", MD5: "b"}); err != nil {
				return fmt.Errorf("live registration beside a dry run: %w", err)
			}
			if took := time.Since(start); took > 900*time.Millisecond {
				t.Errorf("live writes took %v beside a dry run", took)
			}
			got, err := v.GetItems(ctx, alice, "bookmarks", store.Query{Sort: store.SortOldest})
			if err != nil {
				return err
			}
			var seen []string
			for _, w := range got {
				seen = append(seen, w.ID+"="+*w.Payload)
			}
			if want := "keep=dry new=dry"; strings.Join(seen, " ") != want {
				return fmt.Errorf("dry run sees %q, want %q", seen, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if w := lockWaits(t, e); w != waitsBefore {
			t.Errorf("row lock waits went from %d to %d", waitsBefore, w)
		}
		got, err := e.GetItem(ctx, alice, "bookmarks", "keep", 0)
		if err != nil || *got.Payload != "live" {
			t.Fatalf("live row after the dry run: %+v %v", got, err)
		}
	})
}

// dsnOf is the DSN that opens another engine on e's database.
func dsnOf(t *testing.T, e *Engine) string {
	t.Helper()
	if e.Name() == "sqlite" {
		var seq int
		var name, file string
		if err := e.db.QueryRow("PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
			t.Fatal(err)
		}
		return "sqlite:" + file
	}
	var db string
	if err := e.db.QueryRow("SELECT DATABASE()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	return "mysql:" + testenv.MariaDBServer(t).DSN(db)
}

// lockWaits is MariaDB's count of row lock waits (0 on SQLite).
func lockWaits(t *testing.T, e *Engine) int64 {
	t.Helper()
	if e.Name() != "mysql" {
		return 0
	}
	var name string
	var n int64
	if err := e.db.QueryRow("SHOW GLOBAL STATUS LIKE 'Innodb_row_lock_waits'").Scan(&name, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"weaveproxy/native/store"
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
					items := []store.WBO{wbo(fmt.Sprintf("g%d-%d", g, i), "p", int64(i)), wbo("shared", fmt.Sprint(g), int64(i))}
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

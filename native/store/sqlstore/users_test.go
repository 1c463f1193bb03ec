package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestUsers(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		id, err := e.CreateUser(ctx, store.User{Username: "Alice", MD5: "0123456789abcdef0123456789abcdef",
			Email: "alice@example.org", Alert: "maintenance"})
		if err != nil || id <= 0 {
			t.Fatalf("CreateUser: %d, %v", id, err)
		}
		for _, name := range []string{"alice", "ALICE"} {
			if _, err := e.CreateUser(ctx, store.User{Username: name, MD5: "x"}); !errors.Is(err, store.ErrUserExists) {
				t.Fatalf("second %q: %v, want ErrUserExists", name, err)
			}
		}
		got, err := e.UserByName(ctx, "aLiCe")
		if err != nil {
			t.Fatal(err)
		}
		want := store.User{ID: id, Username: "alice", MD5: "0123456789abcdef0123456789abcdef",
			Email: "alice@example.org", Status: 1, Alert: "maintenance"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("user (-want +got):\n%s", diff)
		}
		if _, err := e.UserByName(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
		if err := e.SetPasswordMD5(ctx, id, "ffffffffffffffffffffffffffffffff"); err != nil {
			t.Fatal(err)
		}
		if err := e.SetEmail(ctx, id, "new@example.org"); err != nil {
			t.Fatal(err)
		}
		if err := e.SetEmail(ctx, id, "new@example.org"); err != nil {
			t.Fatalf("setting the same e-mail again: %v", err)
		}
		if got, _ = e.UserByName(ctx, "alice"); got.MD5 != "ffffffffffffffffffffffffffffffff" || got.Email != "new@example.org" {
			t.Fatalf("after updates: %+v", got)
		}
		if err := e.SetEmail(ctx, id+100, "x@y"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SetEmail on unknown id: %v", err)
		}
		if err := e.SetPasswordMD5(ctx, id+100, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SetPasswordMD5 on unknown id: %v", err)
		}
		bob, err := e.CreateUser(ctx, store.User{Username: "bob", MD5: "b", Status: 2})
		if err != nil || bob == id {
			t.Fatalf("second user: %d, %v", bob, err)
		}
		if got, _ := e.UserByName(ctx, "bob"); got.Status != 2 || got.Email != "" {
			t.Fatalf("bob: %+v", got)
		}
	})
}

func TestResetCodes(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		if _, err := e.GetResetCode(ctx, 1); !errors.Is(err, store.ErrNoResetCode) {
			t.Fatalf("no code yet: %v", err)
		}
		exp := time.Unix(1_800_000_000, 0)
		for _, code := range []string{"AAAA-BBBB-CCCC-DDDD", "EEEE-FFFF-GGGG-HHHH"} {
			if err := e.SetResetCode(ctx, 1, store.ResetCode{Code: code, Expires: exp}); err != nil {
				t.Fatal(err)
			}
			rc, err := e.GetResetCode(ctx, 1)
			if err != nil || rc.Code != code || !rc.Expires.Equal(exp) {
				t.Fatalf("GetResetCode: %+v %v, want %s", rc, err, code)
			}
		}
		if _, err := e.GetResetCode(ctx, 2); !errors.Is(err, store.ErrNoResetCode) {
			t.Fatalf("other user's code: %v", err)
		}
		if err := e.ClearResetCode(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetResetCode(ctx, 1); !errors.Is(err, store.ErrNoResetCode) {
			t.Fatalf("after clear: %v", err)
		}
		if err := e.ClearResetCode(ctx, 1); err != nil {
			t.Fatalf("clearing nothing: %v", err)
		}
	})
}

func TestDeleteUser(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		alice, _ := e.CreateUser(ctx, store.User{Username: "alice", MD5: "a"})
		bob, _ := e.CreateUser(ctx, store.User{Username: "bob", MD5: "b"})
		for _, u := range []int64{alice, bob} {
			w := wbo("x", "p", 100)
			w.TTL = ptr[int64](2_000_000_000)
			mustPut(t, e, u, "custom", w)
			mustPut(t, e, u, "bookmarks", wbo("y", "p", 100))
			if err := e.SetResetCode(ctx, u, store.ResetCode{Code: "C", Expires: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.DeleteUser(ctx, alice); err != nil {
			t.Fatal(err)
		}
		for table, col := range map[string]string{"users": "id", "wbo": "username", "wbo_ttl": "username",
			"collections": "userid", "reset_codes": "userid"} {
			q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s = ?", table, col)
			if n := count(t, e, q, alice); n != 0 {
				t.Errorf("%s: %d rows of the deleted user", table, n)
			}
			if n := count(t, e, q, bob); n == 0 {
				t.Errorf("%s: the other user's rows went too", table)
			}
		}
		if err := e.DeleteUser(ctx, alice); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleting again: %v", err)
		}
	})
}

// TestCreateUserRace creates one name from many goroutines on a legacy
// users table without a unique index: exactly one may win.
func TestCreateUserRace(t *testing.T) {
	forEachDSN(t, func(t *testing.T, b backend, dsn string) {
		ctx := context.Background()
		e, err := Open(ctx, dsn, Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if _, err := e.DB().ExecContext(ctx, legacyDDL[b.name]["users"]); err != nil {
			t.Fatal(err)
		}
		if err := e.Init(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, err := e.CreateUser(ctx, store.User{Username: "racer", MD5: "m"})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrUserExists):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if n := count(t, e, "SELECT COUNT(*) FROM users WHERE username = 'racer'"); won != 1 || n != 1 {
			t.Fatalf("%d winners, %d rows; want exactly one", won, n)
		}
	})
}

package shard

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func count(t *testing.T, e *sqlstore.Engine, q string) int {
	t.Helper()
	var n int
	if err := e.DB().QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func put(t *testing.T, r store.Engine, user int64, id string) {
	t.Helper()
	p := "payload of " + id
	if _, err := r.PutItems(context.Background(), user, "bookmarks", []store.WBO{{ID: id, Payload: &p}}); err != nil {
		t.Fatalf("put %d/%s: %v", user, id, err)
	}
}

// Python's table sharding: wbo0 … wbo2 in one database, by id modulo 3,
// three engines of one kind with different tables side by side.
func TestModuloTables(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			base := be.Open(t)
			engines := make([]store.Engine, 3)
			for i := range engines {
				e, err := base.WithTables(sqlstore.Config{WBOTable: fmt.Sprintf("wbo%d", i)})
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Init(ctx); err != nil {
					t.Fatal(err)
				}
				engines[i] = e
			}
			r, err := New(base, engines, Modulo(3))
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, name := range []string{"u1", "u2", "u3", "u4"} {
				id, err := r.CreateUser(ctx, store.User{Username: name, MD5: "x"})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
				put(t, r, id, "item-"+name)
			}
			for i := range 3 {
				want := 0
				for _, id := range ids {
					if id%3 == int64(i) {
						want++
					}
				}
				if got := count(t, base, fmt.Sprintf("SELECT COUNT(*) FROM wbo%d", i)); got != want {
					t.Fatalf("wbo%d holds %d rows, want %d (ids %v)", i, got, want, ids)
				}
			}
			if n := count(t, base, "SELECT COUNT(*) FROM wbo"); n != 0 {
				t.Fatalf("the unsharded wbo got %d rows", n)
			}
			w, err := r.GetItem(ctx, ids[1], "bookmarks", "item-u2", store.Timestamp(0))
			if err != nil || *w.Payload != "payload of item-u2" {
				t.Fatalf("read back: %+v, %v", w, err)
			}
			// A dry run sees its own write and keeps nothing.
			err = r.DryRun(ctx, func(v store.Engine) error {
				put(t, v, ids[2], "dry")
				_, err := v.GetItem(ctx, ids[2], "bookmarks", "dry", store.Timestamp(0))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.GetItem(ctx, ids[2], "bookmarks", "dry", store.Timestamp(0)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("dry-run write kept: %v", err)
			}
			if err := r.DeleteUser(ctx, ids[0]); err != nil {
				t.Fatal(err)
			}
			if n := count(t, base, fmt.Sprintf("SELECT COUNT(*) FROM wbo%d WHERE username = %d", ids[0]%3, ids[0])); n != 0 {
				t.Fatalf("deleted user's rows left in its shard: %d", n)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
		})
	}
}

// One database per node: the user's users.location picks it.
func TestByNode(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			accounts := be.Open(t)
			nodeA, nodeB := be.Open(t), be.Open(t)
			locate := func(ctx context.Context, id int64) (string, error) {
				u, err := accounts.UserByID(ctx, id)
				return u.Location, err
			}
			pick := ByNode(locate, map[string]int{"a.example.org": 0, "B.example.org": 1}, 2, time.Minute)
			r, err := New(accounts, []store.Engine{nodeA, nodeB, accounts}, pick)
			if err != nil {
				t.Fatal(err)
			}
			mk := func(name, loc string) int64 {
				id, err := r.CreateUser(ctx, store.User{Username: name, MD5: "x", Location: loc})
				if err != nil {
					t.Fatal(err)
				}
				put(t, r, id, "x-"+name)
				return id
			}
			mk("ona", "a.example.org")
			mk("onb", "b.example.org")
			mk("nowhere", "")
			for _, c := range []struct {
				e    *sqlstore.Engine
				want int
				name string
			}{{nodeA, 1, "node a"}, {nodeB, 1, "node b"}, {accounts, 1, "fallback"}} {
				if got := count(t, c.e, "SELECT COUNT(*) FROM wbo"); got != c.want {
					t.Fatalf("%s holds %d rows, want %d", c.name, got, c.want)
				}
			}
			u, _ := accounts.UserByName(ctx, "onb")
			if err := r.DeleteUser(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			if got := count(t, nodeB, "SELECT COUNT(*) FROM wbo"); got != 0 {
				t.Fatalf("node b keeps %d rows of a deleted user", got)
			}
		})
	}
}

func TestNewRefusesNothing(t *testing.T) {
	if _, err := New(nil, nil, nil); err == nil {
		t.Fatal("New without engines accepted")
	}
}

package overlay_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// now is the requests' server time in the scenarios: 2,000,000,000 s.
const now = store.Timestamp(200_000_000_000)

// run is one scenario's engine and the ids of the accounts it knows.
type run struct {
	e   store.Engine
	ids map[string]int64
}

// op does one thing to the engine and returns what it answered, in a
// form cmp can compare between the real engine and the overlay.
type op struct {
	name string
	do   func(ctx context.Context, r *run) any
}

// The overlay must answer every scenario exactly as the real engine does
// when the same operations run for real on the same database: each
// scenario runs first through DryRun (the overlay on a snapshot), then for
// real, on a fresh seeded database per backend, and after every operation
// a set of reads compares the whole visible state.
func TestOverlayAnswersAsTheEngine(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			for _, b := range storetest.Backends() {
				t.Run(b.Name, func(t *testing.T) {
					ctx := context.Background()
					e := b.Open(t)
					ids := seed(t, e)
					var dry []any
					err := e.DryRun(ctx, func(v store.Engine) error {
						dry = play(ctx, &run{e: v, ids: clone(ids)}, sc.ops)
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					real := play(ctx, &run{e: e, ids: clone(ids)}, sc.ops)
					for i := range real {
						if diff := cmp.Diff(real[i], dry[i]); diff != "" {
							t.Errorf("step %d (%s): overlay differs from the engine (-real +overlay):\n%s",
								i/2, stepName(sc.ops, i), diff)
						}
					}
				})
			}
		})
	}
}

func clone(m map[string]int64) map[string]int64 {
	c := make(map[string]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func stepName(ops []op, i int) string {
	if i%2 == 0 {
		return ops[i/2].name
	}
	return ops[i/2].name + ", then the state"
}

// play runs ops, each followed by a look at the whole state.
func play(ctx context.Context, r *run, ops []op) []any {
	var out []any
	for _, o := range ops {
		out = append(out, o.do(ctx, r), state(ctx, r))
	}
	return out
}

var collections = []string{"bookmarks", "history", "custom1", "custom2", "tabs"}

// state is everything a reader could see, for the seeded users.
func state(ctx context.Context, r *run) any {
	var out []any
	for _, name := range []string{"alice", "bob", "carol"} {
		u, err := r.e.UserByName(ctx, name)
		u.ID = 0 // created accounts get other ids in the overlay
		out = append(out, name, u, kind(err))
		id, ok := r.ids[name]
		if !ok {
			continue
		}
		rc, err := r.e.GetResetCode(ctx, id)
		out = append(out, rc, kind(err))
		out = append(out, result(r.e.CollectionTimestamps(ctx, id)))
		out = append(out, result(r.e.CollectionCounts(ctx, id, now)))
		out = append(out, result(r.e.CollectionUsage(ctx, id, now)))
		out = append(out, result(r.e.TotalSize(ctx, id, now)))
		for _, c := range collections {
			m, ok, err := r.e.CollectionMax(ctx, id, c)
			out = append(out, c, m, ok, kind(err))
			for _, q := range reads() {
				out = append(out, items(q.Sort)(r.e.GetItems(ctx, id, c, q)))
			}
		}
	}
	return out
}

// reads are the queries state runs on every collection.
func reads() []store.Query {
	return []store.Query{
		{Now: now},
		{Now: now, Sort: store.SortNewest, Limit: 3},
		{Now: now, Sort: store.SortOldest, Limit: 2, Offset: 1},
		{Now: now, Sort: store.SortIndex, Limit: 3},
		{Now: now, Newer: ts(1005), Older: ts(1900)},
		{Now: now, ParentID: ptr("p1")},
		{Now: now, PredecessorID: ptr("q1")},
		{Now: now, IndexAbove: ptr(2.5), IndexBelow: ptr(40.0)},
		{Now: now, IDs: []string{"a", "b", "n1", "x"}, HasIDs: true},
		{Now: now, IDs: []string{}, HasIDs: true},
		{Now: now - 100*3600*24*365}, // before every ttl
	}
}

// items is a GetItems answer with the order that may vary between engines
// made canonical: by id without a sort, and among items with the same sort
// key. (The scenarios avoid ties across a limit, where the set itself
// could differ.)
func items(s store.Sort) func([]store.WBO, error) any {
	return func(ws []store.WBO, err error) any {
		ws = slices.Clone(ws)
		slices.SortStableFunc(ws, func(a, b store.WBO) int { return strings.Compare(a.ID, b.ID) })
		store.SortItems(ws, s)
		return []any{ws, kind(err)}
	}
}

func result[T any](v T, err error) any { return []any{v, kind(err)} }

// kind names an error by the sentinel it wraps: the texts differ.
func kind(err error) string {
	for _, s := range []error{store.ErrNotFound, store.ErrUserExists, store.ErrInvalidName, store.ErrNoResetCode, store.ErrCollectionFull} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	if err != nil {
		return "error"
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

func ts(v int64) *store.Timestamp { return ptr(store.Timestamp(v)) }

func item(id string, m int64, fill func(*store.WBO)) store.WBO {
	w := store.WBO{ID: id, Modified: ts(m), Payload: ptr("payload of " + id)}
	if fill != nil {
		fill(&w)
	}
	return w
}

// seed fills a fresh database: alice with items in three collections
// (live, expired, expiring, with NULL columns), bob with one, and a reset
// code for alice.
func seed(t *testing.T, e *sqlstore.Engine) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	ids := map[string]int64{}
	for _, name := range []string{"alice", "bob"} {
		id, err := e.CreateUser(ctx, store.User{Username: name, MD5: "md5of" + name, Email: name + "@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	put := func(user int64, coll string, ws ...store.WBO) {
		if _, err := e.PutItems(ctx, user, coll, ws); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := ids["alice"], ids["bob"]
	put(alice, "bookmarks",
		item("a", 1001, func(w *store.WBO) { w.ParentID, w.SortIndex = ptr("p1"), ptr[int64](5) }),
		item("b", 1002, func(w *store.WBO) { w.PredecessorID, w.SortIndex = ptr("q1"), ptr[int64](40) }),
		item("c", 1003, func(w *store.WBO) { w.TTL = ptr(now.Seconds() - 10) }),   // expired
		item("d", 1004, func(w *store.WBO) { w.TTL = ptr(now.Seconds() + 3600) }), // expiring
		item("e", 1005, func(w *store.WBO) { w.SortIndex = ptr[int64](3) }),
		store.WBO{ID: "f", Payload: ptr("no modified")},
	)
	var hist []store.WBO
	for i := range 30 {
		hist = append(hist, item(fmt.Sprintf("h%02d", i), int64(1100+i*10), func(w *store.WBO) {
			w.SortIndex = ptr(int64(i * 3))
			if i%7 == 0 {
				w.ParentID = ptr("p1")
			}
		}))
	}
	put(alice, "history", hist...)
	put(alice, "custom1", item("x", 1500, nil), item("y", 1600, nil))
	put(bob, "bookmarks", item("a", 1200, nil))
	if err := e.SetResetCode(ctx, alice, store.ResetCode{Code: "CODE1", Expires: time.Unix(2_000_000_500, 0)}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// Operations, by the account they act on.

func putItems(user, coll string, ws ...store.WBO) op {
	return op{fmt.Sprintf("put %d into %s/%s", len(ws), user, coll), func(ctx context.Context, r *run) any {
		olds, err := r.e.PutItems(ctx, r.ids[user], coll, ws)
		// The old modified of an item that carries one is optional
		// (store.Storage): engines need not agree on it.
		for i := range olds {
			if ws[i].Modified != nil {
				olds[i] = nil
			}
		}
		return result(olds, err)
	}}
}

func deleteItems(user, coll string, q store.Query) op {
	return op{fmt.Sprintf("delete %s/%s %+v", user, coll, q), func(ctx context.Context, r *run) any {
		return result(r.e.DeleteItems(ctx, r.ids[user], coll, q))
	}}
}

func account(name string, do func(ctx context.Context, e store.Engine, id int64) error) op {
	return op{"account " + name, func(ctx context.Context, r *run) any {
		return kind(do(ctx, r.e, r.ids[name]))
	}}
}

func createUser(name string) op {
	return op{"create " + name, func(ctx context.Context, r *run) any {
		id, err := r.e.CreateUser(ctx, store.User{Username: name, MD5: "m", Email: name + "@x"})
		if err == nil {
			r.ids[strings.ToLower(name)] = id
		}
		return kind(err)
	}}
}

// sequenced writes items stamped with the timestamp the engine's
// Sequencer gives (at raised above the user's last), and fails after
// writing when fail is set: the writes must be undone.
func sequenced(user, coll string, at int64, fail bool, ids ...string) op {
	return op{fmt.Sprintf("sequenced write of %s/%s at %d (fail %v)", user, coll, at, fail), func(ctx context.Context, r *run) any {
		var got store.Timestamp
		err := r.e.(store.Sequencer).Sequenced(ctx, r.ids[user], store.Timestamp(at), func(ts store.Timestamp, tx store.Engine) error {
			got = ts
			var ws []store.WBO
			for _, id := range ids {
				ws = append(ws, item(id, int64(ts), nil))
			}
			if _, err := tx.PutItems(ctx, r.ids[user], coll, ws); err != nil {
				return err
			}
			if _, err := tx.DeleteItems(ctx, r.ids[user], "history", store.Query{Now: now}); err != nil {
				return err
			}
			if fail {
				return errors.New("planted failure")
			}
			return nil
		})
		return []any{got, kind(err)}
	}}
}

type scenario struct {
	name string
	ops  []op
}

func scenarios() []scenario {
	partial := func(id string, fill func(*store.WBO)) store.WBO {
		w := store.WBO{ID: id}
		fill(&w)
		return w
	}
	return []scenario{
		{"partial updates", []op{
			putItems("alice", "bookmarks",
				partial("a", func(w *store.WBO) { w.SortIndex = ptr[int64](99) }),
				partial("b", func(w *store.WBO) { w.Payload, w.Modified = ptr("new b"), ts(1950) }),
				item("n1", 1960, func(w *store.WBO) { w.ParentID = ptr("p1") }),
				partial("n1", func(w *store.WBO) { w.PredecessorID = ptr("q1") }),                       // twice in one call
				partial("c", func(w *store.WBO) { w.Payload = ptr("revived") }),                         // expired: ttl goes
				partial("n2", func(w *store.WBO) { w.SortIndex, w.Modified = ptr[int64](7), ts(1961) }), // new, no payload
			),
			putItems("alice", "bookmarks", partial("n1", func(w *store.WBO) { w.Modified = ts(1970) })),
			putItems("alice", "history", item("h03", 2000, func(w *store.WBO) { w.TTL = ptr(now.Seconds() - 1) })),
			putItems("bob", "custom2", item("z", 1800, nil)),
		}},
		{"ttl", []op{
			putItems("alice", "bookmarks",
				item("d", 1990, nil), // permanent now
				item("e", 1991, func(w *store.WBO) { w.TTL = ptr(now.Seconds()) }),
				partial("a", func(w *store.WBO) { w.TTL = ptr(now.Seconds() + 5) })),
		}},
		{"deletes", []op{
			deleteItems("alice", "bookmarks", store.Query{IDs: []string{"a", "c", "zz"}, HasIDs: true, Now: now}),
			deleteItems("alice", "history", store.Query{Newer: ts(1300), Older: ts(1350), Now: now}),
			deleteItems("alice", "history", store.Query{Sort: store.SortIndex, Limit: 3, Offset: 2, Now: now}),
			putItems("alice", "history", item("h29", 2001, nil), item("new", 2002, nil)),
			deleteItems("alice", "history", store.Query{Sort: store.SortNewest, Limit: 2, Now: now}),
			deleteItems("alice", "history", store.Query{ParentID: ptr("p1"), Now: now}),
			deleteItems("alice", "custom9", store.Query{Now: now}),
			deleteItems("alice", "bookmarks", store.Query{IDs: []string{}, HasIDs: true, Now: now}),
		}},
		{"whole collections", []op{
			putItems("alice", "bookmarks", item("a", 1990, nil), item("n1", 1991, nil)),
			deleteItems("alice", "bookmarks", store.Query{Now: now}),
			deleteItems("alice", "bookmarks", store.Query{Now: now}),
			putItems("alice", "bookmarks", item("b", 1992, nil), partial("a", func(w *store.WBO) { w.SortIndex = ptr[int64](1) })),
			deleteItems("alice", "custom1", store.Query{Now: now}),
			putItems("alice", "custom1", item("x", 1993, nil)),
		}},
		{"delete storage", []op{
			putItems("alice", "history", item("h00", 1990, nil)),
			account("alice", func(ctx context.Context, e store.Engine, id int64) error { return e.DeleteStorage(ctx, id) }),
			putItems("alice", "custom2", item("k", 1995, nil)),
			putItems("alice", "bookmarks", partial("a", func(w *store.WBO) { w.SortIndex = ptr[int64](2) })),
			deleteItems("alice", "custom2", store.Query{Now: now}),
		}},
		{"accounts", []op{
			createUser("Carol"),
			createUser("carol"),
			createUser("ALICE"),
			account("bob", func(ctx context.Context, e store.Engine, id int64) error { return e.SetEmail(ctx, id, "new@bob") }),
			account("carol", func(ctx context.Context, e store.Engine, id int64) error { return e.SetPasswordMD5(ctx, id, "newmd5") }),
			account("alice", func(ctx context.Context, e store.Engine, id int64) error { return e.ClearResetCode(ctx, id) }),
			account("bob", func(ctx context.Context, e store.Engine, id int64) error {
				return e.SetResetCode(ctx, id, store.ResetCode{Code: "B", Expires: time.Unix(2_000_000_000, 999)})
			}),
			putItems("carol", "tabs", item("t", 1990, nil)),
			account("alice", func(ctx context.Context, e store.Engine, id int64) error { return e.DeleteUser(ctx, id) }),
			account("alice", func(ctx context.Context, e store.Engine, id int64) error { return e.DeleteUser(ctx, id) }),
			account("alice", func(ctx context.Context, e store.Engine, id int64) error { return e.SetEmail(ctx, id, "x@y") }),
			createUser("alice"),
			account("carol", func(ctx context.Context, e store.Engine, id int64) error { return e.DeleteUser(ctx, id) }),
		}},
		{"sequenced writes", []op{
			sequenced("alice", "bookmarks", 3000, false, "s1", "a"),
			sequenced("alice", "tabs", 2000, false, "s2"), // below the last: raised
			sequenced("alice", "tabs", 2000, true, "s3", "a"),
			sequenced("bob", "bookmarks", 1000, false, "s4"),
			sequenced("alice", "bookmarks", 3002, false, "s5"),
		}},
		{"refused writes", []op{
			putItems("alice", "bookmarks", item("ok", 1990, nil), item(strings.Repeat("z", 65), 1990, nil)),
			putItems("alice", "bookmarks", item("ok", 1990, func(w *store.WBO) { w.SortIndex = ptr[int64](1 << 31) })),
			putItems("alice", "bookmarks", item("ok", 1990, func(w *store.WBO) { w.ParentID = ptr(strings.Repeat("p", 65)) })),
			putItems("alice", strings.Repeat("c", 33), item("ok", 1990, nil)),
			putItems("alice", "", item("ok", 1990, nil)),
			deleteItems("alice", strings.Repeat("c", 33), store.Query{Now: now}),
			createUser(strings.Repeat("u", 33)),
			account("alice", func(ctx context.Context, e store.Engine, id int64) error {
				return e.SetEmail(ctx, id, strings.Repeat("e", 65))
			}),
			putItems("alice", "bookmarks"),
		}},
	}
}

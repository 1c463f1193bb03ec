package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// fixture is five items with every filterable field varied. Modified
// differs per item, so each is its own PUT.
func fixture(t testing.TB, e *Engine, user int64, coll string) {
	t.Helper()
	type row struct {
		id, parent, pred string
		sortindex        *int64
		modified         int64
	}
	for _, r := range []row{
		{"a", "p1", "x", ptr[int64](10), 100},
		{"b", "p1", "y", ptr[int64](20), 200},
		{"c", "p2", "x", ptr[int64](30), 300},
		{"d", "", "", nil, 400},
		{"e", "p2", "", ptr[int64](-5), 500},
	} {
		w := wbo(r.id, "payload-"+r.id, r.modified)
		if r.parent != "" {
			w.ParentID = &r.parent
		}
		if r.pred != "" {
			w.PredecessorID = &r.pred
		}
		w.SortIndex = r.sortindex
		mustPut(t, e, user, coll, w)
	}
}

var queryCases = []struct {
	name    string
	q       store.Query
	want    []string
	ordered bool
}{
	{"all", store.Query{}, []string{"a", "b", "c", "d", "e"}, false},
	{"ids", store.Query{IDs: []string{"a", "c", "zz"}, HasIDs: true}, []string{"a", "c"}, false},
	{"ids empty matches nothing", store.Query{IDs: []string{}, HasIDs: true}, nil, false},
	{"ids given nil matches nothing", store.Query{HasIDs: true}, nil, false},
	{"ids case-sensitive", store.Query{IDs: []string{"A", "B"}, HasIDs: true}, nil, false},
	{"parentid", store.Query{ParentID: ptr("p1")}, []string{"a", "b"}, false},
	{"predecessorid", store.Query{PredecessorID: ptr("x")}, []string{"a", "c"}, false},
	{"older strict", store.Query{Older: ts(300)}, []string{"a", "b"}, false},
	{"newer strict", store.Query{Newer: ts(300)}, []string{"d", "e"}, false},
	{"older and newer", store.Query{Older: ts(400), Newer: ts(100)}, []string{"b", "c"}, false},
	{"index_above strict", store.Query{IndexAbove: ptr(10.0)}, []string{"b", "c"}, false},
	{"index_above float", store.Query{IndexAbove: ptr(9.5)}, []string{"a", "b", "c"}, false},
	{"index_below strict", store.Query{IndexBelow: ptr(20.0)}, []string{"a", "e"}, false},
	{"index_below float", store.Query{IndexBelow: ptr(-4.5)}, []string{"e"}, false},
	{"sort oldest", store.Query{Sort: store.SortOldest}, []string{"a", "b", "c", "d", "e"}, true},
	{"sort newest", store.Query{Sort: store.SortNewest}, []string{"e", "d", "c", "b", "a"}, true},
	{"sort index, NULL last", store.Query{Sort: store.SortIndex}, []string{"c", "b", "a", "e", "d"}, true},
	{"limit", store.Query{Limit: 2, Sort: store.SortOldest}, []string{"a", "b"}, true},
	{"limit offset", store.Query{Limit: 2, Offset: 2, Sort: store.SortOldest}, []string{"c", "d"}, true},
	{"offset without limit ignored", store.Query{Offset: 3, Sort: store.SortOldest}, []string{"a", "b", "c", "d", "e"}, true},
	{"negative limit ignored", store.Query{Limit: -1}, []string{"a", "b", "c", "d", "e"}, false},
	{"offset past the end", store.Query{Limit: 2, Offset: 10}, nil, false},
	{"combined", store.Query{ParentID: ptr("p2"), Newer: ts(300)}, []string{"e"}, false},
	{"combined with ids and sort", store.Query{IDs: []string{"a", "b", "c", "e"}, HasIDs: true,
		IndexAbove: ptr(0.0), Sort: store.SortNewest, Limit: 2}, []string{"c", "b"}, true},
}

func TestGetItemsFilters(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		fixture(t, e, 1, "bookmarks")
		fixture(t, e, 2, "bookmarks") // another user's rows must never show
		mustPut(t, e, 1, "history", wbo("z", "other collection", 150))
		for _, c := range queryCases {
			t.Run(c.name, func(t *testing.T) {
				got := ids(mustGet(t, e, 1, "bookmarks", c.q))
				if !c.ordered {
					slices.Sort(got)
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("ids %q, want %q", got, c.want)
				}
			})
		}
	})
}

func TestDeleteItemsFilters(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		for i, c := range queryCases {
			t.Run(c.name, func(t *testing.T) {
				coll := fmt.Sprintf("del%d", i)
				fixture(t, e, 1, coll)
				fixture(t, e, 2, coll)
				n, err := e.DeleteItems(ctx, 1, coll, c.q)
				if err != nil {
					t.Fatal(err)
				}
				if n != int64(len(c.want)) {
					t.Errorf("deleted %d rows, want %d", n, len(c.want))
				}
				left := ids(mustGet(t, e, 1, coll, store.Query{}))
				for _, id := range c.want {
					if slices.Contains(left, id) {
						t.Errorf("%s still there after delete", id)
					}
				}
				if len(left)+len(c.want) != 5 {
					t.Errorf("left %v after deleting %v: other rows went too", left, c.want)
				}
				if got := mustGet(t, e, 2, coll, store.Query{}); len(got) != 5 {
					t.Errorf("other user has %d items left, want 5", len(got))
				}
			})
		}
	})
}

func TestUnknownCollection(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		if got := mustGet(t, e, 1, "nosuch", store.Query{}); len(got) != 0 {
			t.Fatalf("unknown collection gave %v", got)
		}
		if _, err := e.GetItem(ctx, 1, "nosuch", "a", 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetItem in unknown collection: %v", err)
		}
		if _, ok, err := e.CollectionMax(ctx, 1, "nosuch"); ok || err != nil {
			t.Fatalf("CollectionMax of unknown collection: %v %v", ok, err)
		}
		if n, err := e.DeleteItems(ctx, 1, "nosuch", store.Query{}); n != 0 || err != nil {
			t.Fatalf("DeleteItems of unknown collection: %d %v", n, err)
		}
		// Reads and deletes never create the name.
		if n := count(t, e, "SELECT COUNT(*) FROM collections"); n != 0 {
			t.Fatalf("%d collections rows after reads", n)
		}
	})
}

func TestPartialUpdate(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		full := wbo("x", "héllo", 100)
		full.ParentID, full.PredecessorID, full.SortIndex = ptr("p"), ptr("q"), ptr[int64](7)
		if olds := mustPut(t, e, 1, "tabs", full); len(olds) != 1 || olds[0] != nil {
			t.Fatalf("new row: old modified %v, want [nil]", olds)
		}
		// Only sortindex, then only modified: everything else stays. The
		// old modified is reported for an item without one.
		olds := mustPut(t, e, 1, "tabs", store.WBO{ID: "x", SortIndex: ptr[int64](9)})
		if len(olds) != 1 || olds[0] == nil || *olds[0] != 100 {
			t.Fatalf("old modified %v, want [100]", olds)
		}
		mustPut(t, e, 1, "tabs", store.WBO{ID: "x", Modified: ts(200)})
		got, err := e.GetItem(ctx, 1, "tabs", "x", 0)
		if err != nil {
			t.Fatal(err)
		}
		want := store.WBO{ID: "x", ParentID: ptr("p"), PredecessorID: ptr("q"), SortIndex: ptr[int64](9),
			Modified: ts(200), Payload: ptr("héllo"), PayloadSize: 6}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("after partial update (-want +got):\n%s", diff)
		}
		// A new row without payload: NULLs, size 0.
		mustPut(t, e, 1, "tabs", store.WBO{ID: "bare", Modified: ts(300)})
		got, err = e.GetItem(ctx, 1, "tabs", "bare", 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(store.WBO{ID: "bare", Modified: ts(300)}, got); diff != "" {
			t.Fatalf("bare row (-want +got):\n%s", diff)
		}
		// The payload is written later: its size follows.
		mustPut(t, e, 1, "tabs", store.WBO{ID: "bare", Payload: ptr("1234")})
		if got, _ = e.GetItem(ctx, 1, "tabs", "bare", 0); got.PayloadSize != 4 || *got.Modified != 300 {
			t.Fatalf("after payload write: %+v", got)
		}
	})
}

func TestDuplicateIDsLastWins(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		mustPut(t, e, 1, "forms", wbo("old", "o", 50))
		olds := mustPut(t, e, 1, "forms",
			wbo("dup", "first", 100),
			store.WBO{ID: "old", SortIndex: ptr[int64](1)}, // no modified: its old one is reported
			store.WBO{ID: "dup", SortIndex: ptr[int64](5), Modified: ts(100)},
			wbo("dup", "last", 100),
		)
		if olds[0] != nil || olds[2] != nil || olds[3] != nil || olds[1] == nil || *olds[1] != 50 {
			t.Fatalf("old modified %v: want the state before the call, nil for new rows", olds)
		}
		got := mustGet(t, e, 1, "forms", store.Query{IDs: []string{"dup"}, HasIDs: true})
		if len(got) != 1 || *got[0].Payload != "last" || got[0].SortIndex == nil || *got[0].SortIndex != 5 {
			t.Fatalf("dup = %+v, want payload last, sortindex 5", got)
		}
	})
}

func TestCustomCollections(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		mustPut(t, e, 1, "foo", wbo("1", "x", 100))
		mustPut(t, e, 1, "bar", wbo("1", "x", 200))
		mustPut(t, e, 1, "foo", wbo("2", "x", 300))
		mustPut(t, e, 1, "bookmarks", wbo("1", "x", 400))
		mustPut(t, e, 2, "bar", wbo("1", "x", 500))
		idOf := func(user int, name string) int {
			return count(t, e, "SELECT collectionid FROM collections WHERE userid = ? AND name = ?", user, name)
		}
		if foo, bar, bar2 := idOf(1, "foo"), idOf(1, "bar"), idOf(2, "bar"); foo != 101 || bar != 102 || bar2 != 101 {
			t.Fatalf("collection ids foo=%d bar=%d (user 2 bar=%d), want 101 102 101", foo, bar, bar2)
		}
		if n := count(t, e, "SELECT COUNT(*) FROM collections"); n != 3 {
			t.Fatalf("%d collections rows, want 3 (fixed names take none)", n)
		}
		if n := count(t, e, "SELECT COUNT(*) FROM wbo WHERE username = 1 AND collection = 7"); n != 1 {
			t.Fatalf("bookmarks not stored under its fixed id 7")
		}
		got, err := e.CollectionTimestamps(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]store.Timestamp{"foo": 300, "bar": 200, "bookmarks": 400}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("timestamps (-want +got):\n%s", diff)
		}
		long := strings.Repeat("n", 33)
		for name, err := range map[string]error{
			long: errOf(e.PutItems(ctx, 1, long, []store.WBO{wbo("1", "x", 1)})),
			"":   errOf(e.PutItems(ctx, 1, "", []store.WBO{wbo("1", "x", 1)})),
		} {
			if !errors.Is(err, store.ErrInvalidName) {
				t.Errorf("collection %q: %v, want ErrInvalidName", name, err)
			}
		}
		if _, err := e.GetItems(ctx, 1, long, store.Query{}); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("read of a 33-byte name: %v", err)
		}
		// 32 bytes, multi-byte characters included, is fine.
		name32 := strings.Repeat("é", 16)
		mustPut(t, e, 1, name32, wbo("1", "x", 600))
		if got := mustGet(t, e, 1, name32, store.Query{}); len(got) != 1 {
			t.Fatalf("32-byte name: %v", got)
		}
	})
}

func errOf(_ any, err error) error { return err }

func TestUnicode(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		payload := `{"ciphertext":"héllo 🦊 wörld","IV":"∑"}`
		items := []store.WBO{wbo("🦊-ü", payload, 100), wbo("abc", "lower", 100), wbo("ABC", "upper", 100)}
		items[0].ParentID = ptr("père-🦊")
		mustPut(t, e, 1, "bookmarks", items...)
		got, err := e.GetItem(ctx, 1, "bookmarks", "🦊-ü", 0)
		if err != nil {
			t.Fatal(err)
		}
		if *got.Payload != payload || *got.ParentID != "père-🦊" || got.PayloadSize != int64(len(payload)) {
			t.Fatalf("got %q parent %q size %d, want size %d bytes", *got.Payload, *got.ParentID, got.PayloadSize, len(payload))
		}
		if got := mustGet(t, e, 1, "bookmarks", store.Query{ParentID: ptr("père-🦊")}); len(got) != 1 {
			t.Fatalf("parentid filter on unicode: %v", ids(got))
		}
		for id, want := range map[string]string{"abc": "lower", "ABC": "upper"} {
			got, err := e.GetItem(ctx, 1, "bookmarks", id, 0)
			if err != nil || *got.Payload != want {
				t.Fatalf("id %s: %+v %v: ids must be case-sensitive", id, got, err)
			}
		}
		usage, err := e.CollectionUsage(ctx, 1, 0)
		if err != nil || usage["bookmarks"] != int64(len(payload)+len("lower")+len("upper")) {
			t.Fatalf("usage %v %v: must count bytes", usage, err)
		}
	})
}

func TestBatchAllOrNothing(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		mustPut(t, e, 1, "history", wbo("keep", "before", 50))
		var items []store.WBO
		for i := range 100 {
			w := wbo(fmt.Sprintf("id%03d", i), "p", 100)
			w.TTL = ptr[int64](2_000_000_000)
			items = append(items, w)
		}
		items[10] = wbo("keep", "overwritten", 100)
		items[50].ID = strings.Repeat("x", 65) // longer than VARBINARY(64)
		for _, coll := range []string{"history", "brand-new"} {
			_, err := e.PutItems(ctx, 1, coll, items)
			if err == nil {
				t.Fatalf("%s: batch with a 65-byte id succeeded", coll)
			}
			if errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("a refused row is not an unavailable database: %v", err)
			}
		}
		got := mustGet(t, e, 1, "history", store.Query{})
		if len(got) != 1 || *got[0].Payload != "before" {
			t.Fatalf("after failed batch: %+v, want only the untouched old row", got)
		}
		if n := count(t, e, "SELECT COUNT(*) FROM wbo_ttl"); n != 0 {
			t.Fatalf("%d ttl rows left by a failed batch", n)
		}
		if n := count(t, e, "SELECT COUNT(*) FROM collections"); n != 0 {
			t.Fatalf("failed batch created a collection name")
		}
	})
}

func TestLargeIDList(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		var all []store.WBO
		for i := range 3000 {
			w := wbo(fmt.Sprintf("id%04d", i), "p", int64(1000+i%97))
			w.SortIndex = ptr(int64(i % 13))
			all = append(all, w)
		}
		for chunk := range slices.Chunk(all, 500) {
			mustPut(t, e, 1, "history", chunk...)
		}
		var want []int64
		q := store.Query{HasIDs: true, Sort: store.SortNewest, Limit: 7, Offset: 5}
		for i := 0; i < 3000; i += 2 { // 1500 existing ids, spread over two chunks
			q.IDs = append(q.IDs, fmt.Sprintf("id%04d", i))
		}
		q.IDs = append(q.IDs, "missing1", "missing2")
		expected := slices.Clone(all)
		expected = slices.DeleteFunc(expected, func(w store.WBO) bool { return !slices.Contains(q.IDs, w.ID) })
		store.SortItems(expected, store.SortNewest)
		for _, w := range expected[5:12] {
			want = append(want, int64(*w.Modified))
		}
		got := mustGet(t, e, 1, "history", q)
		var gotMods []int64
		for _, w := range got {
			if !slices.Contains(q.IDs, w.ID) {
				t.Fatalf("%s not asked for", w.ID)
			}
			gotMods = append(gotMods, int64(*w.Modified))
		}
		// Ties in modified may come in any order: compare the sort keys.
		if diff := cmp.Diff(want, gotMods); diff != "" {
			t.Fatalf("modified of the window (-want +got):\n%s", diff)
		}
		if got := mustGet(t, e, 1, "history", store.Query{IDs: q.IDs, HasIDs: true}); len(got) != 1500 {
			t.Fatalf("unlimited read of 1502 ids gave %d items", len(got))
		}
		n, err := e.DeleteItems(ctx, 1, "history", store.Query{IDs: q.IDs, HasIDs: true, Limit: 100, Sort: store.SortIndex})
		if err != nil || n != 100 {
			t.Fatalf("limited delete by 1502 ids: %d, %v", n, err)
		}
		n, err = e.DeleteItems(ctx, 1, "history", store.Query{IDs: q.IDs, HasIDs: true})
		if err != nil || n != 1400 {
			t.Fatalf("delete by 1502 ids: %d, %v", n, err)
		}
		if got := mustGet(t, e, 1, "history", store.Query{}); len(got) != 1500 {
			t.Fatalf("%d items left, want the 1500 odd ones", len(got))
		}
	})
}

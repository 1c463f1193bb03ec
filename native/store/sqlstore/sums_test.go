package sqlstore

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// figures are the summing answers of an engine, or the truth counted from
// the rows.
type figures struct {
	Counts, Usage map[string]int64
	Total         int64
}

func answers(t *testing.T, e *Engine, user int64, now store.Timestamp) figures {
	t.Helper()
	ctx := context.Background()
	var f figures
	var err error
	if f.Counts, err = e.CollectionCounts(ctx, user, now); err != nil {
		t.Fatal(err)
	}
	if f.Usage, err = e.CollectionUsage(ctx, user, now); err != nil {
		t.Fatal(err)
	}
	if f.Total, err = e.TotalSize(ctx, user, now); err != nil {
		t.Fatal(err)
	}
	return f
}

// truth counts every live row, joined to its ttl row, as the engine did
// before it kept sums.
func truth(t *testing.T, e *Engine, user int64, now store.Timestamp) figures {
	t.Helper()
	rows, err := e.DB().Query("SELECT w.collection, COUNT(*), COALESCE(SUM(w.payload_size), 0)"+e.liveJoin()+
		" WHERE w.username = ?"+liveCond+" GROUP BY w.collection", user, now.Seconds())
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		cid  int
		n, b int64
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.cid, &r.n, &r.b); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	rows.Close()
	f := figures{Counts: map[string]int64{}, Usage: map[string]int64{}}
	for _, r := range got {
		names, err := e.collectionNames(context.Background(), e.DB(), storageKey{user}, []int{r.cid})
		if err != nil {
			t.Fatal(err)
		}
		f.Counts[names[r.cid]] += r.n
		f.Usage[names[r.cid]] += r.b
		f.Total += r.b
	}
	return f
}

// TestSumsStayRight runs native writes and, between them, writes of the
// legacy PHP server done as PHP does them (plain SQL on wbo, nothing else):
// after each step the counts, usage and total equal the rows' truth, and
// after each native step the sums are kept (no count of the rows needed).
func TestSumsStayRight(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		const user = 7
		now := store.Timestamp(500_000)
		php := func(q string, args ...any) func() error {
			return func() error { _, err := e.DB().ExecContext(ctx, q, args...); return err }
		}
		native := func(fn func() error) func() error { return fn }
		put := func(coll string, items ...store.WBO) func() error {
			return func() error { _, err := e.PutItems(ctx, user, coll, items); return err }
		}
		del := func(coll string, q store.Query) func() error {
			return func() error { _, err := e.DeleteItems(ctx, user, coll, q); return err }
		}
		expiring := wbo("e1", "expires", 400_010)
		expiring.TTL = ptr(int64(4_500)) // second 4500: before now (second 5000)
		steps := []struct {
			name   string
			legacy bool
			do     func() error
		}{
			{"put", false, put("history", wbo("a", "aaaa", 400_001), wbo("b", "bb", 400_002), wbo("c", "c", 400_003))},
			{"custom collection", false, put("custom", wbo("x", "xxxxx", 400_004))},
			{"overwrite and add, an id twice", false, put("history", wbo("a", "A", 400_005), wbo("d", "dddd", 400_005), wbo("d", "dd", 400_005))},
			// Items that all carry a modified: on MySQL the upsert counts
			// what it updated and replaced (countedUpsert).
			{"modified without payload, new and old", false, put("history",
				store.WBO{ID: "c", SortIndex: ptr(int64(5)), Modified: ts(400_006)}, store.WBO{ID: "m", Modified: ts(400_006)})},
			{"payload for the bare row, a new id bare then full", false, put("history",
				wbo("m", "mmm", 400_007), store.WBO{ID: "q", Modified: ts(400_007)}, wbo("q", "qqqqqqq", 400_007))},
			{"partial update without payload", false, put("history", store.WBO{ID: "b", SortIndex: ptr(int64(3))})},
			{"new row without payload", false, put("history", store.WBO{ID: "n", ParentID: ptr("p")})},
			{"expired item", false, put("forms", expiring, wbo("f", "ff", 400_011))},
			{"legacy REPLACE of a new id", true, php("REPLACE INTO wbo (username, collection, id, modified, payload, payload_size) VALUES (?, 4, 'p1', 400020, 'phpphp', 6)", user)},
			{"native write after it", false, put("history", wbo("e", "eeeeee", 400_021))},
			{"legacy REPLACE over a native row", true, php("REPLACE INTO wbo (username, collection, id, modified, payload, payload_size) VALUES (?, 4, 'a', 400030, 'longer payload', 14)", user)},
			{"legacy DELETE of the newest row", true, php("DELETE FROM wbo WHERE username = ? AND collection = 4 AND id = 'a'", user)},
			{"native delete by ids", false, del("history", store.Query{IDs: []string{"b", "zz"}, HasIDs: true})},
			{"native delete with a limit", false, del("history", store.Query{Limit: 1, Sort: store.SortOldest})},
			{"native delete older than", false, del("history", store.Query{Older: ts(400_010)})},
			{"legacy DELETE of a whole collection", true, php("DELETE FROM wbo WHERE username = ? AND collection = 3", user)},
			{"native put into it again", false, put("forms", wbo("g", "g", 400_040))},
			{"native delete of a whole collection", false, del("custom", store.Query{})},
			{"native delete of everything", false, native(func() error { return e.DeleteStorage(ctx, user) })},
			{"put after wipe", false, put("bookmarks", wbo("k", "kk", 400_050))},
		}
		for _, s := range steps {
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if d := cmp.Diff(truth(t, e, user, now), answers(t, e, user, now)); d != "" {
				t.Fatalf("%s: answers differ from the rows (-rows +answers):\n%s", s.name, d)
			}
			if !s.legacy {
				if n := count(t, e, "SELECT COUNT(*) FROM wbo_sums s WHERE s.username = ? AND s.high <> "+
					"(SELECT COALESCE(MAX(modified), 0) FROM wbo w WHERE w.username = s.username AND w.collection = s.collection)", user); n != 0 {
					t.Errorf("%s: %d sums rows left for counting again after a native write", s.name, n)
				}
			}
		}
	})
}

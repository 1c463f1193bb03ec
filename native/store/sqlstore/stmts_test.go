package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// TestPreparedReads: reads of many shapes answer as they did unprepared,
// past the bound on prepared statements too, and on MySQL the statements
// are really prepared on the server and closed with the engine.
func TestPreparedReads(t *testing.T) {
	forEachDSN(t, func(t *testing.T, b backend, dsn string) {
		ctx := context.Background()
		// The server's count, through a connection of its own: the
		// engine's are closed at the end.
		var admin *sql.DB
		if b.name == "mysql" {
			var err error
			if admin, err = sql.Open("mysql", strings.TrimPrefix(dsn, "mysql:")); err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
		}
		prepared := func() int64 {
			if b.name != "mysql" {
				return 0
			}
			var name string
			var n int64
			if err := admin.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'").Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// Before the engine opens: Init prepares the usual upserts
		// (prepareUpserts), which Close closes too.
		before := prepared()
		e := openEngine(t, dsn, Config{})
		var items []store.WBO
		for i := range 30 {
			w := wbo(fmt.Sprintf("i%02d", i), fmt.Sprint("payload ", i), int64(1000+i))
			w.SortIndex = ptr(int64(i*7%30 - 15)) // distinct: no ties to order
			if i%3 == 0 {
				w.ParentID = ptr("p")
			}
			items = append(items, w)
		}
		mustPut(t, e, 1, "bookmarks", items...)
		// 2 sorts x 2 parent filters x 2 newer filters x 3 windows = 24
		// shapes, more than maxStmts; each read twice.
		n := 0
		for _, sort := range []store.Sort{store.SortIndex, store.SortOldest} {
			for _, parent := range []*string{nil, ptr("p")} {
				for _, newer := range []*store.Timestamp{nil, ts(1010)} {
					for _, win := range [][2]int{{0, 0}, {5, 0}, {4, 3}} {
						q := store.Query{Sort: sort, ParentID: parent, Newer: newer, Limit: win[0], Offset: win[1], Now: 5000}
						want := expected(items, q)
						for range 2 {
							if diff := cmp.Diff(want, ids(mustGet(t, e, 1, "bookmarks", q))); diff != "" {
								t.Fatalf("%+v (-want +got):\n%s", q, diff)
							}
						}
						n++
					}
				}
			}
		}
		if got := e.stmts.n.Load(); got != maxStmts {
			t.Errorf("%d statements prepared after %d shapes; want the bound, %d", got, n, maxStmts)
		}
		if b.name != "mysql" {
			return
		}
		if p := prepared(); p < before+maxStmts {
			t.Errorf("server's prepared statements %d -> %d; want at least %d more", before, p, maxStmts)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		// The server forgets a connection's statements when it has read
		// the connection's end, after Close returns: wait for it a while.
		p := prepared()
		for deadline := time.Now().Add(10 * time.Second); p > before && time.Now().Before(deadline); p = prepared() {
			time.Sleep(50 * time.Millisecond)
		}
		if p > before {
			t.Errorf("server's prepared statements after Close: %d; want at most %d, as before the engine opened", p, before)
		}
	})
}

// expected is what q selects from items, computed in Go.
func expected(items []store.WBO, q store.Query) []string {
	var out []store.WBO
	for _, w := range items {
		if q.ParentID != nil && (w.ParentID == nil || *w.ParentID != *q.ParentID) {
			continue
		}
		if q.Newer != nil && *w.Modified <= *q.Newer {
			continue
		}
		out = append(out, w)
	}
	store.SortItems(out, q.Sort)
	return ids(store.Window(out, q.Limit, q.Offset))
}

// TestPreparedUpserts: on MySQL, Init prepares the upserts of the usual
// batch sizes; batches of those sizes (prepared) and of others (text)
// store the same rows, new and updated, partial updates too.
func TestPreparedUpserts(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		want := 0
		if e.d.prepareWrites {
			want = 2 * len(preparedRows)
		}
		if n := int(e.wstmts.n.Load()); n != want {
			t.Fatalf("%d upserts prepared by Init; want %d", n, want)
		}
		for _, size := range []int{1, 10, 100, 7} {
			var items []store.WBO
			for i := range size {
				items = append(items, wbo(fmt.Sprintf("%03d-%03d", size, i), fmt.Sprint("first ", i), 100))
			}
			mustPut(t, e, 1, "forms", items...)
			for i := range items { // again: updates, the payload of every other one kept
				items[i].SortIndex, items[i].Modified = ptr(int64(i)), ts(200)
				if i%2 == 1 {
					items[i].Payload = nil
				} else {
					items[i].Payload = ptr(fmt.Sprint("second ", i))
				}
			}
			mustPut(t, e, 1, "forms", items...)
			got := mustGet(t, e, 1, "forms", store.Query{Newer: ts(150), Sort: store.SortIndex})
			if len(got) != size {
				t.Fatalf("batch of %d: %d rows updated", size, len(got))
			}
			for _, w := range got {
				i := int(*w.SortIndex)
				p := fmt.Sprint("second ", i)
				if i%2 == 1 {
					p = fmt.Sprint("first ", i)
				}
				if *w.Payload != p || w.PayloadSize != int64(len(p)) || *w.Modified != 200 {
					t.Fatalf("batch of %d, item %d: %+v", size, i, w)
				}
			}
			if _, err := e.DeleteItems(context.Background(), 1, "forms", store.Query{}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

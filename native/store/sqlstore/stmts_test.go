package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// TestPreparedReads: reads of many shapes answer as they did unprepared,
// past the bound on prepared statements too, and on MySQL the statements
// are really prepared on the server and closed with the engine.
func TestPreparedReads(t *testing.T) {
	forEachDSN(t, func(t *testing.T, b backend, dsn string) {
		ctx := context.Background()
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
		// The server's count, through a connection of its own: the
		// engine's are closed at the end.
		admin := e.DB()
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
		before := prepared()
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
		if p := prepared(); p != before {
			t.Errorf("server's prepared statements after Close: %d; want %d", p, before)
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

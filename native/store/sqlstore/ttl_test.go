package sqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestTTL(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		now := store.Timestamp(1_700_000_000_00)
		sec := now.Seconds()
		live := wbo("live", "12345", int64(now)-100)
		live.TTL = ptr(sec + 10)
		boundary := wbo("boundary", "1", int64(now)-100)
		boundary.TTL = ptr(sec) // at now: gone
		gone := wbo("gone", "22", int64(now)-50)
		gone.TTL = ptr(sec - 1)
		mustPut(t, e, 1, "tabs", live, boundary, gone, wbo("forever", "333", int64(now)-200))

		got := mustGet(t, e, 1, "tabs", store.Query{Now: now, Sort: store.SortOldest})
		if diff := cmp.Diff([]string{"forever", "live"}, ids(got)); diff != "" {
			t.Fatalf("live items (-want +got):\n%s", diff)
		}
		if got[1].TTL == nil || *got[1].TTL != sec+10 || got[0].TTL != nil {
			t.Fatalf("ttl read back: %v, %v", got[0].TTL, got[1].TTL)
		}
		if _, err := e.GetItem(ctx, 1, "tabs", "gone", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired GetItem: %v", err)
		}
		if _, err := e.GetItem(ctx, 1, "tabs", "gone", now-200); err != nil {
			t.Fatalf("GetItem before expiry: %v", err)
		}
		checkInfo(t, e, now, map[string]int64{"tabs": 2}, map[string]int64{"tabs": 8}, 8)
		// Timestamps ignore ttl: the expired item is the newest.
		stamps, err := e.CollectionTimestamps(ctx, 1)
		if err != nil || stamps["tabs"] != now-50 {
			t.Fatalf("timestamps %v %v, want tabs at %d", stamps, err, now-50)
		}
		if m, ok, err := e.CollectionMax(ctx, 1, "tabs"); m != now-50 || !ok || err != nil {
			t.Fatalf("CollectionMax %d %v %v", m, ok, err)
		}

		// A write without ttl makes the item permanent again, even a
		// partial one.
		mustPut(t, e, 1, "tabs", store.WBO{ID: "gone", Modified: ts(int64(now))})
		if _, err := e.GetItem(ctx, 1, "tabs", "gone", now); err != nil {
			t.Fatalf("rewritten without ttl: %v", err)
		}
		// The legacy server overwrites without knowing ttl: the new
		// modified voids the old ttl row.
		if _, err := e.DB().ExecContext(ctx, "UPDATE wbo SET modified = modified + 1 WHERE id = 'boundary'"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetItem(ctx, 1, "tabs", "boundary", now); err != nil {
			t.Fatalf("legacy overwrite did not void the ttl: %v", err)
		}
		// Deletes ignore ttl, and take the ttl rows along.
		n, err := e.DeleteItems(ctx, 1, "tabs", store.Query{})
		if err != nil || n != 4 {
			t.Fatalf("deleted %d, %v; want all 4 rows", n, err)
		}
		if n := count(t, e, "SELECT COUNT(*) FROM wbo_ttl"); n != 0 {
			t.Fatalf("%d ttl rows outlive their items", n)
		}
	})
}

func TestTTLRowFollowsModified(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		// ttl set by a partial write keyed by the row's modified, which
		// the write did not change.
		mustPut(t, e, 1, "tabs", wbo("x", "p", 100))
		mustPut(t, e, 1, "tabs", store.WBO{ID: "x", TTL: ptr[int64](5)})
		if _, err := e.GetItem(ctx, 1, "tabs", "x", 600); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ttl written without modified must still apply: %v", err)
		}
		if got := count(t, e, "SELECT modified FROM wbo_ttl WHERE id = 'x'"); got != 100 {
			t.Fatalf("ttl row modified %d, want the row's 100", got)
		}
		// A row with NULL modified (legacy data) matches NULL-safely.
		if _, err := e.DB().ExecContext(ctx, "UPDATE wbo SET modified = NULL WHERE id = 'x'"); err != nil {
			t.Fatal(err)
		}
		mustPut(t, e, 1, "tabs", store.WBO{ID: "x", TTL: ptr[int64](5)})
		if got := mustGet(t, e, 1, "tabs", store.Query{Now: 600}); len(got) != 0 {
			t.Fatalf("expired NULL-modified row visible: %v", ids(got))
		}
		if got := mustGet(t, e, 1, "tabs", store.Query{Now: 400}); len(got) != 1 {
			t.Fatalf("live NULL-modified row hidden")
		}
	})
}

func checkInfo(t *testing.T, e *Engine, now store.Timestamp, counts, usage map[string]int64, total int64) {
	t.Helper()
	ctx := context.Background()
	gotCounts, err := e.CollectionCounts(ctx, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts, gotCounts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	gotUsage, err := e.CollectionUsage(ctx, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(usage, gotUsage); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	gotTotal, err := e.TotalSize(ctx, 1, now)
	if err != nil || gotTotal != total {
		t.Errorf("total %d (%v), want %d", gotTotal, err, total)
	}
}

func TestInfoMaps(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		mustPut(t, e, 1, "bookmarks", wbo("a", "1", 100), wbo("b", "22", 100))
		mustPut(t, e, 1, "custom", wbo("a", "333", 200))
		mustPut(t, e, 2, "bookmarks", wbo("a", "4444", 300))
		// A collection id nobody can name (rows PHP would have left after
		// losing its collections row) is dropped from the maps.
		if _, err := e.DB().ExecContext(ctx, "INSERT INTO wbo (username, collection, id, modified, payload, payload_size)"+
			" VALUES (1, 150, 'orphan', 999, 'x', 1)"); err != nil {
			t.Fatal(err)
		}
		checkInfo(t, e, 0, map[string]int64{"bookmarks": 2, "custom": 1},
			map[string]int64{"bookmarks": 3, "custom": 3}, 7) // total counts the orphan's byte too
		stamps, err := e.CollectionTimestamps(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]store.Timestamp{"bookmarks": 100, "custom": 200}, stamps); diff != "" {
			t.Fatalf("timestamps (-want +got):\n%s", diff)
		}
		for _, m := range []func() (int, error){
			func() (int, error) { m, err := e.CollectionTimestamps(ctx, 3); return len(m), err },
			func() (int, error) { m, err := e.CollectionCounts(ctx, 3, 0); return len(m), err },
			func() (int, error) { m, err := e.CollectionUsage(ctx, 3, 0); return len(m), err },
		} {
			if n, err := m(); n != 0 || err != nil {
				t.Fatalf("user without data: %d entries, %v", n, err)
			}
		}
		if err := e.DeleteStorage(ctx, 1); err != nil {
			t.Fatal(err)
		}
		checkInfo(t, e, 0, map[string]int64{}, map[string]int64{}, 0)
		if n := count(t, e, "SELECT COUNT(*) FROM collections WHERE userid = 1"); n != 0 {
			t.Fatalf("DeleteStorage left %d collection names", n)
		}
		if got := mustGet(t, e, 2, "bookmarks", store.Query{}); len(got) != 1 {
			t.Fatalf("DeleteStorage touched another user")
		}
	})
}

// TestTTLJoinGuard: the item read looks for ttl rows only in a collection
// that has some. Same ids in two collections, ttl rows in one only: each
// reads its own, and on MySQL the plan of the read without ttl rows skips
// the ttl table ("Impossible ON condition").
func TestTTLJoinGuard(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		now := store.Timestamp(1_700_000_000_00)
		sec := now.Seconds()
		a, b := wbo("a", "1", int64(now)-100), wbo("b", "2", int64(now)-90)
		a.TTL, b.TTL = ptr(sec-1), ptr(sec+10)
		mustPut(t, e, 1, "tabs", a, b)
		mustPut(t, e, 1, "forms", wbo("a", "1", int64(now)-100), wbo("b", "2", int64(now)-90))
		mustPut(t, e, 2, "tabs", wbo("a", "1", int64(now)-100))
		q := store.Query{Now: now, Sort: store.SortOldest}
		for _, c := range []struct {
			user int64
			coll string
			want []string
		}{{1, "tabs", []string{"b"}}, {1, "forms", []string{"a", "b"}}, {2, "tabs", []string{"a"}}} {
			got := mustGet(t, e, c.user, c.coll, q)
			if diff := cmp.Diff(c.want, ids(got)); diff != "" {
				t.Errorf("user %d %s (-want +got):\n%s", c.user, c.coll, diff)
			}
			for _, w := range got {
				if (w.TTL != nil) != (c.coll == "tabs" && c.user == 1) {
					t.Errorf("user %d %s/%s: ttl %v", c.user, c.coll, w.ID, w.TTL)
				}
			}
		}
		if e.d.name != "mysql" {
			return
		}
		explain := func(coll int) string {
			var plan string // one JSON document
			err := e.DB().QueryRowContext(ctx, "EXPLAIN FORMAT=JSON SELECT "+itemColumns+e.liveJoinGuarded()+
				" WHERE w.username = ? AND w.collection = ?"+liveCond, 1, coll, 1, coll, sec).Scan(&plan)
			if err != nil {
				t.Fatal(err)
			}
			return plan
		}
		if p := explain(3); !strings.Contains(p, `"impossible_on_condition": true`) {
			t.Errorf("forms, no ttl rows: the plan joins the ttl table: %s", p)
		}
		if p := explain(9); strings.Contains(p, "impossible_on_condition") {
			t.Errorf("tabs, with ttl rows: the plan skips the ttl table: %s", p)
		}
	})
}

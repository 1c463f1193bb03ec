package store

import (
	"slices"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// TestQueryInMemory: the one in-memory evaluation of a Query (cache tabs,
// dry-run overlay) filters, orders and windows as the SQL engines do.
func TestQueryInMemory(t *testing.T) {
	items := []WBO{
		{ID: "a", Modified: ptr(Timestamp(100)), SortIndex: ptr(int64(5)), ParentID: ptr("p")},
		{ID: "b", Modified: ptr(Timestamp(300)), SortIndex: nil},
		{ID: "c", Modified: nil, SortIndex: ptr(int64(9)), TTL: ptr(int64(10))},
		{ID: "d", Modified: ptr(Timestamp(200)), SortIndex: ptr(int64(5)), ParentID: ptr("q")},
	}
	run := func(q Query) []string {
		var out []WBO
		for _, w := range items {
			if Live(w, q.Now) && Matches(w, q) {
				out = append(out, w)
			}
		}
		SortItems(out, q.Sort)
		var ids []string
		for _, w := range Window(out, q.Limit, q.Offset) {
			ids = append(ids, w.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"all, insertion order", Query{}, []string{"a", "b", "c", "d"}},
		{"expired gone", Query{Now: 11 * 100}, []string{"a", "b", "d"}},
		{"newest, NULL last", Query{Sort: SortNewest}, []string{"b", "d", "a", "c"}},
		{"oldest, NULL first", Query{Sort: SortOldest}, []string{"c", "a", "d", "b"}},
		{"index, ties stable, NULL last", Query{Sort: SortIndex}, []string{"c", "a", "d", "b"}},
		{"newer is strict, NULL fails", Query{Newer: ptr(Timestamp(100))}, []string{"b", "d"}},
		{"older", Query{Older: ptr(Timestamp(200))}, []string{"a"}},
		{"index_above strict", Query{IndexAbove: ptr(5.0)}, []string{"c"}},
		{"index_below", Query{IndexBelow: ptr(9.0)}, []string{"a", "d"}},
		{"parentid", Query{ParentID: ptr("q")}, []string{"d"}},
		{"ids", Query{HasIDs: true, IDs: []string{"d", "b"}}, []string{"b", "d"}},
		{"empty ids list matches none", Query{HasIDs: true}, nil},
		{"limit and offset", Query{Sort: SortNewest, Limit: 2, Offset: 1}, []string{"d", "a"}},
		{"offset past the end", Query{Limit: 2, Offset: 9}, nil},
	} {
		if got := run(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

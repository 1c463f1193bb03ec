package store

import (
	"cmp"
	"slices"
)

// SortItems orders items as an engine's ORDER BY for s does, NULL below
// every value, keeping the order of equal items. Engines use it where they
// merge answers in memory (an ids list read in chunks, an overlay over a
// snapshot).
func SortItems(items []WBO, s Sort) {
	switch s {
	case SortOldest:
		slices.SortStableFunc(items, func(a, b WBO) int { return cmpNull(a.Modified, b.Modified) })
	case SortNewest:
		slices.SortStableFunc(items, func(a, b WBO) int { return cmpNull(b.Modified, a.Modified) })
	case SortIndex:
		slices.SortStableFunc(items, func(a, b WBO) int { return cmpNull(b.SortIndex, a.SortIndex) })
	}
}

// cmpNull orders like SQL: NULL (nil) below every value.
func cmpNull[T cmp.Ordered](a, b *T) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

// Window applies a Query's Limit and Offset to sorted items.
func Window(items []WBO, limit, offset int) []WBO {
	if limit <= 0 {
		return items
	}
	offset = min(offset, len(items))
	return items[offset:min(offset+limit, len(items))]
}

// Matches reports whether w passes q's filters other than ttl (ids when
// given, parentid, predecessorid, older, newer, index_above, index_below)
// as the SQL engines evaluate them: strict comparisons, a NULL column
// failing every comparison. With SortItems, Window and Live it is the one
// in-memory evaluation of a Query, for every engine that answers from
// memory (the cache's tabs, the dry-run overlay).
func Matches(w WBO, q Query) bool {
	if (q.HasIDs || q.IDs != nil) && !slices.Contains(q.IDs, w.ID) {
		return false
	}
	eq := func(want, got *string) bool { return want == nil || (got != nil && *got == *want) }
	ts := func(bound *Timestamp, c int) bool {
		return bound == nil || (w.Modified != nil && cmp.Compare(*w.Modified, *bound) == c)
	}
	idx := func(bound *float64, c int) bool {
		return bound == nil || (w.SortIndex != nil && cmp.Compare(float64(*w.SortIndex), *bound) == c)
	}
	return eq(q.ParentID, w.ParentID) && eq(q.PredecessorID, w.PredecessorID) &&
		ts(q.Older, -1) && ts(q.Newer, 1) && idx(q.IndexAbove, 1) && idx(q.IndexBelow, -1)
}

// Live reports whether w's ttl has not passed at now.
func Live(w WBO, now Timestamp) bool {
	return w.TTL == nil || *w.TTL > now.Seconds()
}

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
	mod := func(w WBO) *int64 {
		if w.Modified == nil {
			return nil
		}
		v := int64(*w.Modified)
		return &v
	}
	switch s {
	case SortOldest:
		slices.SortStableFunc(items, func(a, b WBO) int { return cmpNull(mod(a), mod(b)) })
	case SortNewest:
		slices.SortStableFunc(items, func(a, b WBO) int { return cmpNull(mod(b), mod(a)) })
	case SortIndex:
		slices.SortStableFunc(items, func(a, b WBO) int { return cmpNull(b.SortIndex, a.SortIndex) })
	}
}

func cmpNull(a, b *int64) int {
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

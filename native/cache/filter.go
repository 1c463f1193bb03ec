package cache

import (
	"cmp"
	"slices"

	"weaveproxy/native/store"
)

// tabSet is a user's tabs in primary-key (id) order, expired ones
// included: whether a tab is visible depends on the request's time.
type tabSet []store.WBO

func (t tabSet) byID() map[string]wbo {
	m := make(map[string]wbo, len(t))
	for _, w := range t {
		m[w.ID] = toJSON(w)
	}
	return m
}

func live(w store.WBO, now store.Timestamp) bool {
	return w.TTL == nil || *w.TTL > now.Seconds()
}

// max is the highest modified over every row, ttl ignored, as the
// database's MAX(modified): found is false when no row has one.
func (t tabSet) max() (store.Timestamp, bool) {
	var max store.Timestamp
	found := false
	for _, w := range t {
		if w.Modified != nil && (!found || *w.Modified > max) {
			max, found = *w.Modified, true
		}
	}
	return max, found
}

func (t tabSet) count(now store.Timestamp) int64 {
	var n int64
	for _, w := range t {
		if live(w, now) {
			n++
		}
	}
	return n
}

func (t tabSet) bytes(now store.Timestamp) int64 {
	var n int64
	for _, w := range t {
		if live(w, now) {
			n += w.PayloadSize
		}
	}
	return n
}

func (t tabSet) find(id string, now store.Timestamp) (store.WBO, bool) {
	for _, w := range t {
		if w.ID == id {
			return w, live(w, now)
		}
	}
	return store.WBO{}, false
}

// query applies every filter of q with the SQL engines' semantics: strict
// comparisons, NULL never matching a comparison, NULLs first in ascending
// and last in descending order, ties in id order; limit and offset last.
// ignoreTTL is for deletes.
func (t tabSet) query(q store.Query, ignoreTTL bool) []store.WBO {
	var ids map[string]bool
	if q.HasIDs || q.IDs != nil {
		ids = make(map[string]bool, len(q.IDs))
		for _, id := range q.IDs {
			ids[id] = true
		}
	}
	out := []store.WBO{}
	for _, w := range t {
		if (ignoreTTL || live(w, q.Now)) && (ids == nil || ids[w.ID]) && matches(w, q) {
			out = append(out, w)
		}
	}
	switch q.Sort {
	case store.SortOldest:
		slices.SortStableFunc(out, func(a, b store.WBO) int { return cmpNull(a.Modified, b.Modified) })
	case store.SortNewest:
		slices.SortStableFunc(out, func(a, b store.WBO) int { return -cmpNull(a.Modified, b.Modified) })
	case store.SortIndex:
		slices.SortStableFunc(out, func(a, b store.WBO) int { return -cmpNull(a.SortIndex, b.SortIndex) })
	}
	if q.Limit > 0 {
		if q.Offset > 0 {
			out = out[min(q.Offset, len(out)):]
		}
		out = out[:min(q.Limit, len(out))]
	}
	return out
}

func matches(w store.WBO, q store.Query) bool {
	if q.ParentID != nil && (w.ParentID == nil || *w.ParentID != *q.ParentID) {
		return false
	}
	if q.PredecessorID != nil && (w.PredecessorID == nil || *w.PredecessorID != *q.PredecessorID) {
		return false
	}
	if q.Older != nil && (w.Modified == nil || *w.Modified >= *q.Older) {
		return false
	}
	if q.Newer != nil && (w.Modified == nil || *w.Modified <= *q.Newer) {
		return false
	}
	if q.IndexAbove != nil && (w.SortIndex == nil || float64(*w.SortIndex) <= *q.IndexAbove) {
		return false
	}
	if q.IndexBelow != nil && (w.SortIndex == nil || float64(*w.SortIndex) >= *q.IndexBelow) {
		return false
	}
	return true
}

// cmpNull orders like SQL: NULL below every value.
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

// sorted returns the rows in id order.
func (t tabSet) sorted() tabSet {
	s := slices.Clone(t)
	slices.SortFunc(s, func(a, b store.WBO) int { return cmp.Compare(a.ID, b.ID) })
	return s
}

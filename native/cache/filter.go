package cache

import (
	"cmp"
	"slices"

	"github.com/weaveproxy/weaveproxy/native/store"
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
		if store.Live(w, now) {
			n++
		}
	}
	return n
}

func (t tabSet) bytes(now store.Timestamp) int64 {
	var n int64
	for _, w := range t {
		if store.Live(w, now) {
			n += w.PayloadSize
		}
	}
	return n
}

func (t tabSet) find(id string, now store.Timestamp) (store.WBO, bool) {
	for _, w := range t {
		if w.ID == id {
			return w, store.Live(w, now)
		}
	}
	return store.WBO{}, false
}

// query answers q from memory with the SQL engines' semantics
// (store.Matches, store.SortItems, store.Window). ignoreTTL is for deletes.
func (t tabSet) query(q store.Query, ignoreTTL bool) []store.WBO {
	out := []store.WBO{}
	for _, w := range t {
		if (ignoreTTL || store.Live(w, q.Now)) && store.Matches(w, q) {
			out = append(out, w)
		}
	}
	store.SortItems(out, q.Sort)
	return store.Window(out, q.Limit, q.Offset)
}

// sorted returns the rows in id order.
func (t tabSet) sorted() tabSet {
	s := slices.Clone(t)
	slices.SortFunc(s, func(a, b store.WBO) int { return cmp.Compare(a.ID, b.ID) })
	return s
}

package overlay

import (
	"context"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// The per-collection answers start from the base's and correct, for each
// collection the overlay touched, what its rows change: a base row an
// overlay row hides comes out, the overlay row goes in.

// CollectionTimestamps is each collection's highest modified, ttl
// regardless.
func (o *Engine) CollectionTimestamps(ctx context.Context, userID int64) (map[string]store.Timestamp, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.data[userID]
	out := map[string]store.Timestamp{}
	if u == nil || !u.wiped {
		base, err := o.base.CollectionTimestamps(ctx, userID)
		if err != nil || u == nil {
			return base, err
		}
		out = base
	}
	for name := range u.colls {
		delete(out, name)
		m, present, err := o.newest(ctx, userID, name)
		if err != nil {
			return nil, err
		}
		if present {
			out[name] = m.ts
		}
	}
	return out, nil
}

// CollectionMax is the collection's highest modified; false when it has
// no row with one.
func (o *Engine) CollectionMax(ctx context.Context, userID int64, collection string) (store.Timestamp, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c, hidden := o.collection(userID, collection); c == nil && !hidden {
		return o.base.CollectionMax(ctx, userID, collection)
	}
	if err := o.checkCollection(collection); err != nil {
		return 0, false, err
	}
	m, _, err := o.newest(ctx, userID, collection)
	return m.ts, m.valid, err
}

// maxTS is a MAX(modified): invalid when every row's is NULL.
type maxTS struct {
	ts    store.Timestamp
	valid bool
}

func (m *maxTS) add(ts *store.Timestamp) {
	if ts != nil && (!m.valid || *ts > m.ts) {
		m.ts, m.valid = *ts, true
	}
}

// newest is the highest modified of a collection the overlay touched, and
// whether the collection has rows at all: the merged read's first row
// newest first (NULLs sort last).
func (o *Engine) newest(ctx context.Context, userID int64, collection string) (maxTS, bool, error) {
	var m maxTS
	top, err := o.getItems(ctx, userID, collection, store.Query{Sort: store.SortNewest, Limit: 1, Now: allTime})
	if err != nil || len(top) == 0 {
		return m, false, err
	}
	m.add(top[0].Modified)
	return m, true, nil
}

// CollectionCounts is each collection's number of live items.
func (o *Engine) CollectionCounts(ctx context.Context, userID int64, now store.Timestamp) (map[string]int64, error) {
	return o.perCollection(ctx, userID, now, nil, func(store.WBO) int64 { return 1 })
}

// CollectionUsage is each collection's payload bytes of live items.
func (o *Engine) CollectionUsage(ctx context.Context, userID int64, now store.Timestamp) (map[string]int64, error) {
	return o.perCollection(ctx, userID, now, o.base.CollectionUsage, func(w store.WBO) int64 { return w.PayloadSize })
}

type baseSums func(ctx context.Context, userID int64, now store.Timestamp) (map[string]int64, error)

// perCollection sums of over each collection's live items, from the base's
// sums (sums; nil: the counts). A collection is in the answer when it has
// a live item, whatever its sum: the base's counts say which.
func (o *Engine) perCollection(ctx context.Context, userID int64, now store.Timestamp, sums baseSums, of func(store.WBO) int64) (map[string]int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.data[userID]
	if u == nil {
		if sums == nil {
			sums = o.base.CollectionCounts
		}
		return sums(ctx, userID, now)
	}
	out, counts := map[string]int64{}, map[string]int64{}
	if !u.wiped {
		var err error
		if counts, err = o.base.CollectionCounts(ctx, userID, now); err != nil {
			return nil, err
		}
		out = counts
		if sums != nil {
			if out, err = sums(ctx, userID, now); err != nil {
				return nil, err
			}
		}
	}
	one := func(store.WBO) int64 { return 1 }
	for name, c := range u.colls {
		hidden := u.wiped || c.cleared
		v, n := out[name], counts[name]
		if hidden {
			v, n = 0, 0
		}
		v += o.delta(c, hidden, now, of)
		if n += o.delta(c, hidden, now, one); n > 0 {
			out[name] = v
		} else {
			delete(out, name)
		}
	}
	return out, nil
}

// delta is what the overlay's rows of c change in a sum of of over live
// items; hidden: the base's rows are not counted in the first place.
func (o *Engine) delta(c *coll, hidden bool, now store.Timestamp, of func(store.WBO) int64) int64 {
	var d int64
	for _, r := range c.rows {
		if !hidden && r.base != nil && store.Live(*r.base, now) {
			d -= of(*r.base)
		}
		if r.cur != nil && store.Live(*r.cur, now) {
			d += of(*r.cur)
		}
	}
	return d
}

// TotalSize is the payload bytes of the user's live items.
func (o *Engine) TotalSize(ctx context.Context, userID int64, now store.Timestamp) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.data[userID]
	if u == nil {
		return o.base.TotalSize(ctx, userID, now)
	}
	var total int64
	size := func(w store.WBO) int64 { return w.PayloadSize }
	if !u.wiped {
		var err error
		if total, err = o.base.TotalSize(ctx, userID, now); err != nil {
			return 0, err
		}
		var usage map[string]int64
		for name, c := range u.colls {
			if !c.cleared {
				continue
			}
			if usage == nil {
				if usage, err = o.base.CollectionUsage(ctx, userID, now); err != nil {
					return 0, err
				}
			}
			total -= usage[name]
		}
	}
	for _, c := range u.colls {
		total += o.delta(c, u.wiped || c.cleared, now, size)
	}
	return total, nil
}

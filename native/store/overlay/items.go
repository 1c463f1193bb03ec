package overlay

import (
	"context"
	"fmt"
	"slices"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// userData is the overlay's storage of one user.
type userData struct {
	// wiped: DeleteStorage or DeleteUser ran; no base row is visible.
	wiped bool
	colls map[string]*coll
}

// coll is the overlay's part of one collection.
type coll struct {
	// cleared: a delete without filters ran; no base row is visible.
	cleared bool
	// rows are the ids the overlay touched. While the base is visible,
	// each hides the base row of its id.
	rows map[string]*row
}

type row struct {
	base *store.WBO // the base row when the id was first touched; nil: none
	cur  *store.WBO // the row now; nil: deleted
}

// collection returns the overlay's part of a collection, nil when the
// overlay never touched it, and whether base rows are hidden.
func (o *Engine) collection(userID int64, name string) (*coll, bool) {
	u := o.data[userID]
	if u == nil {
		return nil, false
	}
	c := u.colls[name]
	return c, u.wiped || (c != nil && c.cleared)
}

// touch returns the collection's part, creating it.
func (o *Engine) touch(userID int64, name string) *coll {
	u := o.data[userID]
	if u == nil {
		u = &userData{}
		o.data[userID] = u
	}
	if u.colls == nil {
		u.colls = map[string]*coll{}
	}
	c := u.colls[name]
	if c == nil {
		c = &coll{rows: map[string]*row{}}
		u.colls[name] = c
	}
	return c
}

func (o *Engine) checkCollection(name string) error {
	if o.lim.Collection == nil {
		return nil
	}
	return o.lim.Collection(name)
}

func idsGiven(q store.Query) bool { return q.HasIDs || q.IDs != nil }

// GetItems merges the base's answer with the overlay's rows.
func (o *Engine) GetItems(ctx context.Context, userID int64, collection string, q store.Query) ([]store.WBO, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.getItems(ctx, userID, collection, q)
}

func (o *Engine) getItems(ctx context.Context, userID int64, collection string, q store.Query) ([]store.WBO, error) {
	c, hidden := o.collection(userID, collection)
	if c == nil && !hidden {
		return o.base.GetItems(ctx, userID, collection, q)
	}
	out := []store.WBO{}
	if idsGiven(q) && len(q.IDs) == 0 {
		return out, nil
	}
	if err := o.checkCollection(collection); err != nil {
		return nil, err
	}
	var touched map[string]*row
	if c != nil {
		touched = c.rows
	}
	if !hidden {
		// Each touched id may remove one base row from the answer: ask
		// for that many more, and apply the offset to the union.
		bq := q
		if q.Limit > 0 {
			bq.Limit, bq.Offset = q.Limit+q.Offset+len(touched), 0
		}
		base, err := o.base.GetItems(ctx, userID, collection, bq)
		if err != nil {
			return nil, err
		}
		for _, w := range base {
			if _, ok := touched[w.ID]; !ok {
				out = append(out, w)
			}
		}
	}
	for _, id := range sortedKeys(touched) {
		if w := touched[id].cur; w != nil && store.Matches(*w, q) && store.Live(*w, q.Now) {
			out = append(out, clone(*w))
		}
	}
	store.SortItems(out, q.Sort)
	return store.Window(out, q.Limit, q.Offset), nil
}

// GetItem is GetItems for one id.
func (o *Engine) GetItem(ctx context.Context, userID int64, collection, id string, now store.Timestamp) (store.WBO, error) {
	items, err := o.GetItems(ctx, userID, collection, store.Query{IDs: []string{id}, HasIDs: true, Now: now})
	if err != nil {
		return store.WBO{}, err
	}
	if len(items) == 0 {
		return store.WBO{}, fmt.Errorf("overlay: %s/%s: %w", collection, id, store.ErrNotFound)
	}
	return items[0], nil
}

// PutItems applies items to the overlay, all or none, with the partial
// update semantics of the store contract.
func (o *Engine) PutItems(ctx context.Context, userID int64, collection string, items []store.WBO) ([]*store.Timestamp, error) {
	if err := o.checkCollection(collection); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return []*store.Timestamp{}, nil
	}
	if o.lim.Item != nil {
		for _, it := range items {
			if err := o.lim.Item(it); err != nil {
				return nil, err
			}
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.load(ctx, userID, collection, items); err != nil {
		return nil, err
	}
	c := o.touch(userID, collection)
	olds := make([]*store.Timestamp, len(items))
	for i, it := range items {
		if r := c.rows[it.ID]; r != nil && r.cur != nil && r.cur.Modified != nil {
			m := *r.cur.Modified
			olds[i] = &m
		}
	}
	for _, it := range items {
		r := c.rows[it.ID]
		if r == nil {
			r = &row{}
			c.rows[it.ID] = r
		}
		r.cur = apply(r.cur, it)
	}
	return olds, nil
}

// load brings the base rows of items' ids the overlay has not touched yet
// into it, expired ones included: a write updates those too.
func (o *Engine) load(ctx context.Context, userID int64, collection string, items []store.WBO) error {
	c, hidden := o.collection(userID, collection)
	if hidden {
		return nil
	}
	var ids []string
	for _, it := range items {
		if c == nil || c.rows[it.ID] == nil {
			ids = append(ids, it.ID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return nil
	}
	base, err := o.base.GetItems(ctx, userID, collection, store.Query{IDs: ids, HasIDs: true, Now: allTime})
	if err != nil {
		return err
	}
	c = o.touch(userID, collection)
	for _, w := range base {
		b := clone(w)
		c.rows[w.ID] = &row{base: &b, cur: ptr(clone(w))}
	}
	return nil
}

// apply is one item written over the row cur (nil: a new row): a nil
// field keeps the stored value, the payload's size follows the payload,
// and the ttl is the item's, nil making it permanent.
func apply(cur *store.WBO, it store.WBO) *store.WBO {
	w := store.WBO{ID: it.ID}
	if cur != nil {
		w = clone(*cur)
	}
	if it.ParentID != nil {
		w.ParentID = ptr(*it.ParentID)
	}
	if it.PredecessorID != nil {
		w.PredecessorID = ptr(*it.PredecessorID)
	}
	if it.SortIndex != nil {
		w.SortIndex = ptr(*it.SortIndex)
	}
	if it.Modified != nil {
		w.Modified = ptr(*it.Modified)
	}
	if it.Payload != nil {
		w.Payload = ptr(*it.Payload)
		w.PayloadSize = int64(len(*it.Payload))
	}
	w.TTL = nil
	if it.TTL != nil {
		w.TTL = ptr(*it.TTL)
	}
	return &w
}

// DeleteItems deletes, in the overlay, the rows matching q, ttl
// regardless, and returns how many there were.
func (o *Engine) DeleteItems(ctx context.Context, userID int64, collection string, q store.Query) (int64, error) {
	if idsGiven(q) && len(q.IDs) == 0 {
		return 0, nil
	}
	if err := o.checkCollection(collection); err != nil {
		return 0, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if unfiltered(q) {
		return o.clear(ctx, userID, collection)
	}
	all := q
	all.Now = allTime
	gone, err := o.getItems(ctx, userID, collection, all)
	if err != nil {
		return 0, err
	}
	c := o.touch(userID, collection)
	for _, w := range gone {
		if r := c.rows[w.ID]; r != nil {
			r.cur = nil
		} else {
			b := clone(w)
			c.rows[w.ID] = &row{base: &b}
		}
	}
	return int64(len(gone)), nil
}

// unfiltered: q selects the whole collection.
func unfiltered(q store.Query) bool {
	return !idsGiven(q) && q.ParentID == nil && q.PredecessorID == nil && q.Older == nil &&
		q.Newer == nil && q.IndexAbove == nil && q.IndexBelow == nil && q.Limit <= 0
}

// clear deletes a whole collection without reading its rows: the count
// comes from the base's count, corrected by the overlay's rows.
func (o *Engine) clear(ctx context.Context, userID int64, collection string) (int64, error) {
	c, hidden := o.collection(userID, collection)
	var n int64
	if !hidden {
		counts, err := o.base.CollectionCounts(ctx, userID, allTime)
		if err != nil {
			return 0, err
		}
		n = counts[collection]
	}
	if c != nil {
		for _, r := range c.rows {
			if !hidden && r.base != nil {
				n--
			}
			if r.cur != nil {
				n++
			}
		}
	}
	c = o.touch(userID, collection)
	c.cleared, c.rows = true, map[string]*row{}
	return n, nil
}

// DeleteStorage hides every base row of the user and forgets the
// overlay's.
func (o *Engine) DeleteStorage(_ context.Context, userID int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.data[userID] = &userData{wiped: true}
	return nil
}

// clone copies w so that callers never share the overlay's memory.
func clone(w store.WBO) store.WBO {
	c := w
	for _, p := range []**string{&c.ParentID, &c.PredecessorID, &c.Payload} {
		if *p != nil {
			*p = ptr(**p)
		}
	}
	for _, p := range []**int64{&c.SortIndex, &c.TTL} {
		if *p != nil {
			*p = ptr(**p)
		}
	}
	if c.Modified != nil {
		c.Modified = ptr(*c.Modified)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// tabsDoc is the stored form of memcache-only tabs (no tag: they are data,
// not a copy of the database).
type tabsDoc struct {
	Tabs map[string]wbo `json:"tabs"`
}

// unavailable wraps a memcache failure where memcache holds the data.
func unavailable(userID int64, err error) error {
	return fmt.Errorf("cache: tabs of user %d: %w: %w", userID, store.ErrUnavailable, err)
}

// tabs returns every tab of a user, live or not, when they live in
// memcache alone.
func (e *Engine) tabs(ctx context.Context, userID int64) (tabSet, error) {
	if e.dry != nil {
		return e.dry.get(userID, func() (tabSet, error) { return e.memTabs(userID) })
	}
	return e.memTabs(userID)
}

// tabsFrom is tabs for the info maps, reusing the GetMulti when there was
// one.
func (e *Engine) tabsFrom(ctx context.Context, userID int64, s snap, ok bool) (tabSet, error) {
	if ok && e.dry == nil {
		return decodeTabs(s.items[keyUser(e.cfg.Prefix, userID, nTabs)])
	}
	return e.tabs(ctx, userID)
}

func (e *Engine) memTabs(userID int64) (tabSet, error) {
	it, err := e.mc.get(keyUser(e.cfg.Prefix, userID, nTabs))
	if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return nil, unavailable(userID, err)
	}
	t, err := decodeTabs(it)
	if err != nil {
		return nil, unavailable(userID, err)
	}
	return t, nil
}

func decodeTabs(it *memcache.Item) (tabSet, error) {
	if it == nil {
		return nil, nil
	}
	var doc tabsDoc
	if err := json.Unmarshal(it.Value, &doc); err != nil {
		return nil, fmt.Errorf("corrupt tabs entry: %w", err)
	}
	return fromMap(doc.Tabs), nil
}

// fromMap orders the tabs by id: the database's primary-key order, which
// is what it returns without a sort.
func fromMap(m map[string]wbo) tabSet {
	t := make(tabSet, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		t = append(t, m[id].store())
	}
	return t
}

// updateTabs applies fn to the memcache-only tabs of a user with
// compare-and-swap, retrying on a concurrent change. fn reports whether it
// changed anything; it may run several times.
func (e *Engine) updateTabs(ctx context.Context, userID int64, fn func(map[string]wbo) bool) error {
	if e.dry != nil {
		return e.dry.update(userID, func() (tabSet, error) { return e.memTabs(userID) }, fn)
	}
	key := keyUser(e.cfg.Prefix, userID, nTabs)
	for attempt := 0; attempt < 10; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		it, err := e.mc.get(key)
		if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
			return unavailable(userID, err)
		}
		t, err := decodeTabs(it)
		if err != nil {
			return unavailable(userID, err)
		}
		m := t.byID()
		if !fn(m) {
			return nil
		}
		b, err := json.Marshal(tabsDoc{Tabs: m})
		if err != nil {
			return unavailable(userID, err)
		}
		if len(b) > maxValue {
			return unavailable(userID, fmt.Errorf("%d bytes exceed memcache's item size", len(b)))
		}
		if it == nil {
			err = e.mc.add(&memcache.Item{Key: key, Value: b})
		} else {
			it.Value = b
			err = e.mc.cas(it)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCASConflict):
			continue
		default:
			return unavailable(userID, err)
		}
	}
	return unavailable(userID, errors.New("too many concurrent updates"))
}

// putTabs is PutItems on memcache-only tabs, with the SQL engine's
// semantics: nil fields keep the old value, payload_size follows the
// payload (its bytes), ttl is replaced, a repeated id is written twice in
// order, and each result is the modified the row had before the call.
func (e *Engine) putTabs(ctx context.Context, userID int64, items []store.WBO) ([]*store.Timestamp, error) {
	var olds []*store.Timestamp
	err := e.updateTabs(ctx, userID, func(m map[string]wbo) bool {
		olds = make([]*store.Timestamp, len(items))
		for i, it := range items {
			if old, ok := m[it.ID]; ok && old.Modified != nil {
				ts := *old.Modified
				olds[i] = &ts
			}
		}
		for _, it := range items {
			m[it.ID] = merge(m[it.ID], it)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return olds, nil
}

// merge applies a write to a row (the zero wbo for a new one).
func merge(old wbo, w store.WBO) wbo {
	old.ID = w.ID
	if w.ParentID != nil {
		old.ParentID = w.ParentID
	}
	if w.PredecessorID != nil {
		old.PredecessorID = w.PredecessorID
	}
	if w.SortIndex != nil {
		old.SortIndex = w.SortIndex
	}
	if w.Modified != nil {
		old.Modified = w.Modified
	}
	if w.Payload != nil {
		old.Payload = w.Payload
		old.PayloadSize = int64(len(*w.Payload))
	}
	old.TTL = w.TTL
	return old
}

// deleteTabs is DeleteItems on memcache-only tabs: ttl ignored, as in the
// database.
func (e *Engine) deleteTabs(ctx context.Context, userID int64, q store.Query) (int64, error) {
	var n int64
	err := e.updateTabs(ctx, userID, func(m map[string]wbo) bool {
		gone := fromMap(m).query(q, true)
		for _, w := range gone {
			delete(m, w.ID)
		}
		n = int64(len(gone))
		return n > 0
	})
	return n, err
}

// dropTabs deletes every memcache-only tab of a user.
func (e *Engine) dropTabs(userID int64) error {
	if e.dry != nil {
		e.dry.drop(userID)
		return nil
	}
	if err := e.mc.delete(e.mc.client, keyUser(e.cfg.Prefix, userID, nTabs)); err != nil {
		return unavailable(userID, err)
	}
	return nil
}

// dryTabs is the DryRun view's private copy of memcache-only tabs.
type dryTabs struct {
	mu   sync.Mutex
	tabs map[int64]map[string]wbo
}

func newDryTabs() *dryTabs { return &dryTabs{tabs: map[int64]map[string]wbo{}} }

func (d *dryTabs) load(userID int64, read func() (tabSet, error)) (map[string]wbo, error) {
	if m, ok := d.tabs[userID]; ok {
		return m, nil
	}
	t, err := read()
	if err != nil {
		return nil, err
	}
	m := t.byID()
	d.tabs[userID] = m
	return m, nil
}

func (d *dryTabs) get(userID int64, read func() (tabSet, error)) (tabSet, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := d.load(userID, read)
	if err != nil {
		return nil, err
	}
	return fromMap(m), nil
}

func (d *dryTabs) update(userID int64, read func() (tabSet, error), fn func(map[string]wbo) bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := d.load(userID, read)
	if err != nil {
		return err
	}
	fn(m)
	return nil
}

func (d *dryTabs) drop(userID int64) {
	d.mu.Lock()
	d.tabs[userID] = map[string]wbo{}
	d.mu.Unlock()
}

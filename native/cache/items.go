package cache

import (
	"context"
	"fmt"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// readTabs returns every tab of a user from memcache. served is false
// when the caller must ask the inner engine instead (tabs written through
// and the cache unusable, or a DryRun view).
func (e *Engine) readTabs(ctx context.Context, userID int64) (t tabSet, served bool, err error) {
	if e.tabsOnly() {
		t, err = e.tabs(ctx, userID)
		return t, err == nil, err
	}
	s, ok := e.fetch(userID, nTabs)
	if !ok {
		return nil, false, nil
	}
	var m map[string]wbo
	if s.value(e.cfg.Prefix, userID, nTabs, 0, &m) {
		return fromMap(m), true, nil
	}
	// The zero Query has Now 0: every row, whatever its ttl; visibility is
	// decided per request.
	all, err := e.inner.GetItems(ctx, userID, tabsName, store.Query{})
	if err != nil {
		return nil, false, err
	}
	t = tabSet(all).sorted()
	e.store(userID, nTabs, s.tag, nil, t.byID())
	return t, true, nil
}

// GetItems serves the tabs collection from memcache, every filter applied
// in memory; other collections come from the inner engine.
func (e *Engine) GetItems(ctx context.Context, userID int64, collection string, q store.Query) ([]store.WBO, error) {
	if collection != tabsName {
		return e.inner.GetItems(ctx, userID, collection, q)
	}
	t, served, err := e.readTabs(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !served {
		return e.inner.GetItems(ctx, userID, collection, q)
	}
	return t.query(q, false), nil
}

// GetItem serves tabs and meta/global from memcache.
func (e *Engine) GetItem(ctx context.Context, userID int64, collection, id string, now store.Timestamp) (store.WBO, error) {
	switch {
	case collection == tabsName:
		t, served, err := e.readTabs(ctx, userID)
		if err != nil {
			return store.WBO{}, err
		}
		if served {
			return found(t.find(id, now))
		}
	case collection == "meta" && id == "global":
		if w, served, err := e.metaGlobal(ctx, userID); err != nil || served {
			if err != nil {
				return store.WBO{}, err
			}
			if w == nil {
				return found(store.WBO{}, false)
			}
			return found(*w, store.Live(*w, now))
		}
	}
	return e.inner.GetItem(ctx, userID, collection, id, now)
}

func found(w store.WBO, ok bool) (store.WBO, error) {
	if !ok {
		return store.WBO{}, fmt.Errorf("cache: %w", store.ErrNotFound)
	}
	return w, nil
}

// metaGlobal returns the cached meta/global row (nil when there is none),
// expired or not.
func (e *Engine) metaGlobal(ctx context.Context, userID int64) (*store.WBO, bool, error) {
	s, ok := e.fetch(userID, nMeta)
	if !ok {
		return nil, false, nil
	}
	var c *wbo
	if s.value(e.cfg.Prefix, userID, nMeta, 0, &c) {
		if c == nil {
			return nil, true, nil
		}
		w := c.store()
		return &w, true, nil
	}
	rows, err := e.inner.GetItems(ctx, userID, "meta", store.Query{IDs: []string{"global"}, HasIDs: true})
	if err != nil {
		return nil, false, err
	}
	if len(rows) == 0 {
		e.store(userID, nMeta, s.tag, nil, (*wbo)(nil))
		return nil, true, nil
	}
	w := rows[0]
	j := toJSON(w)
	e.store(userID, nMeta, s.tag, nil, &j)
	return &w, true, nil
}

package cache

import (
	"context"
	"maps"

	"github.com/weaveproxy/weaveproxy/native/store"
)

const tabsName = "tabs"

// tabsOnly reports whether tabs live in memcache alone.
func (e *Engine) tabsOnly() bool { return e.cfg.TabsInMemcacheOnly }

// infoNames is what an info read fetches: its entry, and the tabs when
// they are not in the database.
func (e *Engine) infoNames(name string) []string {
	if e.tabsOnly() {
		return []string{name, nTabs}
	}
	return []string{name}
}

// CollectionTimestamps answers info/collections from <uid>:stamps,
// rebuilding it from the inner engine on a miss.
func (e *Engine) CollectionTimestamps(ctx context.Context, userID int64) (map[string]store.Timestamp, error) {
	s, ok := e.fetch(userID, e.infoNames(nStamps)...)
	var m map[string]store.Timestamp
	if !ok || !s.value(e.cfg.Prefix, userID, nStamps, 0, &m) {
		var err error
		if m, err = e.inner.CollectionTimestamps(ctx, userID); err != nil {
			return nil, err
		}
		if ok {
			e.store(userID, nStamps, s.tag, nil, m)
		}
	}
	if e.tabsOnly() {
		m = maps.Clone(m)
		if m == nil {
			m = map[string]store.Timestamp{}
		}
		delete(m, tabsName)
		// As the database's COALESCE(MAX(modified), 0): listed when a row
		// exists, even without a modified.
		if tabs, err := e.tabsFrom(ctx, userID, s, ok); err == nil && len(tabs) > 0 {
			m[tabsName], _ = tabs.max()
		}
	}
	return m, nil
}

// CollectionCounts answers info/collection_counts from <uid>:counts.
func (e *Engine) CollectionCounts(ctx context.Context, userID int64, now store.Timestamp) (map[string]int64, error) {
	m, s, ok, err := timedEntry(e, ctx, userID, nCounts, now, e.inner.CollectionCounts, maps.Equal[map[string]int64])
	if err != nil || !e.tabsOnly() {
		return m, err
	}
	return e.withTabs(ctx, userID, s, ok, now, m, tabSet.count)
}

// CollectionUsage answers info/collection_usage from <uid>:usage.
func (e *Engine) CollectionUsage(ctx context.Context, userID int64, now store.Timestamp) (map[string]int64, error) {
	m, s, ok, err := timedEntry(e, ctx, userID, nUsage, now, e.inner.CollectionUsage, maps.Equal[map[string]int64])
	if err != nil || !e.tabsOnly() {
		return m, err
	}
	return e.withTabs(ctx, userID, s, ok, now, m, tabSet.bytes)
}

// TotalSize answers the quota check from <uid>:size.
func (e *Engine) TotalSize(ctx context.Context, userID int64, now store.Timestamp) (int64, error) {
	n, s, ok, err := timedEntry(e, ctx, userID, nSize, now, e.inner.TotalSize, func(a, b int64) bool { return a == b })
	if err != nil || !e.tabsOnly() {
		return n, err
	}
	if tabs, err := e.tabsFrom(ctx, userID, s, ok); err == nil {
		n += tabs.bytes(now)
	}
	return n, nil
}

// withTabs replaces the database's tabs entry of an info map by the
// memcache-only tabs: present when a tab is live, as the database side
// lists a collection with live rows; left out when memcache cannot be read.
func (e *Engine) withTabs(ctx context.Context, userID int64, s snap, ok bool, now store.Timestamp,
	m map[string]int64, f func(tabSet, store.Timestamp) int64) (map[string]int64, error) {
	m = maps.Clone(m)
	if m == nil {
		m = map[string]int64{}
	}
	delete(m, tabsName)
	if tabs, err := e.tabsFrom(ctx, userID, s, ok); err == nil {
		if tabs.count(now) > 0 {
			m[tabsName] = f(tabs, now)
		}
	}
	return m, nil
}

// timedEntry serves a value that depends on the request time (because of
// ttl) from entry name, or loads it and stores it with the window of
// seconds it provably holds for (see the package doc).
func timedEntry[T any](e *Engine, ctx context.Context, userID int64, name string, now store.Timestamp,
	load func(context.Context, int64, store.Timestamp) (T, error), equal func(a, b T) bool,
) (v T, s snap, ok bool, err error) {
	s, ok = e.fetch(userID, e.infoNames(name)...)
	if ok && s.value(e.cfg.Prefix, userID, name, now.Seconds(), &v) {
		return v, s, ok, nil
	}
	if v, err = load(ctx, userID, now); err != nil {
		return v, s, ok, err
	}
	if !ok {
		return v, s, ok, nil
	}
	sec := now.Seconds()
	w := window{from: sec, until: sec}
	for _, d := range []int64{3600, 60} {
		later, err := load(ctx, userID, now+store.Timestamp(d*100))
		if err != nil {
			return v, s, ok, nil // the answer stands; it just is not cached
		}
		if equal(v, later) {
			w.until = sec + d
			break
		}
	}
	e.store(userID, name, s.tag, &w, v)
	return v, s, ok, nil
}

// CollectionMax serves X-If-Unmodified-Since from the cached timestamps
// when they are valid, and asks the inner engine (one indexed query)
// otherwise.
func (e *Engine) CollectionMax(ctx context.Context, userID int64, collection string) (store.Timestamp, bool, error) {
	if collection == tabsName && e.tabsOnly() {
		tabs, err := e.tabs(ctx, userID)
		if err != nil {
			return 0, false, err
		}
		ts, found := tabs.max()
		return ts, found, nil
	}
	if s, ok := e.fetch(userID, nStamps); ok {
		var m map[string]store.Timestamp
		if s.value(e.cfg.Prefix, userID, nStamps, 0, &m) {
			// The map lists rows without a modified as 0; MAX() is NULL.
			ts := m[collection]
			return ts, ts != 0, nil
		}
	}
	return e.inner.CollectionMax(ctx, userID, collection)
}

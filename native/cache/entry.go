package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Names of the per-user entries (the key is <prefix><uid>:<name>).
const (
	nStamps = "stamps"
	nCounts = "counts"
	nUsage  = "usage"
	nSize   = "size"
	nMeta   = "meta:global"
	nTabs   = "tabs"
)

// derived lists every entry built from the database, which InvalidateUser
// drops. Tabs are derived only while they are written through.
var derived = []string{nStamps, nCounts, nUsage, nSize, nMeta}

func keyEpoch(prefix string) string { return prefix + "epoch" }

func keyGen(prefix string, userID int64) string { return keyUser(prefix, userID, "gen") }

func keyUser(prefix string, userID int64, name string) string {
	return prefix + strconv.FormatInt(userID, 10) + ":" + name
}

// keyPHP is the legacy PHP server's collection-timestamp map. It is PHP's
// key: no prefix.
func keyPHP(userID int64) string { return "coll:" + strconv.FormatInt(userID, 10) }

// tag is the pair of counters an entry was built under.
type tag struct{ epoch, gen uint64 }

// entry is the stored form of every derived value. From and Until bound,
// in request seconds, the times the value holds for; Win says they apply.
type entry struct {
	Epoch uint64          `json:"e"`
	Gen   uint64          `json:"g"`
	Win   bool            `json:"w,omitempty"`
	From  int64           `json:"f,omitempty"`
	Until int64           `json:"u,omitempty"`
	V     json.RawMessage `json:"v"`
}

// window is the span of request seconds a time-dependent value holds for.
type window struct{ from, until int64 }

// snap is one GetMulti: the current tag and the raw entries.
type snap struct {
	tag   tag
	items map[string]*memcache.Item
}

// fetch reads the counters and the named entries of a user in one round
// trip, creating missing counters. ok is false when memcache must not be
// used: the call is then served by the inner engine alone.
func (e *Engine) fetch(userID int64, names ...string) (s snap, ok bool) {
	if e.dry != nil || !e.mc.usable() {
		return snap{}, false
	}
	p := e.cfg.Prefix
	keys := []string{keyEpoch(p), keyGen(p, userID)}
	for _, n := range names {
		keys = append(keys, keyUser(p, userID, n))
	}
	items, err := e.mc.getMulti(keys)
	if err != nil {
		return snap{}, false
	}
	if s.tag.epoch, ok = e.counter(items[keys[0]], keys[0]); !ok {
		return snap{}, false
	}
	if s.tag.gen, ok = e.counter(items[keys[1]], keys[1]); !ok {
		return snap{}, false
	}
	s.items = items
	return s, true
}

// counter parses a counter, creating it from a random value when it is
// missing: no entry can carry a value that was never issued.
func (e *Engine) counter(it *memcache.Item, key string) (uint64, bool) {
	if it != nil {
		// memcached may pad an incremented value with spaces.
		v, err := strconv.ParseUint(string(bytes.TrimSpace(it.Value)), 10, 64)
		return v, err == nil
	}
	// Below 2^62, so that increments never wrap.
	v := rand.Uint64N(1<<62-1) + 1
	err := e.mc.add(&memcache.Item{Key: key, Value: []byte(strconv.FormatUint(v, 10))})
	if err == nil {
		return v, true
	}
	if !errors.Is(err, memcache.ErrNotStored) {
		return 0, false
	}
	it, err = e.mc.get(key) // another caller created it first
	if err != nil {
		return 0, false
	}
	v, err = strconv.ParseUint(string(bytes.TrimSpace(it.Value)), 10, 64)
	return v, err == nil
}

// value decodes the entry name into v when it was built under s.tag and,
// for a time-dependent value, holds at second sec. ok reports a hit.
func (s snap) value(prefix string, userID int64, name string, sec int64, v any) bool {
	it := s.items[keyUser(prefix, userID, name)]
	if it == nil {
		return false
	}
	var en entry
	if json.Unmarshal(it.Value, &en) != nil {
		return false
	}
	if en.Epoch != s.tag.epoch || en.Gen != s.tag.gen {
		return false
	}
	if en.Win && (sec < en.From || sec > en.Until) {
		return false
	}
	return json.Unmarshal(en.V, v) == nil
}

// store saves v as entry name under tag t. Failures only cost a later miss.
func (e *Engine) store(userID int64, name string, t tag, w *window, v any) {
	if e.dry != nil {
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	en := entry{Epoch: t.epoch, Gen: t.gen, V: raw}
	if w != nil {
		en.Win, en.From, en.Until = true, w.from, w.until
	}
	b, err := json.Marshal(en)
	if err != nil {
		return
	}
	e.mc.set(&memcache.Item{
		Key:        keyUser(e.cfg.Prefix, userID, name),
		Value:      b,
		Expiration: int32(e.cfg.EntryTTL.Seconds()),
	})
}

// wbo is the JSON form of a store.WBO in memcache.
type wbo struct {
	ID            string           `json:"id"`
	ParentID      *string          `json:"parentid,omitempty"`
	PredecessorID *string          `json:"predecessorid,omitempty"`
	SortIndex     *int64           `json:"sortindex,omitempty"`
	Modified      *store.Timestamp `json:"modified,omitempty"`
	Payload       *string          `json:"payload,omitempty"`
	PayloadSize   int64            `json:"payload_size"`
	TTL           *int64           `json:"ttl,omitempty"`
}

func toJSON(w store.WBO) wbo {
	return wbo{w.ID, w.ParentID, w.PredecessorID, w.SortIndex, w.Modified, w.Payload, w.PayloadSize, w.TTL}
}

func (w wbo) store() store.WBO {
	return store.WBO{ID: w.ID, ParentID: w.ParentID, PredecessorID: w.PredecessorID,
		SortIndex: w.SortIndex, Modified: w.Modified, Payload: w.Payload,
		PayloadSize: w.PayloadSize, TTL: w.TTL}
}

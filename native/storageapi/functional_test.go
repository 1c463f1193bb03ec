package storageapi

// The behaviours Mozilla's functional tests (server-storage's
// tests/functional/test_storage.py) check, one Test per test there, on
// both engines and both API versions. The clock is injected: ttl tests
// move it instead of sleeping.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// setupPY is the Python suite's setUp: a wiped account, empty POSTs to six
// collections, then col1/0..2 and col2/0..4 with payload "xxx", 20 ms apart.
func setupPY(t *testing.T, e *env) {
	t.Helper()
	e.ok(e.do("DELETE", "storage", "", "X-Confirm-Delete", "1"))
	for _, c := range []string{"client", "crypto", "forms", "history", "col1", "col2"} {
		e.ok(e.do("POST", "storage/"+c, "[]"))
	}
	for i := range 3 {
		e.clock.Advance(20 * time.Millisecond)
		e.put(fmt.Sprintf("col1/%d", i), `{"payload":"xxx"}`)
	}
	for i := range 5 {
		e.clock.Advance(20 * time.Millisecond)
		e.put(fmt.Sprintf("col2/%d", i), `{"payload":"xxx"}`)
	}
}

// stamp reads a timestamp rendered by the dialect.
func stamp(t *testing.T, s string) store.Timestamp {
	t.Helper()
	ts, ok := weave.ParseTimestamp(s)
	if !ok {
		t.Fatalf("not a timestamp: %q", s)
	}
	return ts
}

func TestGetCollections(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		rec := e.do("GET", "info/collections", "")
		var m map[string]json.Number
		decode(t, e.ok(rec), &m)
		if len(m) != 2 || rec.Header().Get("X-Weave-Records") != "2" {
			t.Errorf("got %v, X-Weave-Records %q", m, rec.Header().Get("X-Weave-Records"))
		}
	})
}

func TestGetCollectionCount(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		rec := e.do("GET", "info/collection_counts", "")
		var m map[string]int
		decode(t, e.ok(rec), &m)
		var counts []int
		for _, c := range m {
			counts = append(counts, c)
		}
		slices.Sort(counts)
		if !slices.Equal(counts, []int{3, 5}) || rec.Header().Get("X-Weave-Records") != "2" {
			t.Errorf("counts %v, X-Weave-Records %q", m, rec.Header().Get("X-Weave-Records"))
		}
	})
}

func TestBadCache(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		e.ok(e.do("POST", "storage/xxx_col1", "[]"))
		var before map[string]any
		decode(t, e.ok(e.do("GET", "info/collections", "")), &before)
		e.put("xxx_col2/baz", `{"payload":"xxx"}`)
		var after map[string]any
		decode(t, e.ok(e.do("GET", "info/collections", "")), &after)
		if len(after) != len(before)+1 {
			t.Errorf("before %v, after %v", before, after)
		}
	})
}

func TestGetCollection(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		if got := e.ids("xxx_col3"); len(got) != 0 {
			t.Errorf("unknown collection: %v", got)
		}
		rec := e.do("GET", "storage/col2", "")
		var all []string
		decode(t, e.ok(rec), &all)
		if len(all) != 5 || rec.Header().Get("X-Weave-Records") != "5" {
			t.Errorf("col2: %v, records %q", all, rec.Header().Get("X-Weave-Records"))
		}
		if got := sorted(e.ids("col2?ids=1,3")); !slices.Equal(got, []string{"1", "3"}) {
			t.Errorf("ids: %v", got)
		}
		e.put("col2/128", `{"payload":"x","predecessorid":"XXXX"}`)
		if got := e.ids("col2?predecessorid=XXXX"); !slices.Equal(got, []string{"128"}) {
			t.Errorf("predecessorid: %v", got)
		}
		e.put("col2/129", `{"payload":"x","parentid":"YYYY"}`)
		if got := e.ids("col2?parentid=YYYY"); !slices.Equal(got, []string{"129"}) {
			t.Errorf("parentid: %v", got)
		}
		checkOlderNewer(t, e)
		checkFullAndIndex(t, e)
		checkLimitOffsetSort(t, e)
	})
}

func checkOlderNewer(t *testing.T, e *env) {
	t.Helper()
	e.ok(e.do("DELETE", "storage/col2", ""))
	e.clock.Advance(time.Second)
	ts1 := e.put("col2/128", `{"payload":"x"}`)
	e.clock.Advance(time.Second)
	ts2 := e.put("col2/129", `{"payload":"x"}`)
	if got := e.ids("col2?older=" + ts2); !slices.Equal(got, []string{"128"}) {
		t.Errorf("older=%s: %v", ts2, got)
	}
	if got := e.ids("col2?newer=" + ts1); !slices.Equal(got, []string{"129"}) {
		t.Errorf("newer=%s: %v", ts1, got)
	}
}

func checkFullAndIndex(t *testing.T, e *env) {
	t.Helper()
	for _, it := range e.items("col2?full=1") {
		keys := slices.Sorted(mapsKeys(it))
		if !slices.Equal(keys, []string{"id", "modified", "payload"}) {
			t.Errorf("full keys: %v", keys)
		}
	}
	e.ok(e.do("DELETE", "storage/col2", ""))
	for i, si := range []int{1, 10, 11} {
		e.put(fmt.Sprintf("col2/%d", i+1), fmt.Sprintf(`{"payload":"x","sortindex":%d}`, si))
	}
	if got := sorted(e.ids("col2?index_above=10")); !slices.Equal(got, []string{"3"}) {
		t.Errorf("index_above=10: %v", got)
	}
	if got := sorted(e.ids("col2?index_below=10")); !slices.Equal(got, []string{"1"}) {
		t.Errorf("index_below=10: %v", got)
	}
}

func checkLimitOffsetSort(t *testing.T, e *env) {
	t.Helper()
	e.ok(e.do("DELETE", "storage/col2", ""))
	for i := range 5 {
		e.clock.Advance(20 * time.Millisecond)
		e.put(fmt.Sprintf("col2/%d", i), fmt.Sprintf(`{"payload":"x","sortindex":%d}`, i))
	}
	if got := e.ids("col2?limit=2"); len(got) != 2 {
		t.Errorf("limit=2: %v", got)
	}
	if got := e.ids("col2?offset=2&limit=3&sort=oldest"); !slices.Equal(got, []string{"2", "3", "4"}) {
		t.Errorf("offset=2&limit=3: %v", got)
	}
	for sortBy, want := range map[string][]string{
		"oldest": {"0", "1", "2", "3", "4"},
		"newest": {"4", "3", "2", "1", "0"},
		"index":  {"4", "3", "2", "1", "0"},
	} {
		if got := e.ids("col2?sort=" + sortBy); !slices.Equal(got, want) {
			t.Errorf("sort=%s: %v", sortBy, got)
		}
	}
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestAlternativeFormats(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		rec := e.do("GET", "storage/col2?sort=oldest", "")
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("default Content-Type %q", ct)
		}
		rec = e.do("GET", "storage/col2?sort=oldest", "", "Accept", "application/newlines")
		if ct := rec.Header().Get("Content-Type"); ct != "application/newlines" ||
			rec.Body.String() != "\"0\"\n\"1\"\n\"2\"\n\"3\"\n\"4\"\n" {
			t.Errorf("newlines: %q %q", ct, rec.Body.String())
		}
		rec = e.do("GET", "storage/col2?sort=oldest", "", "Accept", "application/whoisi")
		want := strings.Repeat("\x00\x00\x00\x03\"#\"", 5)
		for i := range 5 {
			want = strings.Replace(want, "#", fmt.Sprint(i), 1)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/whoisi" || rec.Body.String() != want {
			t.Errorf("whoisi: %q %q", ct, rec.Body.String())
		}
		rec = e.do("GET", "storage/col2", "", "Accept", "application/xxx")
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("unknown Accept gave %q", ct)
		}
	})
}

func TestGetItem(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		var it map[string]any
		decode(t, e.ok(e.do("GET", "storage/col1/1", "")), &it)
		if keys := slices.Sorted(mapsKeys(it)); !slices.Equal(keys, []string{"id", "modified", "payload"}) {
			t.Errorf("keys %v", keys)
		}
		if id, ok := it["id"].(string); !ok || id != "1" {
			t.Errorf("id %#v", it["id"])
		}
		if rec := e.do("GET", "storage/col1/99", ""); rec.Code != 404 {
			t.Errorf("missing item: %d", rec.Code)
		}
	})
}

func TestSetItem(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		e.put("col2/12345", `{"payload":"XXX"}`)
		if it := e.items("col2?ids=12345&full=1"); len(it) != 1 || it[0]["payload"] != "XXX" {
			t.Errorf("after create: %v", it)
		}
		e.put("col2/12345", `{"payload":"YYY"}`)
		if it := e.items("col2?ids=12345&full=1"); len(it) != 1 || it[0]["payload"] != "YYY" {
			t.Errorf("after overwrite: %v", it)
		}
	})
}

func TestSetCollection(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		e.ok(e.do("POST", "storage/col2", `[{"id":12,"payload":"_"},{"id":13,"payload":"_"}]`))
		var it map[string]any
		decode(t, e.ok(e.do("GET", "storage/col2/12", "")), &it)
		if it["payload"] != "_" {
			t.Errorf("col2/12: %v", it)
		}
		e.ok(e.do("POST", "storage/col2", `[{"id":12,"payload":"a"},{"id":14,"payload":"b"}]`))
		decode(t, e.ok(e.do("GET", "storage/col2/12", "")), &it)
		if it["payload"] != "a" {
			t.Errorf("col2/12 updated: %v", it)
		}
		e.ok(e.do("GET", "storage/col2/14", ""))
		body := e.ok(e.do("POST", "storage/col2", `[{"id":"good","payload":"x"},{"id":"bad","payload":"x","sortindex":"FAIL"}]`))
		var res struct {
			Success []string
			Failed  json.RawMessage
		}
		decode(t, body, &res)
		if !slices.Equal(res.Success, []string{"good"}) || !strings.Contains(string(res.Failed), `"bad":["invalid sortindex"]`) {
			t.Errorf("batch with FAIL: %s", body)
		}
		if rec := e.do("GET", "storage/col2/bad", ""); rec.Code != 404 {
			t.Errorf("failed item stored: %d", rec.Code)
		}
	})
}

func TestCollectionUsage(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		e.ok(e.do("DELETE", "storage", "", "X-Confirm-Delete", "1"))
		e.ok(e.do("POST", "storage/col2", `[{"id":"1","payload":"XYZ"},{"id":"2","payload":"`+strings.Repeat("X", 500)+`"}]`))
		var usage map[string]float64
		decode(t, e.ok(e.do("GET", "info/collection_usage", "")), &usage)
		if usage["col2"] != 503.0/1024 || len(usage) != 1 {
			t.Errorf("usage %v", usage)
		}
	})
}

func TestDeleteCollection(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		e.ok(e.do("DELETE", "storage/col2", ""))
		if got := e.ids("col2"); len(got) != 0 {
			t.Errorf("after delete all: %v", got)
		}
		put3 := func(field string, vals ...string) {
			for i, v := range vals {
				e.clock.Advance(20 * time.Millisecond)
				e.put(fmt.Sprintf("col2/%d", i+1), fmt.Sprintf(`{"payload":"x","%s":%s}`, field, v))
			}
		}
		check := func(query string, want ...string) {
			t.Helper()
			e.ok(e.do("DELETE", "storage/col2?"+query, ""))
			if got := sorted(e.ids("col2")); !slices.Equal(got, want) {
				t.Errorf("after DELETE ?%s: %v, want %v", query, got, want)
			}
			e.ok(e.do("DELETE", "storage/col2", ""))
		}
		put3("parentid", `"a"`, `"b"`, `"a"`)
		check("ids=1,3", "2")
		put3("parentid", `"a"`, `"b"`, `"a"`)
		check("parentid=a", "2")
		put3("sortindex", "1", "10", "11")
		check("index_above=10", "1", "2")
		put3("sortindex", "1", "10", "11")
		check("index_below=10", "2", "3")
		for i := range 3 {
			e.clock.Advance(time.Second)
			e.put(fmt.Sprintf("col2/%d", i+1), `{"payload":"x"}`)
		}
		var mid map[string]any
		decode(t, e.ok(e.do("GET", "storage/col2/2", "")), &mid)
		check("older="+fmt.Sprint(mid["modified"]), "2", "3")
		for i := range 3 {
			e.clock.Advance(time.Second)
			e.put(fmt.Sprintf("col2/%d", i+1), `{"payload":"x"}`)
		}
		decode(t, e.ok(e.do("GET", "storage/col2/2", "")), &mid)
		check("newer="+fmt.Sprint(mid["modified"]), "1", "2")
		// Items PUT with only a sortindex are created and listed.
		e.put("col2/s1", `{"sortindex":1}`)
		e.put("col2/s2", `{"sortindex":2}`)
		if got := sorted(e.ids("col2")); !slices.Equal(got, []string{"s1", "s2"}) {
			t.Errorf("sortindex-only items: %v", got)
		}
	})
}

func TestDeleteItem(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		e.ok(e.do("DELETE", "storage/col1/0", ""))
		if got := e.ids("col1"); len(got) != 2 {
			t.Errorf("after delete: %v", got)
		}
		if rec := e.do("DELETE", "storage/col1/12982", ""); rec.Code != 200 {
			t.Errorf("delete missing: %d", rec.Code)
		}
	})
}

func TestDeleteStorage(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		e.put("meta/global", `{"payload":"m"}`)
		e.put("tabs/home", `{"payload":"t"}`)
		if rec := e.do("DELETE", "storage", ""); rec.Code != 400 || rec.Body.String() != "4" {
			t.Errorf("without confirm: %d %q", rec.Code, rec.Body.String())
		}
		e.ok(e.do("DELETE", "storage", "", "X-Confirm-Delete", "1"))
		if got := e.ids("col2"); len(got) != 0 {
			t.Errorf("col2 after wipe: %v", got)
		}
		for _, p := range []string{"storage/meta/global", "storage/tabs/home"} {
			if rec := e.do("GET", p, ""); rec.Code != 404 {
				t.Errorf("%s after wipe: %d", p, rec.Code)
			}
		}
	})
}

// TestXWeaveTimestamp runs on the real clock: the header must be the
// server's time of the request, rounded to hundredths.
func TestXWeaveTimestamp(t *testing.T) {
	forEach(t, func(c *Config) { c.Now = nil }, func(t *testing.T, e *env) {
		for _, r := range []struct{ method, path, body string }{
			{"GET", "info/collections", ""},
			{"PUT", "storage/col2/12345", `{"payload":"x"}`},
			{"POST", "storage/col2", `[{"id":"1","payload":"x"}]`},
		} {
			before := store.FromTime(time.Now())
			rec := e.do(r.method, r.path, r.body)
			after := store.FromTime(time.Now())
			got := stamp(t, rec.Header().Get("X-Weave-Timestamp"))
			// A write may be raised one hundredth above a previous write.
			if got < before || got > after+1 {
				t.Errorf("%s %s: X-Weave-Timestamp %d outside [%d, %d]", r.method, r.path, got, before, after)
			}
		}
	})
}

func TestIfUnmodifiedSince(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		ts := stamp(t, e.put("col2/12345", `{"payload":"x"}`))
		old := e.do("PUT", "storage/col2/12345", `{"payload":"y"}`,
			"X-If-Unmodified-Since", e.dialect().FormatTimestamp(ts-100000))
		if old.Code != 412 || old.Body.String() != "4" {
			t.Errorf("412 expected: %d %q", old.Code, old.Body.String())
		}
		ok := e.do("PUT", "storage/col2/12345", `{"payload":"y"}`, "X-If-Unmodified-Since", e.dialect().FormatTimestamp(ts))
		e.ok(ok)
	})
}

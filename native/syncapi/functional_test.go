package syncapi

// The behaviours Mozilla's functional tests (syncstorage
// tests/functional/test_storage.py) check, one Test per Python test, on
// both engines and both API versions. storage.md ends with the list.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mozSetup is the Python tests' setUp: wipe, empty POSTs to six
// collections, then col1/0..2 and col2/0..4 with payload "xxx", 20 ms
// apart.
func mozSetup(t *testing.T, e *env) {
	t.Helper()
	e.del("storage", "X-Confirm-Delete", "1").ok(t)
	for _, c := range []string{"client", "crypto", "forms", "history", "col1", "col2"} {
		e.post("storage/"+c, "[]").ok(t)
	}
	for coll, n := range map[string]int{"col1": 3, "col2": 5} {
		for i := range n {
			e.put(fmt.Sprintf("storage/%s/%d", coll, i), `{"payload":"xxx"}`).ok(t)
			e.clock.advance(20 * time.Millisecond)
		}
	}
}

func records(t testing.TB, r resp) int {
	t.Helper()
	n, err := strconv.Atoi(r.hdr.Get("X-Weave-Records"))
	if err != nil {
		t.Fatalf("X-Weave-Records %q: %v", r.hdr.Get("X-Weave-Records"), err)
	}
	return n
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func wantIDs(t testing.TB, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("ids %q, want %q", got, want)
	}
}

func TestGetCollections(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		r := e.get("info/collections").ok(t)
		var m map[string]json.Number
		r.decode(t, &m)
		if len(m) != 2 || m["col1"] == "" || m["col2"] == "" {
			t.Errorf("info/collections %s: want col1 and col2 only", r.body)
		}
		if n := records(t, r); n != len(m) {
			t.Errorf("X-Weave-Records %d, want %d", n, len(m))
		}
	})
}

func TestGetCollectionCount(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		r := e.get("info/collection_counts").ok(t)
		var m map[string]int
		r.decode(t, &m)
		var counts []int
		for _, v := range m {
			counts = append(counts, v)
		}
		slices.Sort(counts)
		if !slices.Equal(counts, []int{3, 5}) || records(t, r) != 2 {
			t.Errorf("counts %s, records %s: want [3 5] and 2", r.body, r.hdr.Get("X-Weave-Records"))
		}
	})
}

func TestBadCache(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		count := func() int {
			var m map[string]json.Number
			e.get("info/collections").ok(t).decode(t, &m)
			return len(m)
		}
		before := count()
		e.post("storage/xxx_col2", "[]").ok(t)
		if n := count(); n != before {
			t.Errorf("an empty POST added a collection: %d, want %d", n, before)
		}
		e.put("storage/xxx_col3/1", `{"payload":"xxx"}`).ok(t)
		if n := count(); n != before+1 {
			t.Errorf("after a PUT to a new collection: %d collections, want %d", n, before+1)
		}
	})
}

func TestGetCollection(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		wantIDs(t, e.ids("nosuchcollection", ""))
		r := e.get("storage/col2").ok(t)
		var all []string
		r.decode(t, &all)
		wantIDs(t, sorted(all), "0", "1", "2", "3", "4")
		if records(t, r) != 5 {
			t.Errorf("X-Weave-Records %s, want 5", r.hdr.Get("X-Weave-Records"))
		}
		wantIDs(t, sorted(e.ids("col2", "?ids=1,3")), "1", "3")

		e.post("storage/col2", `[{"id":"125","payload":"x","predecessorid":"XXXX"}]`).ok(t)
		wantIDs(t, e.ids("col2", "?predecessorid=XXXX"), "125")
		e.post("storage/col2", `[{"id":"126","payload":"x","parentid":"papa"},{"id":"127","payload":"x","parentid":"papa"}]`).ok(t)
		wantIDs(t, sorted(e.ids("col2", "?parentid=papa")), "126", "127")

		e.del("storage/col2").ok(t)
		ts := e.put("storage/col2/128", `{"payload":"x"}`).ok(t).body
		e.clock.advance(300 * time.Millisecond)
		ts2 := e.put("storage/col2/129", `{"payload":"x"}`).ok(t).body
		if parseTS(t, ts) >= parseTS(t, ts2) {
			t.Fatalf("timestamps %s then %s", ts, ts2)
		}
		wantIDs(t, e.ids("col2", "?older="+ts2), "128")
		wantIDs(t, e.ids("col2", "?newer="+ts), "129")

		var full []map[string]any
		e.get("storage/col2?full=1").ok(t).decode(t, &full)
		for _, w := range full {
			if len(w) != 3 || w["id"] == nil || w["modified"] == nil || w["payload"] == nil {
				t.Errorf("full item %v: want exactly id, modified, payload", w)
			}
		}

		e.post("storage/col2", `[{"id":"130","payload":"x","sortindex":11},{"id":"131","payload":"x","sortindex":9}]`).ok(t)
		wantIDs(t, e.ids("col2", "?index_above=10"), "130")
		wantIDs(t, e.ids("col2", "?index_below=10"), "131")

		e.del("storage/col2").ok(t)
		var batch []string
		for i := range 10 {
			batch = append(batch, fmt.Sprintf(`{"id":"%d","payload":"x"}`, i))
		}
		e.post("storage/col2", "["+strings.Join(batch, ",")+"]").ok(t)
		if got := e.ids("col2", "?limit=2"); len(got) != 2 {
			t.Errorf("limit=2: %q", got)
		}
		whole := e.ids("col2", "")
		wantIDs(t, e.ids("col2", "?offset=2&limit=3"), whole[2:5]...)

		e.del("storage/col2").ok(t)
		for _, p := range [][2]string{{"0", "1"}, {"1", "34"}, {"2", "12"}} {
			e.post("storage/col2", `[{"id":"`+p[0]+`","payload":"x","sortindex":`+p[1]+`}]`).ok(t)
			e.clock.advance(100 * time.Millisecond)
		}
		wantIDs(t, e.ids("col2", "?sort=oldest"), "0", "1", "2")
		wantIDs(t, e.ids("col2", "?sort=newest"), "2", "1", "0")
		wantIDs(t, e.ids("col2", "?sort=index"), "1", "2", "0")
	})
}

func TestAlternativeFormats(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		r := e.get("storage/col2").ok(t)
		if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("default Content-Type %q", ct)
		}
		r = e.get("storage/col2", "Accept", "application/newlines").ok(t)
		if ct := r.hdr.Get("Content-Type"); ct != "application/newlines" {
			t.Errorf("newlines Content-Type %q", ct)
		}
		lines := strings.Split(strings.TrimSuffix(r.body, "\n"), "\n")
		var got []string
		for _, l := range lines {
			var id string
			if err := json.Unmarshal([]byte(l), &id); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			got = append(got, id)
		}
		wantIDs(t, sorted(got), "0", "1", "2", "3", "4")

		r = e.get("storage/col2", "Accept", "application/whoisi").ok(t)
		if ct := r.hdr.Get("Content-Type"); ct != "application/whoisi" {
			t.Errorf("whoisi Content-Type %q", ct)
		}
		got = got[:0]
		for b := []byte(r.body); len(b) > 0; {
			n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
			var id string
			if err := json.Unmarshal(b[4:4+n], &id); err != nil {
				t.Fatal(err)
			}
			got, b = append(got, id), b[4+n:]
		}
		wantIDs(t, sorted(got), "0", "1", "2", "3", "4")

		r = e.get("storage/col2", "Accept", "application/xxx").ok(t)
		if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("unknown Accept gave Content-Type %q", ct)
		}
	})
}

func TestGetItem(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		var w map[string]any
		e.get("storage/col2/1").ok(t).decode(t, &w)
		if len(w) != 3 || w["id"] != "1" || w["payload"] != "xxx" || w["modified"] == nil {
			t.Errorf("item %v: want id \"1\", modified and payload only", w)
		}
		e.get("storage/col2/99").want(t, http.StatusNotFound, `"record not found"`)
	})
}

func TestCollectionUsage(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		e.del("storage", "X-Confirm-Delete", "1").ok(t)
		e.post("storage/col2", `[{"id":"1","payload":"XXX"},{"id":"2","payload":"`+strings.Repeat("X", 500)+`"}]`).ok(t)
		r := e.get("info/collection_usage").ok(t)
		var m map[string]float64
		r.decode(t, &m)
		if m["col2"] != 503/1024.0 || len(m) != 1 {
			t.Errorf("usage %s, want col2 = %v", r.body, 503/1024.0)
		}
		if h := r.hdr.Get("X-Weave-Records"); h != "" {
			t.Errorf("X-Weave-Records %q on collection_usage", h)
		}
	})
}

func TestWeirdArgs(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		for _, p := range []string{"older", "newer", "index_above", "index_below", "limit", "offset"} {
			e.get("storage/col2?"+p+"=blah").want(t, http.StatusBadRequest, "1")
			e.del("storage/col2?"+p+"=blah").want(t, http.StatusBadRequest, "1")
		}
		wantIDs(t, sorted(e.ids("col2", "")), "0", "1", "2", "3", "4")
		var garbage []string
		for range 10 {
			garbage = append(garbage, strings.Repeat("\u00e9\u0301z", 33))
		}
		wantIDs(t, e.ids("col2", "?ids="+url.QueryEscape(strings.Join(garbage, ","))))
		e.get("storage/col2?blabla=1").ok(t)
	})
}

func TestGUIDDeletion(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		guids := []string{"{6820f3ca-6e8a-4ff4-8af7-8b3625d7d65}", "{2c170c4d-6dfe-4b3a-a3a2-76e3e8c1fcd1}",
			"{9e2b5f2d-54a7-4ed4-b24f-e8f1b6a2d0a8}"}
		var ws []string
		for _, g := range guids {
			ws = append(ws, `{"id":"`+g+`","payload":"p"}`)
		}
		e.post("storage/passwords", "["+strings.Join(ws, ",")+"]").ok(t)
		q := "?ids=" + strings.Join(guids[:2], ",")
		wantIDs(t, sorted(e.ids("passwords", q)), sorted(guids[:2])...)
		e.del("storage/passwords" + q).ok(t)
		wantIDs(t, e.ids("passwords", q))
		wantIDs(t, e.ids("passwords", ""), guids[2])
	})
}

func TestMetrics(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		e.get("info/collections?client=FxHome&v=1.1b2").ok(t)
	})
}

func TestRounding(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		r := e.get("storage/col2?full=1&sort=newest").ok(t)
		var items []struct {
			ID       string
			Modified json.Number
		}
		r.decode(t, &items)
		for _, it := range items {
			m := it.Modified.String()
			frac := ""
			if i := strings.IndexByte(m, '.'); i >= 0 {
				frac = m[i+1:]
			}
			if e.v == "1.1" && len(frac) != 2 || len(frac) > 2 {
				t.Errorf("modified %s of %s: wrong number of decimals for %s", m, it.ID, e.v)
			}
		}
		if len(items) != 5 {
			t.Fatalf("%d items", len(items))
		}
		wantIDs(t, sorted(e.ids("col2", "?newer="+items[2].Modified.String())), "3", "4")
	})
}

func TestDebugScreen(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		for _, p := range []string{"/__debug__", "/" + e.v + "/__debug__", e.path("__debug__"), e.path("frob/bookmarks")} {
			r := e.do("GET", p, "")
			if r.status != http.StatusNotFound {
				t.Errorf("GET %s: %d %q, want 404", p, r.status, r.body)
			}
		}
	})
}

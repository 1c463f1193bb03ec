package syncapi

// The write behaviours that Mozilla's functional tests (syncstorage
// tests/functional/test_storage.py) check; see functional_test.go.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"weaveproxy/native/store"
)

func TestSetItem(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		payload := func() any {
			var w map[string]any
			e.get("storage/col2/12345").ok(t).decode(t, &w)
			return w["payload"]
		}
		e.put("storage/col2/12345", `{"payload":"XXX"}`).ok(t)
		if p := payload(); p != "XXX" {
			t.Errorf("payload %v after PUT", p)
		}
		e.put("storage/col2/12345", `{"payload":"YYY"}`).ok(t)
		if p := payload(); p != "YYY" {
			t.Errorf("payload %v after overwrite", p)
		}
	})
}

func TestSetCollection(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		e.post("storage/col2", `[{"id":12,"payload":"_PLD"},{"id":13,"payload":"_PLD"}]`).ok(t)
		var w map[string]any
		e.get("storage/col2/12").ok(t).decode(t, &w)
		if w["payload"] != "_PLD" {
			t.Errorf("col2/12 = %v", w)
		}
		e.post("storage/col2", `[{"id":"13","payload":"XyX"},{"id":"14","payload":"XXX"}]`).ok(t)
		e.get("storage/col2/14").ok(t).decode(t, &w)
		if w["payload"] != "XXX" {
			t.Errorf("col2/14 = %v", w)
		}
		e.get("storage/col2/13").ok(t).decode(t, &w)
		if w["payload"] != "XyX" {
			t.Errorf("col2/13 = %v", w)
		}
		r := e.post("storage/col2", `[{"id":"sure","payload":"XXX"},{"id":"nooo","payload":"XXX","sortindex":"FAIL"}]`).ok(t)
		var res struct {
			Success []string
			Failed  map[string][]string
		}
		r.decode(t, &res)
		if !slices.Equal(res.Success, []string{"sure"}) || len(res.Failed["nooo"]) != 1 {
			t.Errorf("batch answer %s", r.body)
		}
		e.get("storage/col2/sure").ok(t)
		e.get("storage/col2/nooo").want(t, http.StatusNotFound, `"record not found"`)
	})
}

func TestDeleteCollection(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		post3 := func(extra ...string) {
			var ws []string
			for i, x := range []string{"12", "13", "14"} {
				f := ""
				if len(extra) > 0 {
					f = "," + extra[i]
				}
				ws = append(ws, `{"id":"`+x+`","payload":"_PLD"`+f+`}`)
			}
			e.post("storage/col3", "["+strings.Join(ws, ",")+"]").ok(t)
		}
		post3()
		e.del("storage/col3").ok(t)
		wantIDs(t, e.ids("col3", ""))

		post3()
		e.del("storage/col3?ids=12,14").ok(t)
		wantIDs(t, e.ids("col3", ""), "13")
		e.del("storage/col3?ids=13").ok(t)
		wantIDs(t, e.ids("col3", ""))

		post3(`"parentid":"1"`, `"parentid":"1"`, `"parentid":"2"`)
		e.del("storage/col3?parentid=1").ok(t)
		wantIDs(t, e.ids("col3", ""), "14")
		e.del("storage/col3").ok(t)

		e.put("storage/col3/12", `{"payload":"_PLD"}`).ok(t)
		e.clock.advance(100 * time.Millisecond)
		e.put("storage/col3/13", `{"payload":"_PLD"}`).ok(t)
		ts3 := e.put("storage/col3/14", `{"payload":"_PLD"}`).ok(t).body
		e.del("storage/col3?older=" + ts3).ok(t)
		wantIDs(t, e.ids("col3", ""), "14")
		e.put("storage/col3/12", `{"payload":"_PLD"}`).ok(t)
		e.del("storage/col3?newer=" + ts3).ok(t)
		wantIDs(t, e.ids("col3", ""), "14")
		e.del("storage/col3").ok(t)

		// Items PUT with a sortindex only: created, listed, deletable by index.
		for id, si := range map[string]string{"130": "11", "131": "9"} {
			e.put("storage/col3/"+id, `{"sortindex":`+si+`}`).ok(t)
		}
		wantIDs(t, sorted(e.ids("col3", "")), "130", "131")
		e.del("storage/col3?index_above=10").ok(t)
		wantIDs(t, e.ids("col3", ""), "131")
		e.put("storage/col3/130", `{"sortindex":11}`).ok(t)
		e.del("storage/col3?index_below=10").ok(t)
		wantIDs(t, e.ids("col3", ""), "130")
	})
}

func TestDeleteItem(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		e.del("storage/col1/0").ok(t)
		wantIDs(t, sorted(e.ids("col1", "")), "1", "2")
		r := e.del("storage/col1/12982").ok(t)
		if r.body != r.hdr.Get("X-Weave-Timestamp") {
			t.Errorf("DELETE body %q, X-Weave-Timestamp %q", r.body, r.hdr.Get("X-Weave-Timestamp"))
		}
	})
}

func TestDeleteStorage(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		e.put("storage/meta/global", `{"payload":"m"}`).ok(t)
		e.put("storage/tabs/home", `{"payload":"t"}`).ok(t)
		e.del("storage").want(t, http.StatusBadRequest, "4")
		wantIDs(t, sorted(e.ids("col2", "")), "0", "1", "2", "3", "4")
		e.del("storage", "X-Confirm-Delete", "").ok(t)
		wantIDs(t, e.ids("col2", ""))
		e.get("storage/meta/global").want(t, http.StatusNotFound, `"record not found"`)
		e.get("storage/tabs/home").want(t, http.StatusNotFound, `"record not found"`)
		r := e.get("info/collections").ok(t)
		if r.body != "[]" && r.body != "{}" {
			t.Errorf("info/collections after wipe: %s", r.body)
		}
	})
}

func TestXWeaveTimestamp(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		check := func(what string, r resp) {
			t.Helper()
			ts := parseTS(t, r.ok(t).hdr.Get("X-Weave-Timestamp")).Time()
			if d := time.Since(ts); d < -200*time.Millisecond || d > 200*time.Millisecond {
				t.Errorf("%s: X-Weave-Timestamp %v off the clock by %v", what, ts, d)
			}
		}
		check("GET", e.get("storage/col2"))
		check("PUT", e.put("storage/col2/ts", `{"payload":"x"}`))
		check("POST", e.post("storage/col2", `[{"id":"ts2","payload":"x"}]`))
	})
}

func TestIfUnmodifiedSince(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		ts := e.put("storage/col2/12345", `{"payload":"x"}`).ok(t).body
		old := e.v1(parseTS(t, ts) - 100000)
		const h = "X-If-Unmodified-Since"
		e.put("storage/col2/12345", `{"payload":"changed"}`, h, old).want(t, http.StatusPreconditionFailed, "4")
		e.post("storage/col2", `[{"id":"n1","payload":"x"}]`, h, old).want(t, http.StatusPreconditionFailed, "4")
		e.del("storage/col2/12345", h, old).want(t, http.StatusPreconditionFailed, "4")
		e.del("storage/col2", h, old).want(t, http.StatusPreconditionFailed, "4")
		var w map[string]any
		e.get("storage/col2/12345").ok(t).decode(t, &w)
		if w["payload"] != "x" {
			t.Errorf("a refused write changed the item: %v", w)
		}
		e.get("storage/col2/n1").want(t, http.StatusNotFound, `"record not found"`)

		e.put("storage/col2/12345", `{"payload":"y"}`, h, ts).ok(t)
		e.put("storage/col2/12345", `{"payload":"z"}`, h, "9999999999.99").ok(t)
		e.put("storage/empty/1", `{"payload":"z"}`, h, "1000").ok(t)
		e.put("storage/col2/12345", `{"payload":"z"}`, h, "soon").want(t, http.StatusBadRequest, "1")
		e.del("storage", h, old, "X-Confirm-Delete", "1").ok(t)
	})
}

// v1 renders ts in e's dialect.
func (e *env) v1(ts store.Timestamp) string {
	d, _ := dialectOf("/" + e.v + "/")
	return d.FormatTimestamp(ts)
}

func TestQuota(t *testing.T) {
	forEach(t, Config{QuotaKB: 5120}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		used := func() (float64, string) {
			var q []json.Number
			e.get("info/quota").ok(t).decode(t, &q)
			f, _ := q[0].Float64()
			return f, q[1].String()
		}
		before, limit := used()
		e.put("storage/col2/12345", `{"payload":"`+strings.Repeat("x", 500)+`"}`).ok(t)
		after, _ := used()
		if after-before != 500/1024.0 || limit != "5120" {
			t.Errorf("quota grew by %v (limit %s), want %v and 5120", after-before, limit, 500/1024.0)
		}
	})
	forEach(t, Config{}, func(t *testing.T, e *env) {
		want := map[string]string{"1.0": "[0,null]", "1.1": "[0.0,null]"}[e.v]
		e.get("info/quota").want(t, http.StatusOK, want)
	})
}

func TestOverquota(t *testing.T) {
	forEach(t, Config{QuotaKB: 1}, func(t *testing.T, e *env) {
		e.put("storage/col2/a", `{"payload":"`+strings.Repeat("x", 1000)+`"}`).ok(t)
		r := e.put("storage/col2/b", `{"payload":"`+strings.Repeat("x", 24)+`"}`).ok(t)
		if got := r.hdr.Get("X-Weave-Quota-Remaining"); got != "0.0234375" {
			t.Errorf("X-Weave-Quota-Remaining %q, want 0.0234375 (1 KB - 1000 B)", got)
		}
		before := e.events.count("OverQuota")
		r = e.put("storage/col2/c", `{"payload":"x"}`)
		r.want(t, http.StatusBadRequest, "14")
		if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		e.post("storage/col2", `[{"id":"d","payload":"x"}]`).want(t, http.StatusBadRequest, "14")
		e.get("storage/col2/c").want(t, http.StatusNotFound, `"record not found"`)
		e.get("storage/col2/d").want(t, http.StatusNotFound, `"record not found"`)
		if n := e.events.count("OverQuota") - before; n != 2 {
			t.Errorf("%d OverQuota events, want 2", n)
		}
		e.del("storage/col2/a").ok(t)
		e.put("storage/col2/c", `{"payload":"x"}`).ok(t)
	})
	forEach(t, Config{QuotaKB: 5120}, func(t *testing.T, e *env) {
		r := e.put("storage/col2/a", `{"payload":"x"}`).ok(t)
		if got, ok := r.hdr["X-Weave-Quota-Remaining"]; ok {
			t.Errorf("X-Weave-Quota-Remaining %q with 5 MB left", got)
		}
	})
}

// TestOverquotaHeaderFormat checks the value the Python test expects,
// which needs a fractional quota (0.1 KB) that Config cannot express.
func TestOverquotaHeaderFormat(t *testing.T) {
	rec := httptest.NewRecorder()
	quota{on: true, left: 0.1 - 24/1024.0}.warn(rec)
	if got := rec.Header().Get("X-Weave-Quota-Remaining"); got != "0.0765625" {
		t.Errorf("X-Weave-Quota-Remaining %q, want 0.0765625", got)
	}
	rec = httptest.NewRecorder()
	quota{on: true, left: 1024}.warn(rec)
	if got := rec.Header().Get("X-Weave-Quota-Remaining"); got != "1024.0" {
		t.Errorf("X-Weave-Quota-Remaining %q, want 1024.0", got)
	}
}

func TestGetCollectionTTL(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		e.put("storage/col2/12345", `{"payload":"XXX","ttl":0}`).ok(t)
		e.clock.advance(1100 * time.Millisecond)
		wantIDs(t, e.ids("col2", "?ids=12345"))

		e.put("storage/col2/123456", `{"payload":"XXX","ttl":2}`).ok(t)
		wantIDs(t, e.ids("col2", "?ids=123456"), "123456")
		e.put("storage/col2/123456", `{"payload":"XXX","ttl":2}`).ok(t)
		wantIDs(t, e.ids("col2", "?ids=123456"), "123456")
		e.clock.advance(2100 * time.Millisecond)
		wantIDs(t, e.ids("col2", "?ids=123456"))
		e.get("storage/col2/123456").want(t, http.StatusNotFound, `"record not found"`)
	})
}

// batchOf is a POST body of n items with payloads of size bytes.
func batchOf(n, size int) string {
	p := strings.Repeat("x", size)
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%d","payload":"%s"}`, i, p)
	}
	b.WriteByte(']')
	return b.String()
}

type batchAnswer struct {
	Success []string
	Failed  map[string]any
}

func (e *env) batch(t testing.TB, coll, body string) batchAnswer {
	t.Helper()
	var a batchAnswer
	r := e.post("storage/"+coll, body).ok(t)
	if r.body[len(r.body)-len(`"failed":[]}`):] == `"failed":[]}` {
		r.body = strings.Replace(r.body, `"failed":[]`, `"failed":{}`, 1)
	}
	r.decode(t, &a)
	return a
}

func TestBatch(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		mozSetup(t, e)
		for _, c := range []struct {
			n, size, success, failed int
			reason                   string
		}{
			{70, 10, 70, 0, ""},
			{105, 10, 100, 5, "retry wbo"},
			{5, 210 * 1024, 4, 1, "retry bytes"},
		} {
			a := e.batch(t, "col2", batchOf(c.n, c.size))
			if len(a.Success) != c.success || len(a.Failed) != c.failed {
				t.Errorf("%d items of %d B: %d success, %d failed; want %d, %d",
					c.n, c.size, len(a.Success), len(a.Failed), c.success, c.failed)
			}
			for id, why := range a.Failed {
				if fmt.Sprint(why) != "["+c.reason+"]" {
					t.Errorf("failed[%s] = %v, want [%s]", id, why, c.reason)
				}
			}
		}
	})
}

func TestStrictNewer(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		strictNewer(t, e, "col2")
	})
}

// strictNewer POSTs two pairs into coll and checks that newer= the first
// POST's modified returns only the second pair, even when both POSTs get
// the same clock reading.
func strictNewer(t *testing.T, e *env, coll string) {
	t.Helper()
	now := e.clock.Now()
	e.clock.freeze(now)
	defer e.clock.freeze(time.Time{})
	e.post("storage/"+coll, `[{"id":"01","payload":"x"},{"id":"02","payload":"x"}]`).ok(t)
	var items []struct{ Modified json.Number }
	e.get("storage/"+coll+"?full=1&ids=01").ok(t).decode(t, &items)
	if len(items) != 1 {
		t.Fatalf("item 01 missing: %v", items)
	}
	e.post("storage/"+coll, `[{"id":"03","payload":"x"},{"id":"04","payload":"x"}]`).ok(t)
	wantIDs(t, sorted(e.ids(coll, "?newer="+items[0].Modified.String())), "03", "04")
}

func TestBatchSize(t *testing.T) {
	forEach(t, Config{BatchMaxCount: 25}, func(t *testing.T, e *env) {
		a := e.batch(t, "col2", batchOf(30, 10))
		if len(a.Success) != 25 || len(a.Failed) != 5 {
			t.Errorf("30 items with a batch size of 25: %d success, %d failed", len(a.Success), len(a.Failed))
		}
	})
	forEach(t, Config{BatchMaxBytes: 100}, func(t *testing.T, e *env) {
		a := e.batch(t, "col2", batchOf(3, 40))
		if len(a.Success) != 2 || fmt.Sprint(a.Failed["2"]) != "[retry bytes]" {
			t.Errorf("3 × 40 B with a 100 B limit: %+v", a)
		}
	})
}

func TestHandlingOfInvalidJSON(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		for _, body := range []string{`"notawbo"`, `42`, `{"id":["1","2"],"payload":{"3":"4"}}`, `{"payload":"x","x":[]}`} {
			e.put("storage/col2/1", body).want(t, http.StatusBadRequest, "8")
		}
		for _, body := range []string{`"notalist"`, `42`, `null`} {
			e.post("storage/col2", body).want(t, http.StatusBadRequest, "8")
		}
		a := e.batch(t, "col2", `[{"id":"1","payload":"GOOD"},"BAD"]`)
		if len(a.Success) != 1 || len(a.Failed) != 1 {
			t.Errorf("[good, \"BAD\"]: %+v", a)
		}
		for _, body := range []string{`{oops`, `[{`, ``, `{"payload":"x"} {}`} {
			e.put("storage/col2/2", body).want(t, http.StatusBadRequest, "6")
			e.post("storage/col2", body).want(t, http.StatusBadRequest, "6")
		}
		wantIDs(t, e.ids("col2", ""), "1")
	})
}

func TestThatPutReportsConsistentTimestamps(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		var last store.Timestamp
		for i := range 200 {
			e.get("storage/col2").ok(t)
			r := e.put("storage/col2/"+strconv.Itoa(i%7), `{"payload":"x"}`).ok(t)
			if h := r.hdr.Get("X-Weave-Timestamp"); r.body != h {
				t.Fatalf("round %d: PUT body %q, X-Weave-Timestamp %q", i, r.body, h)
			}
			ts := parseTS(t, r.body)
			if ts <= last {
				t.Fatalf("round %d: timestamp %v after %v", i, ts, last)
			}
			last = ts
		}
	})
}

func TestThatExpiredItemsCanBeOverwrittenViaPUT(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		e.put("storage/col2/TEST", `{"payload":"x","ttl":0}`).ok(t)
		e.clock.advance(20 * time.Millisecond)
		e.get("storage/col2/TEST").want(t, http.StatusNotFound, `"record not found"`)
		e.put("storage/col2/TEST", `{"payload":"y","ttl":42}`).ok(t)
		var w map[string]any
		e.get("storage/col2/TEST").ok(t).decode(t, &w)
		if w["payload"] != "y" {
			t.Errorf("overwritten item %v", w)
		}
	})
}

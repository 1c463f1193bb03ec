package syncapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"weaveproxy/native/store"
)

func TestCrossUserRefused(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		alice := e.as("alice", testPassword)
		alice.put("storage/col/secret", `{"payload":"alice's"}`).ok(t)
		before := e.events.count("CrossUserAccess")
		other := "/" + e.v + "/alice/"
		for _, r := range []resp{
			e.do("GET", other+"storage/col/secret", ""),
			e.do("GET", other+"info/collections", ""),
			e.do("PUT", other+"storage/col/secret", `{"payload":"intruder"}`),
			e.do("POST", other+"storage/col", `[{"id":"x","payload":"intruder"}]`),
			e.do("DELETE", other+"storage/col", ""),
			e.do("DELETE", other+"storage", "", "X-Confirm-Delete", "1"),
		} {
			r.want(t, http.StatusUnauthorized, "5")
			if r.hdr.Get("WWW-Authenticate") != `Basic realm="Weave"` {
				t.Errorf("WWW-Authenticate %q", r.hdr.Get("WWW-Authenticate"))
			}
		}
		if n := e.events.count("CrossUserAccess") - before; n != 6 {
			t.Errorf("%d CrossUserAccess events for 6 attempts (emitted once each, by the authenticator)", n)
		}
		wantIDs(t, alice.ids("col", ""), "secret")
		alice.get("storage/col/secret").want(t, http.StatusOK,
			`{"id":"secret","modified":`+alice.get("info/collections").hdrTimestampOf(t, "col")+`,"payload":"alice's"}`)
	})
}

// hdrTimestampOf is the raw timestamp of coll in an info/collections body.
func (r resp) hdrTimestampOf(t testing.TB, coll string) string {
	t.Helper()
	var m map[string]json.Number
	r.decode(t, &m)
	return m[coll].String()
}

// TestConcurrentWritesStrictlyIncreasing writes as one user from several
// goroutines with a frozen clock (every timestamp comes from the bump)
// while a reader follows the collection with newer=<highest modified it
// has seen>, as a syncing client does. A write that committed with a
// modified at or below one the reader had already passed would be missed
// forever; the per-user lock must make that impossible.
func TestConcurrentWritesStrictlyIncreasing(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		e.clock.freeze(time.Unix(1795895500, 0))
		const writers, each = 6, 15
		var wg sync.WaitGroup
		stamps := make(chan store.Timestamp, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					id := fmt.Sprintf("w%d-%d", w, i)
					var r resp
					if i%2 == 0 {
						r = e.put("storage/col/"+id, `{"payload":"x"}`)
					} else {
						r = e.post("storage/col", `[{"id":"`+id+`","payload":"x"},{"id":"`+id+`b","payload":"y"}]`)
					}
					if r.status != http.StatusOK {
						t.Errorf("write %s: %d %q", id, r.status, r.body)
						return
					}
					stamps <- parseTS(t, r.hdr.Get("X-Weave-Timestamp"))
				}
			})
		}
		seen := map[string]bool{}
		var last store.Timestamp
		follow := func() {
			var items []struct {
				ID       string
				Modified json.Number
			}
			e.get("storage/col?full=1&newer="+e.v1(last)).ok(t).decode(t, &items)
			for _, it := range items {
				seen[it.ID] = true
				last = max(last, parseTS(t, it.Modified.String()))
			}
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
			}
			follow()
		}
		follow()
		close(stamps)
		unique := map[store.Timestamp]bool{}
		for ts := range stamps {
			if unique[ts] {
				t.Errorf("timestamp %v issued twice", ts)
			}
			unique[ts] = true
		}
		if want := writers * ((each+1)/2 + 2*(each/2)); len(seen) != want {
			t.Errorf("the follower saw %d items, want %d: a write landed behind its newer=", len(seen), want)
		}
	})
}

// TestBadInputWritesNothing sends malformed writes and checks each gets
// its 400 code and that the account stays empty.
func TestBadInputWritesNothing(t *testing.T) {
	forEach(t, Config{MaxBodyBytes: 4096}, func(t *testing.T, e *env) {
		big := `{"payload":"` + strings.Repeat("x", 5000) + `"}`
		cases := []struct {
			method, path, body string
			code               string
		}{
			{"PUT", "storage/c/1", "{\"payload\":\"\xc3\x28\"}", "6"},
			{"POST", "storage/c", "[{\"id\":\"1\",\"payload\":\"\xed\xa0\x80\"}]", "6"},
			{"PUT", "storage/c/1", big, "8"},
			{"POST", "storage/c", "[" + big + "]", "8"},
			{"PUT", "storage/c/" + strings.Repeat("é", 33), `{"payload":"x"}`, "8"},
			{"PUT", "storage/c/1", `{"payload":"x","sortindex":1e10}`, "8"},
			{"PUT", "storage/c/1", `{"payload":"x","sortindex":"12x"}`, "8"},
			{"PUT", "storage/c/1", `{"payload":"x","ttl":-1}`, "8"},
			{"PUT", "storage/c/1", `{"payload":"x","ttl":"1.5"}`, "8"},
			{"PUT", "storage/c/1", `{"payload":"x","parentid":"` + strings.Repeat("p", 65) + `"}`, "8"},
			{"PUT", "storage/c/1", `{"payload":5}`, "8"},
			{"PUT", "storage/c/1", `{"payload":"x"}{"payload":"y"}`, "6"},
			{"POST", "storage/c", `{"id":"a/b","payload":"x"}`, "8"},
			{"POST", "storage/c", `true`, "8"},
			{"DELETE", "storage/c?older=1e", "", "1"},
			{"DELETE", "storage/c?limit=1.5", "", "1"},
			{"DELETE", "storage/c?index_above=nan", "", "1"},
			{"PUT", "storage/c/1", `{"payload":"x"}`, "1"}, // with a bad X-If-Unmodified-Since below
		}
		for i, c := range cases {
			var hdr []string
			if i == len(cases)-1 {
				hdr = []string{"X-If-Unmodified-Since", "12:00"}
			}
			r := e.do(c.method, e.path(c.path), c.body, hdr...)
			if r.status != http.StatusBadRequest || r.body != c.code {
				t.Errorf("%s %s %.40q: %d %q, want 400 %s", c.method, c.path, c.body, r.status, r.body, c.code)
			}
		}
		e.get("info/collection_counts").ok(t).wantEmptyMap(t)
		used, err := e.eng.TotalSize(context.Background(), e.uid, store.FromTime(time.Now()))
		if err != nil || used != 0 {
			t.Errorf("total size %d (%v) after refused writes", used, err)
		}
	})
}

func (r resp) wantEmptyMap(t testing.TB) {
	t.Helper()
	if r.body != "[]" && r.body != "{}" {
		t.Errorf("body %s, want an empty map", r.body)
	}
}

// TestUnicode covers non-ASCII ids (in URLs and bodies), payloads with
// astral characters, and payload sizes counted in bytes.
func TestUnicode(t *testing.T) {
	forEach(t, Config{QuotaKB: 5120}, func(t *testing.T, e *env) {
		payload := "ünï 漢字 😀"
		id := "ü😀"
		e.put("storage/c/"+url.PathEscape(id), `{"payload":"`+payload+`"}`).ok(t)
		r := e.post("storage/c", `[{"id":"ñ","payload":"`+payload+`"},{"id":"\u00e9\ud83d\ude00","payload":"x"}]`).ok(t)
		if !strings.Contains(r.body, `"success":["\u00f1","\u00e9\ud83d\ude00"]`) {
			t.Errorf("POST answer %s: ids not escaped as \\u sequences", r.body)
		}
		var w struct{ ID, Payload string }
		e.get("storage/c/"+url.PathEscape(id)).ok(t).decode(t, &w)
		if w.ID != id || w.Payload != payload {
			t.Errorf("GET %q: %+v", id, w)
		}
		e.get("storage/c/" + url.PathEscape("é😀")).ok(t)
		wantIDs(t, sorted(e.ids("c", "?ids="+url.QueryEscape("ñ,"+id))), sorted([]string{"ñ", id})...)
		bytes := int64(2*len(payload) + 1)
		var usage map[string]float64
		e.get("info/collection_usage").ok(t).decode(t, &usage)
		if usage["c"] != float64(bytes)/1024 {
			t.Errorf("usage %v KB, want %d bytes / 1024 (payload_size counts bytes)", usage["c"], bytes)
		}
		var q []float64
		e.get("info/quota").ok(t).decode(t, &q)
		if q[0] != float64(bytes)/1024 || q[1] != 5120 {
			t.Errorf("quota %v, want [%v 5120]", q, float64(bytes)/1024)
		}
	})
}

// TestWithEngine runs a write through a copy bound to a rolled-back
// transaction: the answer is a normal one, nothing is kept, and the real
// handler's timestamps are not pushed by it.
func TestWithEngine(t *testing.T) {
	forEach(t, Config{}, func(t *testing.T, e *env) {
		e.clock.freeze(time.Unix(1795895500, 0))
		var dry resp
		err := e.eng.DryRun(context.Background(), func(tx store.Engine) error {
			d := *e
			d.h = e.h.WithEngine(tx)
			for range 3 {
				dry = d.put("storage/c/dry", `{"payload":"never kept"}`).ok(t)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if dry.body != e.v1(store.FromTime(time.Unix(1795895500, 0))+2) {
			t.Errorf("third dry PUT answered %s", dry.body)
		}
		e.get("storage/c/dry").want(t, http.StatusNotFound, `"record not found"`)
		if r := e.put("storage/c/real", `{"payload":"kept"}`).ok(t); r.body != e.v1(store.FromTime(time.Unix(1795895500, 0))) {
			t.Errorf("real PUT after dry runs answered %s: dry runs moved the timestamps", r.body)
		}
	})
}

// TestUnavailable503 answers a dead database with 503 and the configured
// backoff.
func TestUnavailable503(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind string) {
		eng := openEngine(t, kind)
		e := newEnv(t, eng, Config{RetryAfter: 90 * time.Second})
		e.put("storage/c/1", `{"payload":"x"}`).ok(t)
		eng.Close()
		r := e.get("storage/c")
		r.want(t, http.StatusServiceUnavailable, `"Database unavailable"`)
		if r.hdr.Get("Retry-After") != "90" || r.hdr.Get("X-Weave-Backoff") != "90" || r.hdr.Get("X-Weave-Timestamp") == "" {
			t.Errorf("503 headers %v", r.hdr)
		}
	})
}

func TestWritersBound(t *testing.T) {
	ws := newWriters(2)
	ctx := context.Background()
	_, unlock1, err := ws.lock(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for id := int64(2); id < 10; id++ {
		_, unlock, err := ws.lock(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		unlock()
	}
	if _, held := ws.users[1]; !held || len(ws.users) > 2 {
		t.Errorf("entries %d (user 1 held: %v): want ≤ 2 and the held one kept", len(ws.users), held)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, _, err := ws.lock(cctx, 1); err == nil {
		t.Error("a second lock of a held user did not wait for the context")
	}
	unlock1()
	_, unlock, err := ws.lock(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}

func TestIssue(t *testing.T) {
	for _, c := range []struct {
		last, now, collMax store.Timestamp
		has                bool
		want               store.Timestamp
	}{
		{0, 100, 0, false, 100},
		{100, 100, 0, false, 101},
		{99, 100, 100, true, 101},
		{0, 100, 250, true, 251},
		{300, 100, 250, true, 301},
		{0, 100, 99, true, 100},
	} {
		w := &writer{last: c.last}
		if got := w.issue(c.now, c.collMax, c.has); got != c.want || w.last != c.want {
			t.Errorf("issue(last %d, now %d, max %d/%v) = %d (last %d), want %d",
				c.last, c.now, c.collMax, c.has, got, w.last, c.want)
		}
	}
}

// TestVersionOne serves /1/ as 1.1, as the Python server did.
func TestVersionOne(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind string) {
		e := newEnv(t, openEngine(t, kind), Config{})
		e.clock.freeze(time.Unix(1795895500, 0))
		e.v = "1"
		e.put("storage/c/1", `{"payload":"x"}`).want(t, http.StatusOK, "1795895500.00")
		r := e.get("info/collections")
		r.want(t, http.StatusOK, `{"c":1795895500.00}`)
		if ts := r.hdr.Get("X-Weave-Timestamp"); ts != "1795895500.00" {
			t.Errorf("X-Weave-Timestamp %q", ts)
		}
		e.do("GET", "/2.0/alice/info/collections", "").want(t, http.StatusNotFound, `"Not found"`)
	})
}

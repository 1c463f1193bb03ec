package storageapi

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestQuota(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		var before, after []json.Number
		decode(t, e.ok(e.do("GET", "info/quota", "")), &before)
		e.put("col2/12345", `{"payload":"`+strings.Repeat("X", 500)+`"}`)
		decode(t, e.ok(e.do("GET", "info/quota", "")), &after)
		b, _ := before[0].Float64()
		a, _ := after[0].Float64()
		if a-b != 500.0/1024 || after[1].String() != "5120" {
			t.Errorf("quota before %v after %v", before, after)
		}
	})
}

// TestOverQuota is test_overquota with whole-KB quotas: 1 KB with the
// setup's 24 bytes used leaves 1 - 24/1024 KB, reported before the write;
// once the quota is used up, writes get 400 code 14 and a CEF event.
func TestOverQuota(t *testing.T) {
	// Mozilla's test_overquota, with its numbers: 24 bytes used of a 0.1 KB
	// quota leave 0.0765625 KB; a quota of 0 leaves nothing.
	forEach(t, func(c *Config) { c.QuotaKB = 0.1 }, func(t *testing.T, e *env) {
		setupPY(t, e)
		rec := e.do("PUT", "storage/col2/12345", `{"payload":"x"}`)
		e.ok(rec)
		if got := rec.Header().Get("X-Weave-Quota-Remaining"); got != "0.0765625" {
			t.Errorf("X-Weave-Quota-Remaining with 0.1 KB quota: %q, want 0.0765625", got)
		}
	})
	forEach(t, func(c *Config) { c.QuotaKB = 0 }, func(t *testing.T, e *env) {
		rec := e.do("PUT", "storage/col2/12345", `{"payload":"x"}`)
		if rec.Code != 400 || rec.Body.String() != "14" || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("PUT with quota 0: %d %q", rec.Code, rec.Body.String())
		}
	})
	forEach(t, func(c *Config) { c.QuotaKB = 1 }, func(t *testing.T, e *env) {
		setupPY(t, e)
		rec := e.do("PUT", "storage/col2/12345", `{"payload":"`+strings.Repeat("X", 900)+`"}`)
		e.ok(rec)
		if got := rec.Header().Get("X-Weave-Quota-Remaining"); got != "0.9765625" {
			t.Errorf("X-Weave-Quota-Remaining %q", got)
		}
		e.put("col2/12346", `{"payload":"`+strings.Repeat("X", 200)+`"}`)
		for _, r := range [][2]string{{"PUT", "storage/col2/x"}, {"POST", "storage/col2"}} {
			body := `{"payload":"x"}`
			if r[0] == "POST" {
				body = `[{"id":"y","payload":"y"}]`
			}
			rec = e.do(r[0], r[1], body)
			if rec.Code != 400 || rec.Body.String() != "14" || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s over quota: %d %q", r[0], rec.Code, rec.Body.String())
			}
		}
		if n := strings.Count(strings.Join(e.events.Signatures(), " "), "OverQuota"); n != 2 {
			t.Errorf("OverQuota events: %v", e.events.Signatures())
		}
		// Reads and deletes still work over quota.
		e.ok(e.do("DELETE", "storage/col2/12345", ""))
		e.put("col2/x", `{"payload":"x"}`)
	})
}

func TestGetCollectionTTL(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		e.put("col2/12345", `{"payload":"XXX","ttl":0}`)
		e.clock.Advance(1100 * time.Millisecond)
		if got := e.ids("col2?ids=12345"); len(got) != 0 {
			t.Errorf("ttl 0 still listed: %v", got)
		}
		e.put("col2/123456", `{"payload":"XXX","ttl":2}`)
		if got := e.ids("col2?ids=123456"); len(got) != 1 {
			t.Errorf("ttl 2 not listed: %v", got)
		}
		e.put("col2/123456", `{"payload":"YYY","ttl":2}`)
		if got := e.ids("col2?ids=123456"); len(got) != 1 {
			t.Errorf("ttl 2 after re-PUT: %v", got)
		}
		e.clock.Advance(2100 * time.Millisecond)
		if got := e.ids("col2?ids=123456"); len(got) != 0 {
			t.Errorf("ttl 2 listed after 2.1 s: %v", got)
		}
	})
}

// batchBody builds a POST body of n items with payloads of size bytes.
func batchBody(n, size int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"%d","payload":"%s"}`, i, strings.Repeat("x", size))
	}
	b.WriteString("]")
	return b.String()
}

type batchAnswer struct {
	Success []string
	Failed  map[string]any
}

func (e *env) batch(coll, body string) batchAnswer {
	e.t.Helper()
	raw := e.ok(e.do("POST", "storage/"+coll, body))
	var res batchAnswer
	if strings.Contains(raw, `"failed":[]`) { // the 1.0 dialect's empty failed
		raw = strings.Replace(raw, `"failed":[]`, `"failed":{}`, 1)
	}
	decode(e.t, raw, &res)
	return res
}

func TestBatch(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		for _, tt := range []struct{ n, size, success, failed int }{
			{70, 1, 70, 0},
			{105, 1, 100, 5},
			{5, 210 * 1024, 4, 1},
		} {
			res := e.batch("col2", batchBody(tt.n, tt.size))
			if len(res.Success) != tt.success || len(res.Failed) != tt.failed {
				t.Errorf("%d×%d: success %d, failed %d", tt.n, tt.size, len(res.Success), len(res.Failed))
			}
		}
	})
}

func TestBatchSize(t *testing.T) {
	forEach(t, func(c *Config) { c.BatchMaxCount = 25 }, func(t *testing.T, e *env) {
		res := e.batch("col2", batchBody(30, 1))
		if len(res.Success) != 25 || len(res.Failed) != 5 {
			t.Errorf("success %d, failed %v", len(res.Success), res.Failed)
		}
	})
}

func TestWeirdArgs(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		for _, p := range []string{"older", "newer", "index_above", "index_below", "limit", "offset"} {
			rec := e.do("GET", "storage/col2?"+p+"=blah", "")
			if rec.Code != 400 || rec.Body.String() != "1" {
				t.Errorf("%s=blah: %d %q", p, rec.Code, rec.Body.String())
			}
		}
		junk := strings.Repeat(strings.Repeat("#", 100)+",", 10)
		if got := e.ids("col2?ids=" + strings.ReplaceAll(junk, "#", "%23")); len(got) != 0 {
			t.Errorf("garbage ids: %v", got)
		}
		e.ok(e.do("GET", "storage/col2?blabla=1", ""))
	})
}

func TestGuidDeletion(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		ids := []string{"{6820f3ca-6e8a-4ff4-8af7-8b3625d7d65}", "{95ffcf92-1beb-4a1d-9f6c-4dea9b4a3d5a}",
			"{c1f6d4a9-3f83-4d4f-9c74-22b4c2f1d0a1}"}
		var items []string
		for _, id := range ids {
			items = append(items, fmt.Sprintf(`{"id":%q,"payload":"p"}`, id))
		}
		e.batch("passwords", "["+strings.Join(items, ",")+"]")
		q := strings.NewReplacer("{", "%7B", "}", "%7D").Replace(strings.Join(ids[:2], ","))
		e.ok(e.do("DELETE", "storage/passwords?ids="+q, ""))
		if got := e.ids("passwords?ids=" + q); len(got) != 0 {
			t.Errorf("deleted guids still there: %v", got)
		}
		if got := e.ids("passwords"); !slices.Equal(got, ids[2:]) {
			t.Errorf("left: %v", got)
		}
	})
}

func TestMetrics(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		e.ok(e.do("GET", "info/collections?client=FxHome&v=1.1b2", ""))
	})
}

var twoDecimals = regexp.MustCompile(`"modified":(\d+(?:\.\d{1,2})?)[,}]`)

func TestRounding(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		setupPY(t, e)
		body := e.ok(e.do("GET", "storage/col2?full=1&sort=newest", ""))
		ms := twoDecimals.FindAllStringSubmatch(body, -1)
		if len(ms) != 5 {
			t.Fatalf("modified values not at most two decimals: %s", body)
		}
		for _, m := range ms {
			if e.version == "1.1" && !strings.Contains(m[1], ".") || e.version == "1.1" && len(m[1])-strings.Index(m[1], ".") != 3 {
				t.Errorf("1.1 modified %q has not exactly two decimals", m[1])
			}
		}
		if got := sorted(e.ids("col2?newer=" + ms[2][1])); !slices.Equal(got, []string{"3", "4"}) {
			t.Errorf("newer=%s: %v", ms[2][1], got)
		}
	})
}

// TestStrictNewer posts twice within one clock tick: the second batch gets
// a strictly larger timestamp, and newer= the first's excludes the first.
func TestStrictNewer(t *testing.T) {
	strictNewer(t, "meh")
}

// TestStrictNewerTabs is the same in tabs (SQL-backed here; the memcache
// variant belongs to the cache layer).
func TestStrictNewerTabs(t *testing.T) {
	strictNewer(t, "tabs")
}

func strictNewer(t *testing.T, coll string) {
	forEach(t, nil, func(t *testing.T, e *env) {
		first := e.ok(e.do("POST", "storage/"+coll, `[{"id":"01","payload":"_"},{"id":"02","payload":"_"}]`))
		e.ok(e.do("POST", "storage/"+coll, `[{"id":"03","payload":"_"},{"id":"04","payload":"_"}]`))
		var items []map[string]any
		decode(t, e.ok(e.do("GET", "storage/"+coll+"?ids=01&full=1", "")), &items)
		if len(items) != 1 {
			t.Fatalf("first batch: %s", first)
		}
		if got := sorted(e.ids(coll + "?newer=" + fmt.Sprint(items[0]["modified"]))); !slices.Equal(got, []string{"03", "04"}) {
			t.Errorf("newer than the first batch: %v", got)
		}
	})
}

// TestWriteTabs503 makes the database refuse writes to tabs (a trigger):
// a batch answers 200 with every id failed "db error", a single PUT 503.
// The memcache flavour of this test belongs to the cache layer.
func TestWriteTabs503(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		ddl := "CREATE TRIGGER tabs_down BEFORE INSERT ON wbo FOR EACH ROW BEGIN " +
			"IF NEW.collection = 9 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'tabs down'; END IF; END"
		if e.engine.Name() == "sqlite" {
			ddl = "CREATE TRIGGER tabs_down BEFORE INSERT ON wbo WHEN NEW.collection = 9 " +
				"BEGIN SELECT RAISE(ABORT, 'tabs down'); END"
		}
		if _, err := e.engine.DB().ExecContext(context.Background(), ddl); err != nil {
			t.Fatal(err)
		}
		res := e.batch("tabs", `[{"id":"sure","payload":"x"},{"id":"thing","payload":"x"}]`)
		if len(res.Success) != 0 || res.Failed["sure"] != "db error" || res.Failed["thing"] != "db error" {
			t.Errorf("batch: %+v", res)
		}
		rec := e.do("PUT", "storage/tabs/sure", `{"payload":"x"}`)
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || rec.Header().Get("X-Weave-Backoff") == "" {
			t.Errorf("PUT: %d %v %q", rec.Code, rec.Header(), rec.Body.String())
		}
		e.put("bookmarks/fine", `{"payload":"x"}`)
	})
}

func TestDebugScreen(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		if rec := e.raw("GET", "/__debug__", "", "Authorization", e.auth); rec.Code != 404 {
			t.Errorf("/__debug__: %d", rec.Code)
		}
	})
}

func TestHandlingOfInvalidJSON(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		for _, b := range []string{`"notawbo"`, `42`, `{"id":["1","2"],"payload":{"3":"4"}}`} {
			if rec := e.do("PUT", "storage/col2/1", b); rec.Code != 400 || rec.Body.String() != "8" {
				t.Errorf("PUT %s: %d %q", b, rec.Code, rec.Body.String())
			}
		}
		for _, b := range []string{`"notalist"`, `42`} {
			if rec := e.do("POST", "storage/col2", b); rec.Code != 400 || rec.Body.String() != "8" {
				t.Errorf("POST %s: %d %q", b, rec.Code, rec.Body.String())
			}
		}
		res := e.batch("col2", `[{"id":"1","payload":"GOOD"},"BAD"]`)
		if len(res.Success) != 1 || len(res.Failed) != 1 {
			t.Errorf("mixed list: %+v", res)
		}
	})
}

// TestThatPutReportsConsistentTimestamps runs on the real clock.
func TestThatPutReportsConsistentTimestamps(t *testing.T) {
	forEach(t, func(c *Config) { c.Now = nil }, func(t *testing.T, e *env) {
		for i := range 200 {
			e.ok(e.do("GET", "info/collections", ""))
			rec := e.do("PUT", "storage/col1/a", `{"payload":"aaa"}`)
			if body, hdr := e.ok(rec), rec.Header().Get("X-Weave-Timestamp"); body != hdr {
				t.Fatalf("round %d: body %q, X-Weave-Timestamp %q", i, body, hdr)
			}
		}
	})
}

func TestThatExpiredItemsCanBeOverwrittenViaPUT(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		e.put("col2/TEST", `{"payload":"x","ttl":0}`)
		e.clock.Advance(20 * time.Millisecond)
		if rec := e.do("GET", "storage/col2/TEST", ""); rec.Code != 404 {
			t.Errorf("expired item: %d", rec.Code)
		}
		e.put("col2/TEST", `{"payload":"y","ttl":42}`)
		var it map[string]any
		decode(t, e.ok(e.do("GET", "storage/col2/TEST", "")), &it)
		if it["payload"] != "y" {
			t.Errorf("overwritten item: %v", it)
		}
	})
}

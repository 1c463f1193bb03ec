package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
)

// seed writes a small, fixed data set through the PHP server directly, so
// every mode afterwards reads the same state.
func seed(t testing.TB, c *client) {
	t.Helper()
	c.do("POST", "/1.0/"+c.user+"/storage/history",
		`[{"id":"h1","payload":"one","sortindex":1},{"id":"h2","payload":"two ✓","sortindex":2,"parentid":"p"}]`, true).
		want(t, "seed history", 200, "")
	c.do("PUT", "/1.0/"+c.user+"/storage/bookmarks/b1", `{"payload":"bm","sortindex":5}`, true).want(t, "seed bookmark", 200, "")
}

// readRequests are reads whose legacy answers carry no clock of their own
// (X-Weave-Timestamp aside), so two runs against the same state must agree
// byte for byte.
var readRequests = []struct{ name, path string }{
	{"item", "/storage/bookmarks/b1"},
	{"missing item", "/storage/bookmarks/nope"},
	{"collection ids", "/storage/history?sort=index"},
	{"collection full", "/storage/history?full=1&sort=index"},
	{"info counts", "/info/collection_counts"},
	{"info collections", "/info/collections"},
}

// TestProxyModesGiveTheirPromisedAnswers sends the same reads straight to
// PHP and through the proxy in legacy, shadow and native mode. Legacy and
// shadow must hand the client PHP's bytes; native must agree with PHP on
// these reads (the documented differences do not touch them).
func TestProxyModesGiveTheirPromisedAnswers(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		s := startStack(t, "default: legacy\n", stackOptions{legacy: srv.Start})
		direct := newUser(t, s.Proxy.URL, s.PHP.URL, "modesuser")
		seed(t, direct)
		via := *direct
		via.base = s.Proxy.URL

		for _, mode := range []string{"legacy", "shadow", "native"} {
			s.writeRoutes(t, "default: "+mode+"\n")
			waitFor(t, "default mode "+mode, func() bool {
				return s.modeOf(t, "GET /{version}/{user}/storage/{collection}/{id}") == mode
			})
			for _, rq := range readRequests {
				want := direct.do("GET", "/1.0/"+direct.user+rq.path, "", true)
				got := via.do("GET", "/1.0/"+via.user+rq.path, "", true)
				if got.Status != want.Status || got.Body != want.Body {
					t.Errorf("%s mode, %s: got %d %q, PHP %d %q", mode, rq.name, got.Status, got.Body, want.Status, want.Body)
				}
				for _, h := range []string{"Content-Type", "WWW-Authenticate"} {
					if got.Header.Get(h) != want.Header.Get(h) {
						t.Errorf("%s mode, %s: %s %q, PHP %q", mode, rq.name, h, got.Header.Get(h), want.Header.Get(h))
					}
				}
				if got.Header.Get("X-Weave-Timestamp") == "" {
					t.Errorf("%s mode, %s: no X-Weave-Timestamp", mode, rq.name)
				}
			}
		}
	})
}

// TestProxyWritesInEachMode: a write in every mode lands exactly once, and
// the client gets a timestamp that matches what a later read shows.
func TestProxyWritesInEachMode(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		s := startStack(t, "default: legacy\n", stackOptions{legacy: srv.Start})
		c := newUser(t, s.Proxy.URL, s.Proxy.URL, "writesuser")
		for i, mode := range []string{"legacy", "shadow", "native"} {
			s.writeRoutes(t, "default: "+mode+"\n")
			waitFor(t, "default mode "+mode, func() bool {
				return s.modeOf(t, "PUT /{version}/{user}/storage/{collection}/{id}") == mode
			})
			id := fmt.Sprintf("w%d", i)
			put := c.do("PUT", "/1.0/"+c.user+"/storage/forms/"+id, `{"payload":"`+mode+`"}`, true).want(t, mode+" put", 200, "")
			if put.Body != put.Header.Get("X-Weave-Timestamp") {
				t.Errorf("%s put: body %q, X-Weave-Timestamp %q", mode, put.Body, put.Header.Get("X-Weave-Timestamp"))
			}
			got := c.do("GET", "/1.0/"+c.user+"/storage/forms/"+id, "", true).want(t, mode+" read back", 200, "")
			if want := `"modified":` + put.Body + `,"payload":"` + mode + `"}`; !strings.HasSuffix(got.Body, want) {
				t.Errorf("%s read back %q, want suffix %q", mode, got.Body, want)
			}
		}
		counts := c.do("GET", "/1.0/"+c.user+"/info/collection_counts", "", true)
		if counts.Body != `{"forms":3}` {
			t.Errorf("after one write per mode, counts = %s, want forms:3 (each write applied once)", counts.Body)
		}

		// A batch POST and the two deletes, once per mode: each applied once.
		for i, mode := range []string{"legacy", "shadow", "native"} {
			s.writeRoutes(t, "default: "+mode+"\n")
			waitFor(t, "default mode "+mode, func() bool {
				return s.modeOf(t, "POST /{version}/{user}/storage/{collection}") == mode
			})
			coll := fmt.Sprintf("/1.0/%s/storage/c%d", c.user, i)
			c.do("POST", coll, `[{"id":"a","payload":"1"},{"id":"b","payload":"2"},{"id":"c","payload":"3"}]`, true).
				want(t, mode+" post", 200, `{"success":["a","b","c"],"failed":[]}`)
			c.do("DELETE", coll+"/a", "", true).want(t, mode+" delete item", 200, "")
			c.do("DELETE", coll+"?ids=b", "", true).want(t, mode+" delete by ids", 200, "")
			c.do("GET", coll, "", true).want(t, mode+" what is left", 200, `["c"]`)
		}
	})
}

// TestCutoverUnderLoad moves info/collections from legacy to native and
// back by editing routes.yaml while clients keep asking: every request is
// answered, none with a 5xx.
func TestCutoverUnderLoad(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		const route = "GET /{version}/{user}/info/collections"
		// Rate budgets are per user and this is one user hammering: lift them.
		s := startStack(t, "default: legacy\n", stackOptions{legacy: srv.Start, extra: []string{"--rate-reads", "-1", "--rate-writes", "-1"}})
		c := newUser(t, s.Proxy.URL, s.Proxy.URL, "loaduser")
		seed(t, c)

		var sent, failed atomic.Int64
		var firstFailure atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := &http.Client{Timeout: 10 * time.Second}
				for n := 0; n < 5000; n++ {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("GET", s.Proxy.URL+"/1.0/"+c.user+"/info/collections", nil)
					req.SetBasicAuth(c.user, c.pass)
					resp, err := cl.Do(req)
					sent.Add(1)
					if err != nil || resp.StatusCode != 200 {
						failed.Add(1)
						firstFailure.CompareAndSwap(nil, fmt.Sprint(err, resp))
					}
					if resp != nil {
						resp.Body.Close()
					}
				}
			}()
		}
		for _, mode := range []string{"native", "legacy", "native"} {
			s.writeRoutes(t, "default: legacy\nroutes:\n  - match: \""+route+"\"\n    mode: "+mode+"\n")
			waitFor(t, route+" "+mode, func() bool { return s.modeOf(t, route) == mode })
			time.Sleep(200 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		if sent.Load() < 20 {
			t.Fatalf("only %d requests sent during the cutover", sent.Load())
		}
		if failed.Load() != 0 {
			t.Logf("proxy log:\n%s", s.Proxy.proc.LogTail())
			t.Logf("php log:\n%s", s.PHP.LogTail())
			t.Fatalf("%d of %d requests failed during cutover; first: %v", failed.Load(), sent.Load(), firstFailure.Load())
		}
		t.Logf("%d requests, none failed, across three reloads", sent.Load())
	})
}

// TestBreakerWhenPHPDies kills the PHP server: clients get Sync's own
// back-off signals instead of hanging, and the breaker closes by itself
// once PHP is back.
func TestBreakerWhenPHPDies(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		s := startStack(t, "default: legacy\n", stackOptions{legacy: srv.Start})
		c := newUser(t, s.Proxy.URL, s.Proxy.URL, "breakeruser")
		c.do("GET", "/1.0/"+c.user+"/info/collections", "", true).want(t, "before", 200, "")

		s.PHP.Stop()
		var last response
		for i := 0; i < 10; i++ {
			last = c.do("GET", "/1.0/"+c.user+"/info/collections", "", true)
			if last.Status != http.StatusServiceUnavailable {
				t.Fatalf("with PHP down, request %d answered %d %q, want 503", i, last.Status, last.Body)
			}
		}
		if last.Header.Get("Retry-After") == "" || last.Header.Get("X-Weave-Backoff") == "" {
			t.Errorf("503 without back-off headers: %v", last.Header)
		}
		if st, raw := s.adminRoutes(t); st.Legacy.Breaker != "open" {
			t.Errorf("breaker state after failures = %q, want open (%s)", st.Legacy.Breaker, raw)
		}
		start := time.Now()
		c.do("GET", "/1.0/"+c.user+"/info/collections", "", true).want(t, "breaker open", 503, "")
		t.Logf("answer with the breaker open took %v", time.Since(start))

		s.PHP.Start(t)
		waitFor(t, "breaker to close after PHP came back", func() bool {
			return c.do("GET", "/1.0/"+c.user+"/info/collections", "", true).Status == 200
		})
		if st, _ := s.adminRoutes(t); st.Legacy.Breaker != "closed" {
			t.Errorf("breaker after recovery = %q, want closed", st.Legacy.Breaker)
		}
	})
}

// TestLegacyWriteThenNativeRead: with memcache, a native read is cached; a
// write that goes to PHP must not leave the next native read stale.
func TestLegacyWriteThenNativeRead(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		const routes = "default: legacy\nroutes:\n" +
			"  - match: \"GET /{version}/{user}/info/collections\"\n    mode: native\n" +
			"  - match: \"GET /{version}/{user}/info/collection_counts\"\n    mode: native\n"
		s := startStack(t, routes, stackOptions{legacy: srv.Start, memcache: true})
		c := newUser(t, s.Proxy.URL, s.Proxy.URL, "coherentuser")
		seed(t, c)
		for i := 0; i < 3; i++ {
			before := c.do("GET", "/1.0/"+c.user+"/info/collection_counts", "", true).want(t, "counts", 200, "")
			c.do("GET", "/1.0/"+c.user+"/info/collections", "", true).want(t, "warm cache", 200, "")
			put := c.do("PUT", "/1.0/"+c.user+fmt.Sprintf("/storage/prefs/p%d", i), `{"payload":"x"}`, true).want(t, "legacy put", 200, "")
			info := c.do("GET", "/1.0/"+c.user+"/info/collections", "", true).want(t, "native read", 200, "")
			if !strings.Contains(info.Body, `"prefs":`+put.Body) {
				t.Fatalf("native info/collections after a legacy write = %s, want prefs at %s", info.Body, put.Body)
			}
			after := c.do("GET", "/1.0/"+c.user+"/info/collection_counts", "", true)
			if !strings.Contains(after.Body, fmt.Sprintf(`"prefs":%d`, i+1)) {
				t.Fatalf("native counts after legacy write %d = %s (before %s)", i, after.Body, before.Body)
			}
		}
	})
}

// TestNativeWriteThenPHPRead is the other direction: PHP keeps its own
// coll:<userid> map in the shared memcached and never hears of native
// writes, so native writes must drop it.
func TestNativeWriteThenPHPRead(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		const routes = "default: legacy\nroutes:\n" +
			"  - match: \"PUT /{version}/{user}/storage/{collection}/{id}\"\n    mode: native\n"
		s := startStack(t, routes, stackOptions{legacy: srv.Start, memcache: true})
		c := newUser(t, s.Proxy.URL, s.Proxy.URL, "phpreaduser")
		direct := *c
		direct.base = s.PHP.URL
		for i := 0; i < 3; i++ {
			direct.do("GET", "/1.0/"+c.user+"/info/collections", "", true).want(t, "PHP fills its map", 200, "")
			put := c.do("PUT", "/1.0/"+c.user+fmt.Sprintf("/storage/prefs/n%d", i), `{"payload":"x"}`, true).want(t, "native put", 200, "")
			info := direct.do("GET", "/1.0/"+c.user+"/info/collections", "", true).want(t, "PHP read", 200, "")
			if !strings.Contains(info.Body, `"prefs":`+put.Body) {
				t.Fatalf("PHP info/collections after native write = %s, want prefs at %s", info.Body, put.Body)
			}
		}
	})
}

// TestCanarySplitsUsersStickily: with a 50% canary, some users are served
// natively and some by PHP, each always by the same side, and every answer
// is the one PHP gives.
func TestCanarySplitsUsersStickily(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		const route = "GET /{version}/{user}/storage/{collection}/{id}"
		s := startStack(t, "default: legacy\nroutes:\n  - match: \""+route+"\"\n    mode: canary\n    percent: 50\n", stackOptions{legacy: srv.Start})
		var users []*client
		for i := 0; i < 8; i++ {
			c := newUser(t, s.Proxy.URL, s.Proxy.URL, fmt.Sprintf("canary%d", i))
			c.do("PUT", "/1.0/"+c.user+"/storage/bookmarks/b1", `{"payload":"bm","sortindex":5}`, true).want(t, "seed", 200, "")
			users = append(users, c)
		}
		for round := 0; round < 3; round++ {
			for _, c := range users {
				direct := *c
				direct.base = s.PHP.URL
				want := direct.do("GET", "/1.0/"+c.user+"/storage/bookmarks/b1", "", true)
				got := c.do("GET", "/1.0/"+c.user+"/storage/bookmarks/b1", "", true)
				if got.Status != want.Status || got.Body != want.Body {
					t.Errorf("%s: canary answered %d %q, PHP %d %q", c.user, got.Status, got.Body, want.Status, want.Body)
				}
			}
		}
		resp, err := http.Get(s.Proxy.Admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		sides := map[string]float64{}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "weaveproxy_requests_total{") || !strings.Contains(line, `route="`+route+`"`) {
				continue
			}
			var n float64
			fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &n)
			for _, side := range []string{"native", "legacy"} {
				if strings.Contains(line, `side="`+side+`"`) {
					sides[side] += n
				}
			}
		}
		// Sticky: every user's three reads went to one side, so each side's
		// count is a multiple of three; 8 users at 50% land on both sides.
		if sides["native"]+sides["legacy"] != 24 || int(sides["native"])%3 != 0 || sides["native"] == 0 || sides["legacy"] == 0 {
			t.Errorf("canary sides %v: want 24 reads split between both sides in whole users", sides)
		}
	})
}

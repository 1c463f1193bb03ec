package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

const modesYAML = `legacy:
  url: LEGACY
default: legacy
routes:
  - match: "GET /{version}/{user}/info/collections"
    mode: native
  - match: "GET /{version}/{user}/storage/{collection}"
    mode: canary
    percent: 100
  - match: "GET /{version}/{user}/storage/{collection}/{id}"
    mode: canary
    percent: 0
  - match: "GET /{version}/{user}/info/quota"
    mode: shadow
`

func TestModesRouteRequests(t *testing.T) {
	f := newFixture(t, modesYAML, Config{Native: nativeHandler()})
	cases := []struct{ method, uri, want string }{
		{"GET", "/1.0/alice/info/collections?client=FxHome", "native GET /1.0/alice/info/collections?client=FxHome"},
		{"GET", "/1.1/alice/storage/tabs", "native GET /1.1/alice/storage/tabs"},
		{"GET", "/1.1/alice/storage/tabs/a%2Fb", "legacy GET /1.1/alice/storage/tabs/a%2Fb"},
		{"GET", "/1.0/alice/info/quota", "legacy GET /1.0/alice/info/quota"},
		{"GET", "/1.0/alice/info/collection_counts", "legacy GET /1.0/alice/info/collection_counts"},
		{"POST", "/1.0/alice/info/collections", "legacy POST /1.0/alice/info/collections"},
		{"GET", "/1.0/alice/frob/bookmarks", "legacy GET /1.0/alice/frob/bookmarks"},
		{"GET", "//storage/bookmarks", "legacy GET //storage/bookmarks"},
		{"HEAD", "/1.0/alice/info/collections", ""},
	}
	for _, c := range cases {
		if _, body, _ := f.do(c.method, c.uri, nil); body != c.want {
			t.Errorf("%s %s: got %q, want %q", c.method, c.uri, body, c.want)
		}
	}
}

func TestDefaultNativeLeavesUnknownPathsToLegacy(t *testing.T) {
	f := newFixture(t, "legacy: {url: LEGACY}\ndefault: native\n", Config{Native: nativeHandler()})
	for uri, want := range map[string]string{
		"/1.0/alice/info/quota":            "native",
		"/user/1.0/alice/node/weave":       "native",
		"/1.0/alice/storage/bookmarks/":    "native", // one trailing slash: the same resource
		"/1.0/alice/storage/bookmarks//":   "legacy", // an empty segment: not an API route
		"/2.0/alice/info/quota":            "legacy",
		"/1.0/alice/info/nonsense":         "legacy",
		"/weave-password-reset?key=ABCD-1": "native",
	} {
		if _, body, _ := f.do("GET", uri, nil); !strings.HasPrefix(body, want+" ") {
			t.Errorf("GET %s: %q, want %s", uri, body, want)
		}
	}
	// A dot segment, raw or encoded, is refused before routing (issue 10
	// item 8): legacy would normalise it into another route than the one
	// the table, budgets and user checks saw.
	for _, uri := range []string{"/1.0/alice/storage/%2e%2e", "/1.0/x/../alice/info/quota", "/user/1.0/x/%2E%2e/alice"} {
		if code, body, _ := f.do("GET", uri, nil); code != 400 || body != InvalidPathBody {
			t.Errorf("GET %s: %d %q, want 400 %s", uri, code, body, InvalidPathBody)
		}
	}
	// A real Weave client registers with a trailing slash; with default
	// native, PHP must not be needed for it.
	if _, body, _ := f.do("PUT", "/user/1/alice/", strings.NewReader("{}")); body != "native PUT /user/1/alice/" {
		t.Errorf("PUT /user/1/alice/: %q, want native", body)
	}
}

func TestNativeRequiredForNativeModes(t *testing.T) {
	tb, err := routes.Parse([]byte("legacy: {url: http://127.0.0.1:1}\ndefault: shadow\n"), "t")
	must(t, err)
	if _, err := New(Config{Table: tb}); !errors.Is(err, ErrNoNative) {
		t.Errorf("New without native: %v", err)
	}
	f := newFixture(t, "legacy: {url: LEGACY}\n", Config{})
	f.write("legacy: {url: LEGACY}\ndefault: native\n")
	if err := f.p.Reload(t.Context()); !errors.Is(err, ErrNoNative) {
		t.Errorf("reload to native without native: %v", err)
	}
	if _, body, _ := f.do("GET", "/1.0/a/info/quota", nil); !strings.HasPrefix(body, "legacy") {
		t.Errorf("refused reload changed the table: %q", body)
	}
}

func TestFallbackOnlyForReads(t *testing.T) {
	f := newFixture(t, `legacy: {url: LEGACY}
routes:
  - {match: "GET /{version}/{user}/storage/{collection}", mode: native, fallback: legacy}
  - {match: "GET /{version}/{user}/info/quota", mode: native}
  - {match: "POST /{version}/{user}/storage/{collection}", mode: native}
`, Config{Native: nativeHandler()})
	cases := []struct {
		method, uri string
		hdr         []string
		status      int
		body        string
	}{
		{"GET", "/1.0/a/storage/tabs", nil, 200, "native GET /1.0/a/storage/tabs"},
		{"GET", "/1.0/a/storage/tabs", []string{"X-Native-Status", "503"}, 200, "legacy GET /1.0/a/storage/tabs"},
		{"GET", "/1.0/a/storage/tabs", []string{"X-Native-Panic", "1"}, 200, "legacy GET /1.0/a/storage/tabs"},
		{"GET", "/1.0/a/storage/tabs", []string{"X-Native-Status", "404"}, 404, "native GET /1.0/a/storage/tabs"},
		{"GET", "/1.0/a/info/quota", []string{"X-Native-Status", "500"}, 500, "native GET /1.0/a/info/quota"},
		{"POST", "/1.0/a/storage/tabs", []string{"X-Native-Status", "503"}, 503, "native POST /1.0/a/storage/tabs"},
	}
	for _, c := range cases {
		before := f.legacy.hits.Load()
		status, body, _ := f.do(c.method, c.uri, strings.NewReader("[]"), c.hdr...)
		if status != c.status || body != c.body {
			t.Errorf("%s %s %v: %d %q, want %d %q", c.method, c.uri, c.hdr, status, body, c.status, c.body)
		}
		if fell := f.legacy.hits.Load() != before; fell != strings.HasPrefix(c.body, "legacy") {
			t.Errorf("%s %s %v: legacy contacted = %v", c.method, c.uri, c.hdr, fell)
		}
	}
}

func TestInvalidationAfterLegacyWrites(t *testing.T) {
	inv := &recorder{}
	f := newFixture(t, `legacy: {url: LEGACY}
routes:
  - {match: "PUT /{version}/{user}/storage/{collection}/{id}", mode: native}
  - {match: "POST /{version}/{user}/storage/{collection}", mode: shadow}
`, Config{Native: nativeHandler(), Invalidator: inv})
	cases := []struct {
		method, uri string
		status      string // legacy's status
		want        []string
	}{
		{"POST", "/1.0/Alice/storage/bookmarks", "", []string{"alice"}}, // shadow: legacy writes
		{"PUT", "/1.1/bob/storage/bookmarks", "", []string{"bob"}},
		{"DELETE", "/1.0/alice/storage/bookmarks", "", []string{"alice"}},
		{"DELETE", "/1.0/alice/storage/bookmarks/a%2Fb", "", []string{"alice"}},
		{"DELETE", "/1.0/alice/storage", "", []string{"alice"}},
		{"DELETE", "/user/1.0/carol", "", []string{"carol"}},
		{"POST", "/user/1.0/carol/password", "", []string{"carol"}},
		{"DELETE", "/1.0/alice/storage/bookmarks", "500", []string{"alice"}}, // may have happened
		{"DELETE", "/1.0/alice/storage/bookmarks", "412", nil},
		{"DELETE", "/1.0/alice/storage/bookmarks", "401", nil},
		{"PUT", "/1.0/alice/storage/bookmarks/x", "", nil}, // native write: native's business
		{"GET", "/1.0/alice/storage/bookmarks", "", nil},
		{"GET", "/1.0/alice/info/collections", "", nil},
		// Every write of a user invalidates: one needless cache miss is
		// cheaper than knowing which user writes native caches.
		{"PUT", "/user/1.0/dave", "", []string{"dave"}},
		{"POST", "/user/1.0/Dave/email", "", []string{"dave"}},
		{"GET", "/user/1.0/dave", "", nil},
		{"PUT", "/1.0/alice/frob/x", "", nil},
	}
	for _, c := range cases {
		f.do(c.method, c.uri, strings.NewReader(`{"payload":"x"}`), "X-Status", c.status)
		if got := inv.take(); !slices.Equal(got, c.want) {
			t.Errorf("%s %s (legacy %s): invalidated %v, want %v", c.method, c.uri, c.status, got, c.want)
		}
	}
	// Legacy refusing the connection: nothing was written. (A fresh proxy:
	// on a kept-alive connection that legacy closed, a write may or may not
	// have arrived, and the proxy rightly invalidates.)
	dead := newFixture(t, "legacy: {url: LEGACY}\n", Config{Invalidator: inv})
	dead.legacy.Close()
	if status, _, _ := dead.do("DELETE", "/1.0/alice/storage/bookmarks", nil); status != 503 {
		t.Errorf("dead legacy: %d", status)
	}
	if got := inv.take(); got != nil {
		t.Errorf("unreachable legacy: invalidated %v", got)
	}
}

func TestShadowGivesLegacyAnswerAndHandsOnThePair(t *testing.T) {
	var mu sync.Mutex
	var order []string
	var pairs []Pair
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	dry := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		note("dry-run " + string(b))
		w.WriteHeader(201)
		io.WriteString(w, "dry")
	})
	native := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note("native " + r.Method)
		nativeHandler().ServeHTTP(w, r)
	})
	sh := &CaptureShadower{MaxCapture: 1 << 10, OnPair: func(p Pair) { mu.Lock(); pairs = append(pairs, p); mu.Unlock() }}
	f := newFixture(t, `legacy: {url: LEGACY}
default: shadow
routes:
  - match: "PUT /{version}/{user}/storage/{collection}/{id}"
    mode: shadow
    shadow_writes: false
    diff: {ignore: [X-Weave-Timestamp]}
`, Config{Native: native, NativeDryRun: dry, Shadow: sh})
	status, body, hdr := f.do("GET", "/1.0/Alice/info/quota?x=1", nil)
	if status != 200 || body != "legacy GET /1.0/Alice/info/quota?x=1" || hdr.Get("X-Weave-Timestamp") != "1795895500.7" {
		t.Errorf("client got %d %q %v", status, body, hdr)
	}
	f.do("POST", "/1.0/alice/storage/tabs", strings.NewReader(`[{"id":"a"}]`))
	f.do("PUT", "/1.0/alice/storage/tabs/a", strings.NewReader(`{"payload":"p"}`))
	big := bytes.Repeat([]byte("b"), 3<<10)
	f.do("POST", "/1.0/alice/storage/history", bytes.NewReader(big))

	if f.legacy.bodies["/1.0/alice/storage/history"] != len(big) {
		t.Errorf("legacy got %d bytes of a body over the capture limit", f.legacy.bodies["/1.0/alice/storage/history"])
	}
	wantOrder := []string{"native GET", `dry-run [{"id":"a"}]`}
	if d := cmp.Diff(wantOrder, order); d != "" {
		t.Errorf("native runs (reads after legacy, writes only as dry run, not with shadow_writes: false):\n%s", d)
	}
	if len(pairs) != 4 {
		t.Fatalf("%d pairs", len(pairs))
	}
	get, post, put, large := pairs[0], pairs[1], pairs[2], pairs[3]
	if get.Route != "GET /{version}/{user}/info/quota" || get.Request.User != "alice" ||
		get.Request.URL.RequestURI() != "/1.0/Alice/info/quota?x=1" || get.DryRun ||
		string(get.Legacy.Body) != body || get.Legacy.Header.Get("Content-Type") != "application/json" ||
		get.Native == nil || string(get.Native.Body) != "native GET /1.0/Alice/info/quota?x=1" {
		t.Errorf("GET pair: %+v legacy %+v native %+v", get, get.Legacy, get.Native)
	}
	if _, hasDate := get.Legacy.Header["Date"]; !hasDate {
		t.Errorf("legacy's own Date header missing from the captured answer: %v", get.Legacy.Header)
	}
	if !post.DryRun || post.Native.Status != 201 || string(post.Request.Body) != `[{"id":"a"}]` || post.Legacy.Status != 200 {
		t.Errorf("POST pair: %+v native %+v", post, post.Native)
	}
	if put.Native != nil || put.Diff == nil || put.Diff.Content[0].Value != "ignore" {
		t.Errorf("PUT with shadow_writes: false: %+v", put)
	}
	if large.Native != nil || !large.Request.BodyTruncated || len(large.Request.Body) != 0 {
		t.Errorf("over-limit body: native %+v truncated %v (%d bytes)", large.Native, large.Request.BodyTruncated, len(large.Request.Body))
	}
}

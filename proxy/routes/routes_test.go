package routes

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The issue promises Ops that exactly this file works.
const minimal = `legacy:
  url: http://127.0.0.1:8081
default: legacy          # mode of every route not listed
routes:
  - match: "GET /{version}/{user}/info/collections"
    mode: native
`

func TestMinimalFile(t *testing.T) {
	tb, err := Parse([]byte(minimal), "routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if tb.Legacy.URL != "http://127.0.0.1:8081" || tb.Default != Legacy {
		t.Errorf("legacy %q default %q", tb.Legacy.URL, tb.Default)
	}
	if tb.Legacy.Breaker != defaultUpstream.Breaker || tb.Legacy.DialTimeout != 2*time.Second {
		t.Errorf("defaults not applied: %+v", tb.Legacy)
	}
	cases := []struct {
		method, path string
		name         string
		side         Side
		user         string
	}{
		{"GET", "/1.0/Alice/info/collections", "GET /{version}/{user}/info/collections", SideNative, "alice"},
		{"GET", "/1.1/bob/info/collections?client=FxHome&v=1.1b2", "GET /{version}/{user}/info/collections", SideNative, "bob"},
		{"GET", "/1.0/alice/info/quota", "GET /{version}/{user}/info/quota", SideLegacy, "alice"},
		{"PUT", "/1.0/alice/storage/bookmarks/a%2Fb", "PUT /{version}/{user}/storage/{collection}/{id}", SideLegacy, "alice"},
		{"GET", "/user/1.0/alice/node/weave", "GET /user/{version}/{user}/node/weave", SideLegacy, "alice"},
		{"GET", "/1.0/alice/frob/bookmarks", "unmatched", SideLegacy, "alice"},
		{"GET", "/2.0/alice/info/quota", "unmatched", SideLegacy, ""},
		{"HEAD", "/1.0/alice/info/quota", "unmatched", SideLegacy, "alice"},
		{"GET", "/1.0/alice/info/quotaa", "unmatched", SideLegacy, "alice"},
		{"GET", "/1.0/alice//info/collections", "unmatched", SideLegacy, "alice"},
		{"GET", "/1.0/alice/storage/bookmarks/", "GET /{version}/{user}/storage/{collection}", SideLegacy, "alice"},
		{"GET", "/1.1/%41lice/info/collections", "GET /{version}/{user}/info/collections", SideNative, "alice"},
		{"GET", "/1.1/tarek%40ziade.org/info/collections", "GET /{version}/{user}/info/collections", SideNative, "m66w2ibb2voujg273jdyn25ihkbum4pt"},
		{"PUT", "/user/1/alice/", "PUT /user/{version}/{user}", SideLegacy, "alice"},
	}
	for _, c := range cases {
		m := tb.Match(httptest.NewRequest(c.method, c.path, nil))
		if m.Name() != c.name || m.Side() != c.side || m.User != c.user {
			t.Errorf("%s %s: got %q %s user %q, want %q %s %q", c.method, c.path, m.Name(), m.Side(), m.User, c.name, c.side, c.user)
		}
	}
}

func TestRootFileParses(t *testing.T) {
	tb, err := Load(filepath.Join("..", "..", "routes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if tb.Default != Legacy || len(tb.Routes) == 0 {
		t.Errorf("root routes.yaml: default %q, %d routes", tb.Default, len(tb.Routes))
	}
	want := defaultUpstream
	want.URL = tb.Legacy.URL
	if tb.Legacy != want {
		t.Errorf("the root file documents the defaults, but they differ:\n%s", cmp.Diff(want, tb.Legacy))
	}
}

func TestFullFile(t *testing.T) {
	src := `legacy:
  url: https://php.internal:8443/weave
  dial_timeout: 500ms
  response_header_timeout: 5s
  max_connections: 32
  preserve_host: false
  breaker: {failures: 3, open_for: 2s, half_open_requests: 2, interval: 1m, backoff: 1500ms}
default: shadow
routes:
  - match: "GET /{version}/{user}/storage/{collection}"
    mode: canary
    percent: 25
    fallback: legacy
  - match: "POST /{version}/{user}/storage/{collection}"
    mode: shadow
    shadow_writes: false
    diff:
      ignore: [X-Weave-Timestamp]
      nested: {any: [1, 2]}
`
	tb, err := Parse([]byte(src), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Upstream{URL: "https://php.internal:8443/weave", DialTimeout: 500 * time.Millisecond,
		ResponseHeaderTimeout: 5 * time.Second, IdleConnTimeout: 90 * time.Second, MaxConnections: 32,
		QueueTimeout: 10 * time.Second, MaxIdleConnections: 64, PreserveHost: false, ReadyPath: "/",
		Breaker: Breaker{Failures: 3, OpenFor: 2 * time.Second, HalfOpenRequests: 2, Interval: time.Minute, Backoff: 1500 * time.Millisecond}}
	if d := cmp.Diff(want, tb.Legacy); d != "" {
		t.Error(d)
	}
	// Without backoff, clients are told to wait as long as the breaker
	// stays open (issue 10 item 11): one setting.
	if got := (Breaker{OpenFor: 10 * time.Second}).BackoffSeconds(); got != 10 {
		t.Errorf("back-off without a backoff key: %d s, want open_for's 10", got)
	}
	if got := tb.Legacy.Breaker.BackoffSeconds(); got != 2 {
		t.Errorf("backoff 1.5s rounds up to 2 s, got %d", got)
	}
	get, post := tb.Routes[0], tb.Routes[1]
	if get.Mode != Canary || get.Percent != 25 || !get.Fallback || get.Line != 10 || !get.ShadowWrites {
		t.Errorf("get route %+v", get)
	}
	if post.ShadowWrites || post.Diff == nil {
		t.Fatalf("post route %+v", post)
	}
	var diff struct {
		Ignore []string
		Nested map[string][]int
	}
	if err := post.Diff.Decode(&diff); err != nil || diff.Ignore[0] != "X-Weave-Timestamp" || diff.Nested["any"][1] != 2 {
		t.Errorf("diff block not passed through: %+v %v", diff, err)
	}
	if m := tb.Match(httptest.NewRequest("DELETE", "/1.1/x/storage/tabs", nil)); m.Side() != SideShadow || m.Route.Listed {
		t.Errorf("default shadow not applied to a built-in route: %+v", m.Route)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	cases := []struct{ src, want string }{
		{"", "f:0:0: the file is empty"},
		{"legacy:\n  url: ftp://x\n", "f:2:8: url \"ftp://x\": scheme must be http or https"},
		{"legacy:\n  urll: http://x\n", "f:2:3: legacy: unknown key \"urll\""},
		{"legacy:\n  dial_timeout: 2\n", "f:2:17: \"2\" is not a duration"},
		{"default: legacy\n", "f:1:1: legacy: missing"},
		{"legacy: {url: http://x}\ndefault: natve\n", "f:2:10: unknown mode \"natve\""},
		{"legacy: {url: http://x}\ndefault: canary\n", "f:2:1: default: canary needs a percent"},
		{"legacy: {url: http://x}\nroutes:\n  - match: GET /a\n    mode: canary\n", "f:4:11: mode canary needs percent"},
		{"legacy: {url: http://x}\nroutes:\n  - match: GET /__heartbeat__\n    mode: canary\n    percent: 10\n", "f:3:5: route \"GET /__heartbeat__\": canary needs a {user} variable"},
		{"legacy: {url: http://x}\nroutes:\n  - match: \"GET /{user}\"\n    mode: canary\n    percent: 101\n", "f:5:14: \"101\": want a whole number from 0 to 100"},
		{"legacy: {url: http://x}\nroutes:\n  - match: PUT /user/{version}/{user}\n    mode: native\n    fallback: legacy\n", "f:3:5: route \"PUT /user/{version}/{user}\": fallback is only allowed on GET routes"},
		{"legacy: {url: http://x}\nroutes:\n  - match: GET /a\n    mode: native\n    fallback: native\n", "f:5:15: fallback \"native\""},
		{"legacy: {url: http://x}\nroutes:\n  - match: GET /__heartbeat__\n    mode: native\n  - match: GET   /__heartbeat__\n    mode: legacy\n", "f:5:5: route \"GET /__heartbeat__\" listed twice (first on line 3)"},
		{"legacy: {url: http://x}\nroutes:\n  - match: GET /a\n    mode: native\n", "f:3:12: match \"GET /a\" names no Weave route; known GET routes: GET /user/{version}/{user},"},
		{"legacy: {url: http://x}\nroutes:\n  - match: GET /{version}/{user}/info/quotaa\n    mode: native\n", "f:3:12: match \"GET /{version}/{user}/info/quotaa\" names no Weave route; known GET routes: "},
		{"legacy: {url: http://x}\nroutes:\n  - match: GET /{version}/{user}/storage/{collection}/\n    mode: native\n", "f:3:12: match \"GET /{version}/{user}/storage/{collection}/\" names no Weave route"},
		{"legacy: {url: http://x}\nroutes:\n  - match: FETCH /a\n    mode: native\n", "f:3:12: match \"FETCH /a\": unknown method"},
		{"legacy: {url: http://x}\nroutes:\n  - match: GET a\n    mode: native\n", "f:3:12: match \"GET a\": the path must start with /"},
		{"legacy: {url: http://x}\nroutes:\n  - match: \"GET /{id:[}\"\n    mode: native\n", "f:3:12: match \"GET /{id:[}\""},
		{"legacy: {url: http://x}\nroutes:\n  - mode: native\n", "f:3:5: route: match missing"},
		{"legacy: {url: http://x}\nroutes:\n  - match: GET /a\n", "f:3:5: route: mode missing"},
		{"legacy: {url: http://x}\nroutes:\n  match: GET /a\n", "f:3:3: routes must be a list"},
		{"legacy: {url: http://x, url: http://y}\n", "f:1:25: legacy: key \"url\" repeated (first on line 1)"},
		{"legacy: {url: http://x, breaker: {failures: 0}}\n", "f:1:45: \"0\": want a whole number from 1"},
		{"legacy: {url: http://x, preserve_host: yes}\n", "f:1:40: \"yes\": want true or false"},
		{"legacy: [1]\n", "f:1:9: legacy must be a mapping"},
		{"legacy: {url: http://x\n", "yaml: line 1"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.src), "f")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got  %v\n want %s", c.src, err, c.want)
		}
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	src := "legacy: {url: http://x}\ndefault: nope\nroutes:\n  - match: GET /__heartbeat__\n    mode: later\n"
	_, err := Parse([]byte(src), "f")
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Problems) != 2 || pe.Problems[0].Line != 2 || pe.Problems[1].Line != 5 {
		t.Fatalf("want two problems on lines 2 and 5, got %v", err)
	}
}

func TestCanaryStickyAndDistributed(t *testing.T) {
	src := "legacy: {url: http://x}\nroutes:\n" +
		"  - {match: \"GET /{version}/{user}/storage/{collection}\", mode: canary, percent: 30}\n" +
		"  - {match: \"GET /{version}/{user}/info/collections\", mode: canary, percent: 30}\n"
	tb, err := Parse([]byte(src), "f")
	if err != nil {
		t.Fatal(err)
	}
	native := 0
	const users = 10000
	for i := range users {
		u := fmt.Sprintf("user%d", i)
		a := tb.Match(httptest.NewRequest("GET", "/1.1/"+u+"/storage/history", nil)).Side()
		b := tb.Match(httptest.NewRequest("GET", "/1.1/"+strings.ToUpper(u)+"/info/collections", nil)).Side()
		c := tb.Match(httptest.NewRequest("GET", "/1.1/"+u+"/storage/tabs?full=1", nil)).Side()
		if a != b || a != c {
			t.Fatalf("user %s flips between sides: %s %s %s", u, a, b, c)
		}
		if a == SideNative {
			native++
		}
	}
	if native < users*27/100 || native > users*33/100 {
		t.Errorf("30%% canary sent %d of %d users to native", native, users)
	}
	// Raising the percentage only adds users: bucket < percent is monotonic.
	rt := &Route{Mode: Canary, Pattern: "/{user}"}
	for i := range 500 {
		u := fmt.Sprintf("u%d", i)
		rt.Percent = 10
		before := rt.SideFor(u)
		rt.Percent = 50
		if before == SideNative && rt.SideFor(u) != SideNative {
			t.Fatalf("user %s left native when the canary grew", u)
		}
	}
	for _, p := range []int{0, 100} {
		rt.Percent = p
		if got := rt.SideFor("anyone"); (p == 100) != (got == SideNative) {
			t.Errorf("percent %d gave %s", p, got)
		}
	}
}

func TestWriteUser(t *testing.T) {
	tb, err := Parse([]byte(minimal), "f")
	if err != nil {
		t.Fatal(err)
	}
	writes := []string{
		"PUT /1.0/Alice/storage/bookmarks/x", "POST /1.0/alice/storage/bookmarks",
		"PUT /1.1/alice/storage/bookmarks", "DELETE /1.0/alice/storage/bookmarks",
		"DELETE /1.0/alice/storage/bookmarks/a%2Fb", "DELETE /1/alice/storage",
		"DELETE /user/1.0/alice", "POST /user/1.0/alice/password", "PUT /user/1.0/alice", "PUT /user/1/alice/",
		"POST /user/1.0/alice/email", "DELETE /user/1.0/alice/password_reset", "GET /user/1/alice/password_reset",
	}
	reads := []string{
		"GET /1.0/alice/storage/bookmarks", "GET /1.0/alice/info/collections", "GET /user/1.0/alice",
		"POST /1.0/alice/info/collections",
		"PUT /1.0/alice/frob/x", "POST /weave-password-reset",
	}
	for _, s := range writes {
		m, p, _ := strings.Cut(s, " ")
		if u, ok := tb.WriteUser(httptest.NewRequest(m, p, nil)); !ok || u != "alice" {
			t.Errorf("%s: want a write of alice, got %q %v", s, u, ok)
		}
	}
	for _, s := range reads {
		m, p, _ := strings.Cut(s, " ")
		if u, ok := tb.WriteUser(httptest.NewRequest(m, p, nil)); ok {
			t.Errorf("%s: not a cache-invalidating write, got user %q", s, u)
		}
	}
}

func TestWithMode(t *testing.T) {
	tb, err := Parse([]byte(minimal), "f")
	if err != nil {
		t.Fatal(err)
	}
	c, err := tb.WithMode("GET /{version}/{user}/info/collections", Legacy, 0)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := c.WithMode("GET /{version}/{user}/storage/{collection}", Canary, 100)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/1.0/alice/info/collections", nil)
	if tb.Match(r).Side() != SideNative || c.Match(r).Side() != SideLegacy {
		t.Error("WithMode changed the original or did not change the copy")
	}
	if s := c2.Match(httptest.NewRequest("GET", "/1.0/alice/storage/tabs", nil)).Side(); s != SideNative {
		t.Errorf("added canary 100%% route: %s", s)
	}
	if _, err := tb.WithMode("GET /__heartbeat__", Canary, 10); err == nil {
		t.Error("canary without {user} accepted")
	}
	if _, err := tb.WithMode("GET /a", Native, 0); err == nil {
		t.Error("a route that is not a Weave route accepted")
	}
	if _, err := tb.WithMode("GET /a", "nope", 0); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestSetModeKeepsComments(t *testing.T) {
	src := "# head comment\nlegacy:\n  url: http://127.0.0.1:8081 # php\ndefault: legacy\nroutes:\n" +
		"  # the first route\n  - match: \"GET /{version}/{user}/info/collections\"\n    mode: native # since June\n"
	out, err := SetMode([]byte(src), "GET /{version}/{user}/info/collections", Canary, 20)
	if err != nil {
		t.Fatal(err)
	}
	out, err = SetMode(out, "DELETE /{version}/{user}/storage/{collection}", Shadow, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"# head comment", "# php", "# the first route", "mode: canary # since June", "percent: 20",
		"- match: \"DELETE /{version}/{user}/storage/{collection}\"\n    mode: shadow"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	tb, err := Parse(out, "out")
	if err != nil {
		t.Fatal(err)
	}
	if rt := tb.Lookup("GET /{version}/{user}/info/collections"); rt.Mode != Canary || rt.Percent != 20 {
		t.Errorf("edited route %+v", rt)
	}
	back, err := SetMode(out, "GET /{version}/{user}/info/collections", Legacy, 0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(back), "percent") {
		t.Errorf("percent kept after leaving canary:\n%s", back)
	}
	if _, err := SetMode(out, "GET /a", Canary, 5); err == nil {
		t.Error("SetMode produced a file that does not parse")
	}
	if out, err := SetMode([]byte("legacy: {url: http://x}\n"), "GET /__heartbeat__", Native, 0); err != nil || !strings.Contains(string(out), "routes:") {
		t.Errorf("adding the first route: %v\n%s", err, out)
	}
}

func TestSetModeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(path, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SetModeFile(path, "GET /{version}/{user}/info/collections", Legacy, 0); err != nil {
		t.Fatal(err)
	}
	tb, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Routes[0].Mode != Legacy || tb.Source != path {
		t.Errorf("after SetModeFile: %+v source %q", tb.Routes[0], tb.Source)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("permissions changed to %v", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("temp files left behind: %v", ents)
	}
}

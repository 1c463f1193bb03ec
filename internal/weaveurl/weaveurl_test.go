package weaveurl

import (
	"net/url"
	"strings"
	"testing"
)

const (
	alice   = "daliceq4b296"
	mailKey = "m66w2ibb2voujg273jdyn25ihkbum4pt" // tarek@ziade.org, see native/auth tests
)

// Paths from /work/shared/recordings/legacy-php-sync1.0.jsonl (the real
// PHP server's traffic) and from the paths real clients send.
func TestClassify(t *testing.T) {
	tests := []struct {
		method, path string
		want         Request
	}{
		// storage API, recorded
		{"GET", "/1.0/daliceq4b296/info/collections", Request{Kind: Info, Version: "1.0", User: alice, Info: "collections",
			Shape: "/{version}/{user}/info/collections", Route: "GET /{version}/{user}/info/collections"}},
		{"GET", "/1.0/DALICEQ4B296/info/collections", Request{Kind: Info, Version: "1.0", User: "DALICEQ4B296", Info: "collections",
			Shape: "/{version}/{user}/info/collections", Route: "GET /{version}/{user}/info/collections"}},
		{"GET", "/1.0/daliceq4b296/info/collection_counts", Request{Kind: Info, Version: "1.0", User: alice, Info: "collection_counts",
			Shape: "/{version}/{user}/info/collection_counts", Route: "GET /{version}/{user}/info/collection_counts"}},
		{"GET", "/1.0/daliceq4b296/info/quota", Request{Kind: Info, Version: "1.0", User: alice, Info: "quota",
			Shape: "/{version}/{user}/info/quota", Route: "GET /{version}/{user}/info/quota"}},
		{"GET", "/1.0/daliceq4b296/info/collection_usage", Request{Kind: Info, Version: "1.0", User: alice, Info: "collection_usage",
			Shape: "/{version}/{user}/info/collection_usage", Route: "GET /{version}/{user}/info/collection_usage"}},
		{"GET", "/1.0/daliceq4b296/info/frob", Request{Kind: Info, Version: "1.0", User: alice, Info: "frob",
			Shape: "/{version}/{user}/info/{other}"}},
		{"HEAD", "/1.0/daliceq4b296/info/collections", Request{Kind: Info, Version: "1.0", User: alice, Info: "collections",
			Shape: "/{version}/{user}/info/collections"}},
		{"POST", "/1.0/daliceq4b296/info/collections", Request{Kind: Info, Version: "1.0", User: alice, Info: "collections",
			Shape: "/{version}/{user}/info/collections"}},
		{"GET", "/1.0/daliceq4b296/frob/bookmarks", Request{Kind: Storage, Version: "1.0", User: alice,
			Shape: "/{version}/{user}/{other}"}},
		{"GET", "/1.0/daliceq4b296//storage/bookmarks", Request{Kind: Storage, Version: "1.0", User: alice}},
		{"GET", "/1.0/daliceq4b296/storage", Request{Kind: Storage, Version: "1.0", User: alice, Shape: "/{version}/{user}/storage"}},
		{"DELETE", "/1.0/daliceq4b296/storage", Request{Kind: Storage, Version: "1.0", User: alice, Shape: "/{version}/{user}/storage",
			Route: "DELETE /{version}/{user}/storage", Write: true}},
		{"GET", "/1.0/daliceq4b296/storage/bookmarks", Request{Kind: Storage, Version: "1.0", User: alice, Collection: "bookmarks",
			Shape: "/{version}/{user}/storage/{collection}", Route: "GET /{version}/{user}/storage/{collection}"}},
		{"GET", "/1.0/daliceq4b296/storage/bookmarks/", Request{Kind: Storage, Version: "1.0", User: alice, Collection: "bookmarks",
			Shape: "/{version}/{user}/storage/{collection}", Route: "GET /{version}/{user}/storage/{collection}"}},
		{"GET", "/1.0/daliceq4b296/storage/history?full=1&sort=index&limit=2", Request{Kind: Storage, Version: "1.0", User: alice,
			Collection: "history", Shape: "/{version}/{user}/storage/{collection}", Route: "GET /{version}/{user}/storage/{collection}"}},
		{"POST", "/1.0/daliceq4b296/storage/history", Request{Kind: Storage, Version: "1.0", User: alice, Collection: "history",
			Shape: "/{version}/{user}/storage/{collection}", Route: "POST /{version}/{user}/storage/{collection}", Write: true}},
		{"DELETE", "/1.0/daliceq4b296/storage/history?ids=h1,h2", Request{Kind: Storage, Version: "1.0", User: alice, Collection: "history",
			Shape: "/{version}/{user}/storage/{collection}", Route: "DELETE /{version}/{user}/storage/{collection}", Write: true}},
		{"GET", "/1.0/daliceq4b296/storage/bookmarks/item1", Request{Kind: Storage, Version: "1.0", User: alice, Collection: "bookmarks",
			ID: "item1", Shape: "/{version}/{user}/storage/{collection}/{id}", Route: "GET /{version}/{user}/storage/{collection}/{id}"}},
		{"PUT", "/1.0/daliceq4b296/storage/bookmarks/a%2Fb", Request{Kind: Storage, Version: "1.0", User: alice, Collection: "bookmarks",
			ID: "a/b", Shape: "/{version}/{user}/storage/{collection}/{id}", Route: "PUT /{version}/{user}/storage/{collection}/{id}", Write: true}},
		{"DELETE", "/1.0/daliceq4b296/storage/bookmarks/item2", Request{Kind: Storage, Version: "1.0", User: alice, Collection: "bookmarks",
			ID: "item2", Shape: "/{version}/{user}/storage/{collection}/{id}", Route: "DELETE /{version}/{user}/storage/{collection}/{id}", Write: true}},
		// versions
		{"GET", "/1.1/alice/info/quota", Request{Kind: Info, Version: "1.1", User: "alice", Info: "quota",
			Shape: "/{version}/{user}/info/quota", Route: "GET /{version}/{user}/info/quota"}},
		{"GET", "/1/alice/info/quota", Request{Kind: Info, Version: "1.1", VersionSegment: "1", User: "alice", Info: "quota",
			Shape: "/{version}/{user}/info/quota", Route: "GET /{version}/{user}/info/quota"}},
		{"GET", "/2.0/alice/info/quota", Request{Kind: Unknown}},
		{"GET", "/1.2/alice/info/quota", Request{Kind: Unknown}},
		{"GET", "/1.0", Request{Kind: Storage, Version: "1.0"}},
		// literals are compared as written, variables decoded
		{"GET", "/1.1/%61lice/info/%71uota", Request{Kind: Info, Version: "1.1", User: "alice", Info: "quota",
			Shape: "/{version}/{user}/info/{other}"}},
		{"GET", "/1.1/alice/%73torage/x", Request{Kind: Storage, Version: "1.1", User: "alice", Shape: "/{version}/{user}/{other}"}},
		{"GET", "/1.1/alice/storage/%zz", Request{Kind: Storage, Version: "1.1", User: "alice"}},
		{"GET", "/1.1/%zz/storage/x", Request{Kind: Storage, Version: "1.1"}},
		// dot segments are never a route
		{"GET", "/1.1/alice/storage/..", Request{Kind: Storage, Version: "1.1", User: "alice"}},
		{"GET", "/1.1/alice/storage/%2e%2e/x", Request{Kind: Storage, Version: "1.1", User: "alice"}},
		{"GET", "/1.1/alice/storage/x/%2E", Request{Kind: Storage, Version: "1.1", User: "alice"}},
		{"GET", "/1.1/../info/quota", Request{Kind: Info, Version: "1.1"}},
		{"GET", "/1.1/%2e%2e/info/quota", Request{Kind: Info, Version: "1.1"}},
		{"GET", "/../1.1/alice/info/quota", Request{Kind: Unknown}},
		{"GET", "/1.1/alice/storage/x//", Request{Kind: Storage, Version: "1.1", User: "alice"}},
		{"GET", "/1.1/alice/storage/...", Request{Kind: Storage, Version: "1.1", User: "alice", Collection: "...",
			Shape: "/{version}/{user}/storage/{collection}", Route: "GET /{version}/{user}/storage/{collection}"}},

		// User API, recorded
		{"GET", "/user/1.0/daliceq4b296", Request{Kind: User, Version: "1.0", User: alice, Shape: "/user/{version}/{user}",
			Route: "GET /user/{version}/{user}"}},
		{"GET", "/user/1.0/DALICEQ4B296", Request{Kind: User, Version: "1.0", User: "DALICEQ4B296", Shape: "/user/{version}/{user}",
			Route: "GET /user/{version}/{user}"}},
		{"PUT", "/user/1.0/daliceq4b296", Request{Kind: User, Version: "1.0", User: alice, Shape: "/user/{version}/{user}",
			Route: "PUT /user/{version}/{user}", Write: true}},
		{"PUT", "/user/1.0/bad%20name!", Request{Kind: User, Version: "1.0", User: "bad name!", Shape: "/user/{version}/{user}",
			Route: "PUT /user/{version}/{user}", Write: true}},
		{"DELETE", "/user/1.0/daliceq4b296", Request{Kind: User, Version: "1.0", User: alice, Shape: "/user/{version}/{user}",
			Route: "DELETE /user/{version}/{user}", Write: true}},
		{"GET", "/user/1.0/daliceq4b296/email", Request{Kind: User, Version: "1.0", User: alice, Action: "email",
			Shape: "/user/{version}/{user}/email", Route: "GET /user/{version}/{user}/email"}},
		{"POST", "/user/1.0/daliceq4b296/email", Request{Kind: User, Version: "1.0", User: alice, Action: "email",
			Shape: "/user/{version}/{user}/email", Route: "POST /user/{version}/{user}/email", Write: true}},
		{"POST", "/user/1.0/daliceq4b296/password", Request{Kind: User, Version: "1.0", User: alice, Action: "password",
			Shape: "/user/{version}/{user}/password", Route: "POST /user/{version}/{user}/password", Write: true}},
		{"GET", "/user/1.0/daliceq4b296/frobnicate", Request{Kind: User, Version: "1.0", User: alice, Action: "frobnicate",
			Shape: "/user/{version}/{user}/{other}"}},
		{"GET", "/user/1.0/daliceq4b296/node/weave", Request{Kind: User, Version: "1.0", User: alice, Action: "node/weave",
			Shape: "/user/{version}/{user}/node/weave", Route: "GET /user/{version}/{user}/node/weave"}},
		{"GET", "/user/1.0/daliceq4b296/node", Request{Kind: User, Version: "1.0", User: alice, Action: "node",
			Shape: "/user/{version}/{user}/node", Route: "GET /user/{version}/{user}/node"}},
		{"GET", "/user/1.0/daliceq4b296/password_reset", Request{Kind: User, Version: "1.0", User: alice, Action: "password_reset",
			Shape: "/user/{version}/{user}/password_reset", Route: "GET /user/{version}/{user}/password_reset", Write: true}},
		// a real client registers with a trailing slash
		{"PUT", "/user/1/alice/", Request{Kind: User, Version: "1.0", VersionSegment: "1", User: "alice", Shape: "/user/{version}/{user}",
			Route: "PUT /user/{version}/{user}", Write: true}},
		{"GET", "/user/1/alice/node/weave/", Request{Kind: User, Version: "1.0", VersionSegment: "1", User: "alice", Action: "node/weave",
			Shape: "/user/{version}/{user}/node/weave", Route: "GET /user/{version}/{user}/node/weave"}},
		{"GET", "/user/1.0/tarek@ziade.org", Request{Kind: User, Version: "1.0", User: "tarek@ziade.org", Shape: "/user/{version}/{user}",
			Route: "GET /user/{version}/{user}"}},
		{"GET", "/user/1.0/tarek%40ziade.org", Request{Kind: User, Version: "1.0", User: "tarek@ziade.org", Shape: "/user/{version}/{user}",
			Route: "GET /user/{version}/{user}"}},
		{"GET", "/user/1.0/", Request{Kind: User, Version: "1.0"}},
		{"GET", "/user/1.0", Request{Kind: User, Version: "1.0"}},
		{"GET", "/user/1.0//email", Request{Kind: User, Version: "1.0", Action: "email"}},
		{"GET", "/user/1.0/alice/../bob", Request{Kind: User, Version: "1.0", User: "alice", Action: "../bob"}},
		{"GET", "/user/1.1/alice", Request{Kind: Unknown}},
		{"GET", "/user/alice", Request{Kind: Unknown}},
		// misc, pages, heartbeat
		{"GET", "/misc/1.0/captcha_html", Request{Kind: Misc, Version: "1.0", Shape: "/misc/{version}/captcha_html",
			Route: "GET /misc/{version}/captcha_html"}},
		{"POST", "/misc/1/captcha_html/", Request{Kind: Misc, Version: "1.0", VersionSegment: "1", Shape: "/misc/{version}/captcha_html",
			Route: "POST /misc/{version}/captcha_html"}},
		{"GET", "/misc/1.0/other", Request{Kind: Misc, Version: "1.0"}},
		{"GET", "/weave-password-reset", Request{Kind: ResetPage, Shape: "/weave-password-reset", Route: "GET /weave-password-reset"}},
		{"POST", "/weave-password-reset?key=x", Request{Kind: ResetPage, Shape: "/weave-password-reset",
			Route: "POST /weave-password-reset", Write: true}},
		{"POST", "/weave-delete-account", Request{Kind: ResetPage, Shape: "/weave-delete-account",
			Route: "POST /weave-delete-account", Write: true}},
		{"GET", "/weave-password-reset/", Request{Kind: Unknown}},
		{"GET", "/__heartbeat__", Request{Kind: Heartbeat, Shape: "/__heartbeat__", Route: "GET /__heartbeat__"}},
		{"GET", "/", Request{Kind: Unknown}},
		{"GET", "", Request{Kind: Unknown}},
		{"GET", "1.0/alice/info/quota", Request{Kind: Unknown}},
		{"GET", "/index.php", Request{Kind: Unknown}},
	}
	for _, tt := range tests {
		got := Classify(tt.method, tt.path)
		want := tt.want
		want.Method = tt.method
		if want.VersionSegment == "" && want.Version != "" {
			want.VersionSegment = want.Version
		}
		if want.User != "" {
			want.UserKey = strings.ToLower(want.User)
			if strings.Contains(want.User, "@") {
				want.UserKey = mailKey
			}
		}
		if got != want {
			t.Errorf("Classify(%s %s)\n got %+v\nwant %+v", tt.method, tt.path, got, want)
		}
	}
}

// The example: three spellings of one user are one key.
func TestUserKeyOneUser(t *testing.T) {
	for _, p := range []string{"/1.1/Alice/info/collections", "/1.1/alice/info/collections", "/1.1/%61lice/info/collections",
		"/1.1/%41LICE/storage/x", "/user/1/alice/", "/user/1.0/ALICE/password"} {
		if k := Classify("GET", p).UserKey; k != "alice" {
			t.Errorf("%s: UserKey %q, want alice", p, k)
		}
	}
}

// Every route name is produced by some path, and only route names are.
func TestRoutesReachable(t *testing.T) {
	sample := map[string]string{"{version}": "1.1", "{user}": "alice", "{collection}": "c", "{id}": "i"}
	for _, name := range Routes() {
		method, tmpl, _ := strings.Cut(name, " ")
		p := tmpl
		for k, v := range sample {
			p = strings.ReplaceAll(p, k, v)
		}
		if strings.HasPrefix(p, "/user/") || strings.HasPrefix(p, "/misc/") {
			p = strings.Replace(p, "1.1", "1.0", 1)
		}
		c := Classify(method, p)
		if c.Route != name || !IsRoute(c.Route) || c.Write != RouteWrites(name) {
			t.Errorf("%s: path %s classified as %+v", name, p, c)
		}
	}
	if IsRoute("GET /{version}/{user}/info/quotaa") || RouteWrites("nope") {
		t.Error("a made-up name is a route")
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"/1.0/alice/info/collections", "/user/1/alice/", "/1.1/%61lice/storage/c/%2F",
		"/1.1/alice/storage/%2e%2e", "//", "/misc/1/captcha_html", "/1.0/tarek%40ziade.org/storage/x/y"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		c := Classify(method, path)
		if c.Route != "" && (!IsRoute(c.Route) || c.Route != c.Method+" "+c.Shape) {
			t.Fatalf("route %q for shape %q", c.Route, c.Shape)
		}
		if c.User == "" {
			if c.UserKey != "" {
				t.Fatalf("key %q without a user", c.UserKey)
			}
			return
		}
		if UserKey(c.UserKey) != c.UserKey {
			t.Fatalf("UserKey not stable: %q -> %q", c.UserKey, UserKey(c.UserKey))
		}
		// The key, written back into a path, names the same user.
		again := Classify("GET", "/1.1/"+url.PathEscape(c.UserKey)+"/info/collections")
		if again.UserKey != c.UserKey {
			t.Fatalf("user %q: key %q, through a path %q", c.User, c.UserKey, again.UserKey)
		}
	})
}

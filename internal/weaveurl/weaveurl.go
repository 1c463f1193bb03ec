// Package weaveurl owns the Weave URL grammar: which paths the Weave
// server (PHP or native) answers, which route of the API a request is, and
// whose. The proxy's route table, the rate limiter, the cache invalidation,
// the diff rules and reports, redaction, metrics and the native dispatchers
// all classify through Classify, so a route name, a user key and a budget
// mean the same thing everywhere.
//
// The grammar, on the raw (still percent-encoded) path:
//
//	/{version}/{user}/info/{what}                 version 1.0, 1.1 or 1 (= 1.1)
//	/{version}/{user}/storage[/{collection}[/{id}]]
//	/user/{version}/{user}[/{action}...]          version 1.0 or 1 (= 1.0)
//	/misc/{version}/captcha_html                  version 1.0 or 1
//	/weave-password-reset, /weave-delete-account
//	/__heartbeat__
//
// Rules, the same for every caller:
//   - Segments are split on the raw '/', so an escaped slash (%2F) stays
//     inside its segment; variables ({user}, {collection}, {id}, {what})
//     are then percent-decoded, literals (versions, "storage", "info",
//     actions) are compared as written, as PHP and the mux routers did.
//   - One trailing slash names the same resource (PUT /user/1/<name>/ is
//     how a real client registers); both reference servers ignored it.
//   - Any other empty segment, a "." or ".." segment (raw or decoded), or
//     a variable that does not decode is not a route: Route is empty, Kind
//     still says which API's prefix the path has, so that API answers it
//     with its own error.
//   - An unknown version is Unknown: no server part serves it.
package weaveurl

import (
	"net/url"
	"strings"
)

// Kind is which part of the Weave server a path belongs to, by its prefix.
type Kind string

const (
	Unknown   Kind = "unknown"    // no Weave prefix (or an unknown version)
	Storage   Kind = "storage"    // /{version}/{user}/..., except info
	Info      Kind = "info"       // /{version}/{user}/info/...
	User      Kind = "user"       // /user/{version}/...
	Misc      Kind = "misc"       // /misc/{version}/...
	ResetPage Kind = "reset-page" // /weave-password-reset, /weave-delete-account
	Heartbeat Kind = "heartbeat"  // /__heartbeat__
)

// StorageAPI reports whether k is served by the storage API (info included).
func (k Kind) StorageAPI() bool { return k == Storage || k == Info }

// Request is a classified request. The zero value is not meaningful; use
// Classify.
type Request struct {
	Method string // upper-cased
	Kind   Kind
	// Version is the API version the path asks for, "1.0" or "1.1" ("1"
	// is 1.1 for storage and 1.0 for the User API, as native and PY
	// served it); VersionSegment is the segment as written. Both "" when
	// the path has none.
	Version        string
	VersionSegment string
	// User is the {user} segment percent-decoded ("" when none or when
	// it does not decode); UserKey is UserKey(User), "" with it.
	User    string
	UserKey string
	// Collection, ID and Info ({what} of info/) are percent-decoded.
	Collection string
	ID         string
	Info       string
	// Action is the raw rest of a User API path after the user, without
	// the trailing slash ("", "password", "node/weave", …).
	Action string
	// Shape is the path template ("/{version}/{user}/info/collections",
	// "/{version}/{user}/info/{other}"); "" when the path is not well
	// formed under its prefix. Route is Method+" "+Shape when that is one
	// of Routes(), else "": only routes have names in routes.yaml,
	// metrics and reports.
	Shape string
	Route string
	// Write: the route changes stored state (an account, its password or
	// e-mail, or storage). False for everything that is not a route.
	Write bool
}

// route is one entry of the route list.
type route struct {
	name  string
	write bool
}

const (
	storageP = "/{version}/{user}"
	userP    = "/user/{version}/{user}"
)

// routes lists every route the Weave server answers, in the order
// documentation lists them. Native serves all of them.
var routes = []route{
	{"GET " + userP, false},
	{"PUT " + userP, true},
	{"DELETE " + userP, true},
	{"POST " + userP + "/password", true},
	{"GET " + userP + "/email", false},
	{"POST " + userP + "/email", true},
	{"GET " + userP + "/node", false},
	{"GET " + userP + "/node/weave", false},
	{"GET " + userP + "/password_reset", true}, // stores a reset code
	{"DELETE " + userP + "/password_reset", true},
	{"GET /misc/{version}/captcha_html", false},
	{"POST /misc/{version}/captcha_html", false},
	{"GET /weave-password-reset", false},
	{"POST /weave-password-reset", true},
	{"GET /weave-delete-account", false},
	{"POST /weave-delete-account", true},
	{"GET /__heartbeat__", false},

	{"GET " + storageP + "/info/collections", false},
	{"GET " + storageP + "/info/collection_counts", false},
	{"GET " + storageP + "/info/quota", false},
	{"GET " + storageP + "/info/collection_usage", false},
	{"DELETE " + storageP + "/storage", true},
	{"GET " + storageP + "/storage/{collection}", false},
	{"POST " + storageP + "/storage/{collection}", true},
	{"PUT " + storageP + "/storage/{collection}", true},
	{"DELETE " + storageP + "/storage/{collection}", true},
	{"GET " + storageP + "/storage/{collection}/{id}", false},
	{"PUT " + storageP + "/storage/{collection}/{id}", true},
	{"DELETE " + storageP + "/storage/{collection}/{id}", true},
}

var byName = func() map[string]route {
	m := make(map[string]route, len(routes))
	for _, r := range routes {
		m[r.name] = r
	}
	return m
}()

// Routes lists the names of every route ("METHOD /template"), in a stable
// documentation order. The slice is a copy.
func Routes() []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = r.name
	}
	return out
}

// IsRoute reports whether name is one of Routes().
func IsRoute(name string) bool {
	_, ok := byName[name]
	return ok
}

// RouteWrites reports whether the named route changes stored state; false
// for a name that is not a route.
func RouteWrites(name string) bool { return byName[name].write }

// Classify classifies a request by method and raw path (r.URL.EscapedPath(),
// or a request target; a query is ignored). It never fails: a path
// outside the grammar is Kind Unknown with no Route.
func Classify(method, rawPath string) Request {
	rawPath, _, _ = strings.Cut(rawPath, "?")
	c := Request{Method: strings.ToUpper(method), Kind: Unknown}
	switch rawPath {
	case "/weave-password-reset", "/weave-delete-account":
		c.Kind, c.Shape = ResetPage, rawPath
	case "/__heartbeat__":
		c.Kind, c.Shape = Heartbeat, rawPath
	default:
		segs := strings.Split(strings.TrimPrefix(rawPath, "/"), "/")
		if n := len(segs); n > 1 && segs[n-1] == "" {
			segs = segs[:n-1] // one trailing slash
		}
		if !strings.HasPrefix(rawPath, "/") {
			return c
		}
		switch {
		case segs[0] == "user" && len(segs) >= 2 && (segs[1] == "1.0" || segs[1] == "1"):
			c.classifyUser(segs[1:])
		case segs[0] == "misc" && len(segs) >= 2 && (segs[1] == "1.0" || segs[1] == "1"):
			c.Kind, c.VersionSegment, c.Version = Misc, segs[1], "1.0"
			if len(segs) == 3 && segs[2] == "captcha_html" {
				c.Shape = "/misc/{version}/captcha_html"
			}
		case segs[0] == "1.0" || segs[0] == "1.1" || segs[0] == "1":
			c.classifyStorage(segs)
		}
	}
	if c.Shape != "" {
		if r, ok := byName[c.Method+" "+c.Shape]; ok {
			c.Route, c.Write = r.name, r.write
		}
	}
	return c
}

// userActions are the literal rests of User API paths.
var userActions = map[string]bool{"": true, "password": true, "email": true, "node": true,
	"node/weave": true, "password_reset": true}

// classifyUser: segs is {version}/{user}/{action...}.
func (c *Request) classifyUser(segs []string) {
	c.Kind, c.VersionSegment, c.Version = User, segs[0], "1.0"
	if len(segs) < 2 {
		return
	}
	if len(segs) > 2 {
		c.Action = strings.Join(segs[2:], "/")
	}
	if !c.setUser(segs[1]) || !wellFormed(segs[2:]) {
		return
	}
	switch {
	case c.Action == "":
		c.Shape = userP
	case userActions[c.Action]:
		c.Shape = userP + "/" + c.Action
	default:
		c.Shape = userP + "/{other}"
	}
}

// classifyStorage: segs is {version}/{user}/{function}/....
func (c *Request) classifyStorage(segs []string) {
	c.Kind, c.VersionSegment, c.Version = Storage, segs[0], "1.1"
	if segs[0] == "1.0" {
		c.Version = "1.0"
	}
	if len(segs) < 2 {
		return
	}
	okUser := c.setUser(segs[1])
	rest := segs[2:]
	if len(rest) > 0 && rest[0] == "info" {
		c.Kind = Info
	}
	if !okUser || len(rest) == 0 || !wellFormed(rest) {
		return
	}
	var ok bool
	switch {
	case rest[0] == "info" && len(rest) == 2:
		c.Info, ok = decode(rest[1])
		switch rest[1] { // a literal: %71uota is not quota, as in PHP
		case "collections", "collection_counts", "quota", "collection_usage":
			c.Shape = storageP + "/info/" + rest[1]
		default:
			c.Shape = storageP + "/info/{other}"
		}
	case rest[0] == "storage" && len(rest) == 1:
		c.Shape, ok = storageP+"/storage", true
	case rest[0] == "storage" && len(rest) == 2:
		c.Collection, ok = decode(rest[1])
		c.Shape = storageP + "/storage/{collection}"
	case rest[0] == "storage" && len(rest) == 3:
		var okc, oki bool
		c.Collection, okc = decode(rest[1])
		c.ID, oki = decode(rest[2])
		ok = okc && oki
		c.Shape = storageP + "/storage/{collection}/{id}"
	default:
		c.Shape, ok = storageP+"/{other}", true
	}
	if !ok {
		c.Shape, c.Info, c.Collection, c.ID = "", "", "", ""
	}
}

// setUser decodes the {user} segment; false when it is not a usable one.
func (c *Request) setUser(raw string) bool {
	u, ok := decode(raw)
	if !ok {
		return false
	}
	c.User, c.UserKey = u, UserKey(u)
	return true
}

// decode percent-decodes one variable segment; false for an empty one, one
// that does not decode, or a dot segment.
func decode(seg string) (string, bool) {
	if seg == "" || dot(seg) {
		return "", false
	}
	d, err := url.PathUnescape(seg)
	if err != nil || dot(d) {
		return "", false
	}
	return d, true
}

func dot(s string) bool { return s == "." || s == ".." }

// wellFormed: no empty or dot segment among segs.
func wellFormed(segs []string) bool {
	for _, s := range segs {
		if s == "" || dot(s) {
			return false
		}
		if d, err := url.PathUnescape(s); err == nil && dot(d) {
			return false
		}
	}
	return true
}

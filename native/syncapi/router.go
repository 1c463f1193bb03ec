package syncapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"weaveproxy/native/store"
	"weaveproxy/native/weave"
)

// endpoint names what a route serves.
type endpoint uint8

const (
	epInfoCollections endpoint = iota + 1
	epInfoCounts
	epInfoQuota
	epInfoUsage
	epInfoUnknown // 1.0: info/<anything else>, any method: 400 code 1 as PHP
	epWipe        // DELETE storage
	epPutStorage  // 1.1: PUT storage (no collection): 400 as PY
	epGetCollection
	epPostCollection // POST, and PUT as in PY
	epDeleteCollection
	epGetItem
	epPutItem
	epDeleteItem
)

// routes are the two route tables, built once and shared by every Handler
// bound to another engine (WithEngine). Matching is done on the decoded
// path: an escaped '/' in an id (a%2Fb) becomes a separator and the path
// then matches no route (404), as in the Python server and behind Apache's
// default AllowEncodedSlashes; other escapes are decoded, so an id sent as
// %7Bguid%7D is the id {guid} its POSTed copy carries.
type routes struct {
	legacy, python *mux.Router
	endpoints      map[*mux.Route]endpoint
}

// Path segment patterns. A 1.1 collection name must match the Python
// server's URL pattern; 1.0 accepts any name (the legacy server did, and
// its users may own such collections); the engine checks the length.
const (
	userPattern   = `{user:[^/]*}`
	legacyColl    = `{coll:[^/]+}`
	pythonColl    = `{coll:[a-zA-Z0-9._-]+}`
	idPattern     = `{id:[^/]+}`
	pythonVersion = `{version:1|1\.1}`
	legacyVersion = `1.0`
)

func newRoutes() *routes {
	rs := &routes{endpoints: map[*mux.Route]endpoint{}}
	rs.legacy = rs.table(legacyVersion, legacyColl, true)
	rs.python = rs.table(pythonVersion, pythonColl, false)
	return rs
}

func (rs *routes) table(version, coll string, legacy bool) *mux.Router {
	r := mux.NewRouter().SkipClean(true)
	base := "/" + version + "/" + userPattern
	add := func(path string, ep endpoint, methods ...string) {
		route := r.Path(base + path)
		if len(methods) > 0 {
			route = route.Methods(methods...)
		}
		rs.endpoints[route.HandlerFunc(unreachable)] = ep
	}
	add("/info/collections", epInfoCollections, http.MethodGet)
	add("/info/collection_counts", epInfoCounts, http.MethodGet)
	add("/info/quota", epInfoQuota, http.MethodGet)
	add("/info/collection_usage", epInfoUsage, http.MethodGet)
	if legacy {
		add("/info/{other}", epInfoUnknown)
	}
	add("/storage", epWipe, http.MethodDelete)
	if !legacy {
		add("/storage", epPutStorage, http.MethodPut)
	}
	add("/storage/"+coll, epGetCollection, http.MethodGet)
	add("/storage/"+coll, epPostCollection, http.MethodPost, http.MethodPut)
	add("/storage/"+coll, epDeleteCollection, http.MethodDelete)
	add("/storage/"+coll+"/"+idPattern, epGetItem, http.MethodGet)
	add("/storage/"+coll+"/"+idPattern, epPutItem, http.MethodPut)
	add("/storage/"+coll+"/"+idPattern, epDeleteItem, http.MethodDelete)
	return r
}

// unreachable is the handler the routes carry: mux only matches here, the
// Handler dispatches itself.
func unreachable(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "syncapi: route served directly", http.StatusInternalServerError)
}

// Routing errors. 404 bodies are a JSON string like every other error
// body of this API.
var (
	errNoRoute = &weave.Error{Status: http.StatusNotFound, Message: "Not found",
		Err: errors.New("no such resource")}
	errLegacyMethod = weave.BadRequest(weave.CodeIllegalMethod, "method or function not allowed")
	errEmptyUser    = weave.BadRequest(weave.CodeInvalidUsername, "empty user name in path")
	errPutNoTarget  = weave.BadRequest(weave.CodeIllegalMethod, "PUT without a collection")
)

// dialectOf reads the API version from the first path segment.
func dialectOf(path string) (weave.Dialect, bool) {
	v, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return weave.DialectFor(v)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, known := dialectOf(r.URL.Path)
	if !known {
		d = weave.Python
	}
	now := store.FromTime(h.cfg.Now())
	hd := w.Header()
	// Both servers' clients read these on every answer, errors included.
	hd.Set("X-Weave-Timestamp", d.FormatTimestamp(now))
	hd.Set("Content-Type", "application/json")
	rt := h.routes.python
	if d == weave.Legacy {
		rt = h.routes.legacy
	}
	var m mux.RouteMatch
	r2 := trimSlash(r)
	if !known || !rt.Match(r2, &m) {
		h.rd.Write(w, r, routeError(d, m.MatchErr, r2.URL.Path))
		return
	}
	c := &call{w: w, r: r, d: d, now: now, coll: m.Vars["coll"], id: m.Vars["id"]}
	if err := h.serve(c, h.routes.endpoints[m.Route], m.Vars["user"]); err != nil {
		h.rd.Write(w, r, err)
	}
}

// trimSlash drops one trailing '/' before routing, as the Python server
// did, so storage/bookmarks/ is the collection.
func trimSlash(r *http.Request) *http.Request {
	p := r.URL.Path
	if len(p) < 2 || p[len(p)-1] != '/' {
		return r
	}
	u := *r.URL
	u.Path, u.RawPath = p[:len(p)-1], ""
	r2 := *r
	r2.URL = &u
	return &r2
}

// routeError is the answer when no route takes the request. On 1.0 a
// known path with another method is PHP's 400 code 1 (HEAD, GET storage,
// POST to info/...); on 1.1 it is the Python server's 405, with Allow.
func routeError(d weave.Dialect, matchErr error, path string) error {
	if !errors.Is(matchErr, mux.ErrMethodMismatch) {
		return errNoRoute
	}
	if d == weave.Legacy {
		return errLegacyMethod
	}
	return &weave.Error{Status: http.StatusMethodNotAllowed, Code: weave.CodeIllegalMethod,
		Header: map[string]string{"Allow": allowed(path)}, Err: errors.New("method not allowed")}
}

// allowed lists the methods of a routed path, by its shape after
// /<version>/<user>/.
func allowed(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[2] == "info":
		return "GET"
	case len(parts) == 3:
		return "DELETE, PUT"
	case len(parts) == 4:
		return "DELETE, GET, POST, PUT"
	}
	return "DELETE, GET, PUT"
}

// serve runs the gate checks that need no account, authenticates, then
// runs the endpoint.
func (h *Handler) serve(c *call, ep endpoint, pathUser string) error {
	switch {
	case pathUser == "" && c.d == weave.Legacy:
		return errEmptyUser
	case pathUser == "":
		return errNoRoute
	case ep == epInfoUnknown:
		return errLegacyMethod
	case ep == epPutStorage:
		return errPutNoTarget
	}
	user, err := h.cfg.Auth.Authenticate(c.r, pathUser)
	if err != nil {
		return err
	}
	c.user = user
	if user.Alert != "" {
		// A line break in the stored text must not end the header.
		c.w.Header().Set("X-Weave-Alert", strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, user.Alert))
	}
	return h.endpoint(ep)(c)
}

func (h *Handler) endpoint(ep endpoint) func(*call) error {
	switch ep {
	case epInfoCollections:
		return h.infoCollections
	case epInfoCounts:
		return h.infoCounts
	case epInfoQuota:
		return h.infoQuota
	case epInfoUsage:
		return h.infoUsage
	case epWipe:
		return h.deleteStorage
	case epGetCollection:
		return h.getCollection
	case epPostCollection:
		return h.postCollection
	case epDeleteCollection:
		return h.deleteCollection
	case epGetItem:
		return h.getItem
	case epPutItem:
		return h.putItem
	case epDeleteItem:
		return h.deleteItem
	}
	return func(*call) error { return errNoRoute }
}

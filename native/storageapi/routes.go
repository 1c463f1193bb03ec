package storageapi

import (
	"net/http"
	"strings"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// endpointFunc serves one matched, authenticated request. It writes the
// success answer itself and returns errors for the renderer.
type endpointFunc func(h *Handler, rq *request) error

// methods per route shape. PUT on a collection is a POST, as in the
// Python server.
var routeMethods = map[string]map[string]endpointFunc{
	routeStorage: {http.MethodDelete: (*Handler).deleteStorage},
	routeCollection: {
		http.MethodGet:    (*Handler).getCollection,
		http.MethodPost:   (*Handler).postCollection,
		http.MethodPut:    (*Handler).postCollection,
		http.MethodDelete: (*Handler).deleteCollection,
	},
	routeItem: {
		http.MethodGet:    (*Handler).getItem,
		http.MethodPut:    (*Handler).putItem,
		http.MethodDelete: (*Handler).deleteItem,
	},
}

var infoEndpoints = map[string]endpointFunc{
	"collections":       (*Handler).infoCollections,
	"collection_counts": (*Handler).infoCounts,
	"quota":             (*Handler).infoQuota,
	"collection_usage":  (*Handler).infoUsage,
}

var allowed = map[string]string{
	routeInfo:       "GET",
	routeStorage:    "DELETE",
	routeCollection: "DELETE, GET, POST, PUT",
	routeItem:       "DELETE, GET, PUT",
}

// errIllegal is the legacy answer to a method or function it refused
// (PHP's gate): 400 code 1.
var errIllegal = &weave.Error{Status: http.StatusBadRequest, Code: weave.CodeIllegalMethod}

// endpoint picks the endpoint for a matched route, or the routing error:
// on 1.0 the PHP codes (400 1 for a wrong method, GET /storage, POST to
// info, an unknown info/…); on 1.1 404 and 405 as the Python router. These
// checks come before authentication, as in both servers.
func (h *Handler) endpoint(rq *request, route, what string) (endpointFunc, error) {
	method := rq.r.Method
	var ep endpointFunc
	known := true
	if route == routeInfo {
		ep, known = infoEndpoints[what]
		if method != http.MethodGet {
			ep = nil
		}
	} else {
		ep = routeMethods[route][method]
	}
	switch {
	case rq.d == weave.Legacy && ep == nil:
		return nil, errIllegal
	case !known:
		return nil, errNoRoute
	case ep == nil:
		return nil, &weave.Error{Status: http.StatusMethodNotAllowed, Code: weave.CodeIllegalMethod,
			Header: map[string]string{"Allow": allowed[route]}}
	}
	return ep, nil
}

// target checks the collection and item of the path (weaveurl decoded
// them), after authentication: a bad name is the caller's own business.
func (rq *request) target(c weaveurl.Request) error {
	if strings.Contains(c.Shape, "{collection}") {
		if rq.collection = c.Collection; !validCollection(rq.collection) {
			return weave.BadRequest(weave.CodeInvalidWBO, "invalid collection name %q", c.Collection)
		}
	}
	if strings.Contains(c.Shape, "{id}") {
		// An escaped '/' (%2F) decodes into the id: that is how a URL
		// addresses an item whose id has a '/' (base64 ids).
		if rq.id = c.ID; !weave.ValidID(rq.id) {
			return weave.BadRequest(weave.CodeInvalidWBO, "invalid item id %q", c.ID)
		}
	}
	return nil
}

// maxCollectionBytes is the width of collections.name in the legacy schema.
const maxCollectionBytes = 32

// validCollection is the Python server's URL rule for a collection name
// ([a-zA-Z0-9._-]+), bounded by the legacy column width.
func validCollection(name string) bool {
	if name == "" || len(name) > maxCollectionBytes {
		return false
	}
	return strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-')
	}) < 0
}

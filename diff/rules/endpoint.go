package rules

import (
	"net/url"
	"strings"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
)

// Kind is the API call a request makes, as far as the comparison rules
// care: which fields are timestamps and which lists are ordered depend on it.
type Kind string

const (
	InfoCollections  Kind = "info_collections"
	InfoCounts       Kind = "info_collection_counts"
	InfoQuota        Kind = "info_quota"
	InfoUsage        Kind = "info_collection_usage"
	InfoOther        Kind = "info_other"
	CollectionGet    Kind = "collection_get"
	CollectionPost   Kind = "collection_post"
	CollectionDelete Kind = "collection_delete"
	ItemGet          Kind = "item_get"
	ItemPut          Kind = "item_put"
	ItemDelete       Kind = "item_delete"
	StorageDelete    Kind = "storage_delete"
	StorageOther     Kind = "storage_other"
	UserAPI          Kind = "user"
	Misc             Kind = "misc"
	Other            Kind = "other"
)

// Endpoint is a classified request.
type Endpoint struct {
	Kind   Kind
	Method string
	// Template is the route in the proxy's terms, e.g.
	// "GET /{version}/{user}/storage/{collection}".
	Template string
	Query    url.Values
}

// Sorted reports whether a collection GET asks for an order the API
// defines; without one the database order is unspecified.
func (e Endpoint) Sorted() bool {
	switch e.Query.Get("sort") {
	case "oldest", "newest", "index":
		return true
	}
	return false
}

// SortKey names the WBO field a sorted collection GET is ordered by, ""
// without a defined order.
func (e Endpoint) SortKey() string {
	switch e.Query.Get("sort") {
	case "oldest", "newest":
		return "modified"
	case "index":
		return "sortindex"
	}
	return ""
}

// Descending reports whether the sort is from the highest key down.
func (e Endpoint) Descending() bool { return e.Query.Get("sort") != "oldest" }

// Write reports whether the call changes storage.
func (e Endpoint) Write() bool {
	switch e.Kind {
	case CollectionPost, CollectionDelete, ItemPut, ItemDelete, StorageDelete:
		return true
	}
	return false
}

// Classify names the API call of a raw request target. The path is
// classified by internal/weaveurl, so the template is the proxy's route
// name and replayed and shadowed pairs of one route land in one row.
func Classify(method, target string) Endpoint {
	rawPath, rawQuery, _ := strings.Cut(target, "?")
	q, _ := url.ParseQuery(rawQuery)
	c := weaveurl.Classify(method, rawPath)
	e := Endpoint{Kind: Other, Method: c.Method, Query: q, Template: c.Method + " (other)"}
	if c.Shape == "" {
		return e
	}
	e.Template = c.Method + " " + c.Shape
	switch c.Kind {
	case weaveurl.User:
		e.Kind = UserAPI
	case weaveurl.Misc:
		e.Kind = Misc
	case weaveurl.Info:
		e.Kind = infoKinds[c.Info]
		if e.Kind == "" || c.Method != "GET" || strings.HasSuffix(c.Shape, "{other}") {
			e.Kind = InfoOther
		}
	case weaveurl.Storage:
		e.Kind = storageKinds[c.Method+" "+strings.TrimPrefix(c.Shape, "/{version}/{user}/")]
		if e.Kind == "" && !strings.HasSuffix(c.Shape, "{other}") {
			e.Kind = StorageOther
		}
		if e.Kind == "" {
			e.Kind = Other
		}
	}
	return e
}

var infoKinds = map[string]Kind{"collections": InfoCollections, "collection_counts": InfoCounts,
	"quota": InfoQuota, "collection_usage": InfoUsage}

// storageKinds by method and shape below /{version}/{user}/. PUT on a
// collection is a POST, as native serves it.
var storageKinds = map[string]Kind{
	"DELETE storage":                   StorageDelete,
	"GET storage/{collection}":         CollectionGet,
	"POST storage/{collection}":        CollectionPost,
	"PUT storage/{collection}":         CollectionPost,
	"DELETE storage/{collection}":      CollectionDelete,
	"GET storage/{collection}/{id}":    ItemGet,
	"PUT storage/{collection}/{id}":    ItemPut,
	"DELETE storage/{collection}/{id}": ItemDelete,
}

// RouteOf names the route of a request in the proxy's terms. Replays,
// which have no route table, group their pairs by it.
func RouteOf(method, target string) string { return Classify(method, target).Template }

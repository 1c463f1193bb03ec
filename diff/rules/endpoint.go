package rules

import (
	"net/url"
	"strings"
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

// Classify names the API call of a raw request target.
func Classify(method, target string) Endpoint {
	method = strings.ToUpper(method)
	rawPath, rawQuery, _ := strings.Cut(target, "?")
	q, _ := url.ParseQuery(rawQuery)
	e := Endpoint{Kind: Other, Method: method, Query: q, Template: method + " (other)"}
	segs := strings.Split(strings.TrimPrefix(rawPath, "/"), "/")
	// A trailing slash names the same resource (PHP ignores it); an empty
	// segment anywhere else is a malformed path.
	if n := len(segs); n > 1 && segs[n-1] == "" {
		segs = segs[:n-1]
	}
	for _, s := range segs {
		if s == "" {
			return e
		}
	}
	switch {
	case len(segs) >= 2 && segs[0] == "user":
		e.Kind = UserAPI
		// Named as the proxy's route table names them, so replayed and
		// shadowed pairs of one route land in one row of the report.
		e.Template = method + " /user/" + segs[1]
		if isUserVersion(segs[1]) {
			e.Template = method + " /user/{version}"
		}
		if len(segs) >= 3 {
			e.Template += "/{user}"
		}
		if len(segs) >= 4 {
			e.Template += "/" + strings.Join(segs[3:], "/")
		}
	case len(segs) >= 2 && segs[0] == "misc":
		e.Kind = Misc
		e.Template = method + " " + rawPath
	case len(segs) >= 3 && isVersion(segs[0]):
		classifyStorage(&e, segs[2:])
	}
	return e
}

func isVersion(s string) bool { return s == "1.0" || s == "1.1" || s == "1" }

func isUserVersion(s string) bool { return s == "1.0" || s == "1" }

func classifyStorage(e *Endpoint, rest []string) {
	base := e.Method + " /{version}/{user}/"
	m := e.Method
	switch {
	case rest[0] == "info" && len(rest) == 2:
		e.Template = base + "info/" + rest[1]
		switch {
		case m != "GET":
			e.Kind = InfoOther
		case rest[1] == "collections":
			e.Kind = InfoCollections
		case rest[1] == "collection_counts":
			e.Kind = InfoCounts
		case rest[1] == "quota":
			e.Kind = InfoQuota
		case rest[1] == "collection_usage":
			e.Kind = InfoUsage
		default:
			e.Kind = InfoOther
			e.Template = base + "info/{other}"
		}
	case rest[0] == "storage" && len(rest) == 1:
		e.Template = base + "storage"
		e.Kind = StorageOther
		if m == "DELETE" {
			e.Kind = StorageDelete
		}
	case rest[0] == "storage" && len(rest) == 2:
		e.Template = base + "storage/{collection}"
		e.Kind = map[string]Kind{"GET": CollectionGet, "POST": CollectionPost,
			"PUT": CollectionPost, "DELETE": CollectionDelete}[m]
	case rest[0] == "storage" && len(rest) == 3:
		e.Template = base + "storage/{collection}/{id}"
		e.Kind = map[string]Kind{"GET": ItemGet, "PUT": ItemPut, "DELETE": ItemDelete}[m]
	default:
		e.Template = base + "{other}"
	}
	if e.Kind == "" {
		e.Kind = StorageOther
	}
}

// RouteOf names the route of a request in the proxy's terms. Replays,
// which have no route table, group their pairs by it.
func RouteOf(method, target string) string { return Classify(method, target).Template }

package main

import (
	"net/http"
	"strings"
)

// pathUser finds the account a Weave request is about: the second segment
// of /<version>/<user>/... and the third of /user/<version>/<user>/... .
// Rate budgets and cache invalidation key on it.
func pathUser(r *http.Request) string {
	seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case len(seg) >= 3 && (seg[0] == "user" || seg[0] == "misc"):
		return seg[2]
	case len(seg) >= 2 && (seg[0] == "1.0" || seg[0] == "1.1" || seg[0] == "1"):
		return seg[1]
	}
	return ""
}

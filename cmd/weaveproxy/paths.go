package main

import (
	"net/http"
	"strings"

	"weaveproxy/native/cef"
	"weaveproxy/native/ratelimit"
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

// budgetOf names the budget a request spends: account creation (PUT
// /user/<version>/<user>) spends its client address's registration
// budget, whatever mode answers it; other requests their user's.
func budgetOf(r *http.Request) (class, key string) {
	seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if r.Method == http.MethodPut && len(seg) == 3 && seg[0] == "user" && seg[2] != "" {
		return ratelimit.ClassRegister, cef.ClientAddr(r, false)
	}
	return ratelimit.ByUser(pathUser)(r)
}

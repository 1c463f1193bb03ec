package weaveurl

import (
	"net/url"
	"strings"
)

// HasDotSegment reports whether rawPath (still percent-encoded) holds a
// "." or ".." segment, as written or once decoded: "/1.0/../user",
// "/1.0/%2e%2e/user", and "/x/..%2fuser", whose decoded form a web server
// behind the proxy might split on the decoded '/'. Such a path names a
// different resource to each server that normalises it, so the route
// table, budgets and user checks could be bypassed: it is refused before
// routing.
func HasDotSegment(rawPath string) bool {
	rawPath, _, _ = strings.Cut(rawPath, "?")
	if dotIn(rawPath) {
		return true
	}
	if !strings.Contains(rawPath, "%") {
		return false
	}
	dec, err := url.PathUnescape(rawPath)
	return err != nil && strings.Contains(strings.ToLower(rawPath), "%2e") || err == nil && dotIn(dec)
}

// dotIn: a '/'- or '\'-separated segment is "." or ".." (PHP on Windows
// and some servers treat '\' as a separator too).
func dotIn(p string) bool {
	for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

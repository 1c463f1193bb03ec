package routes

import (
	"strings"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
)

// The API routes the proxy knows without being told are exactly the
// routes of the Weave URL grammar (internal/weaveurl): routes.yaml's
// `default` mode applies to those the file does not list. Any other path
// is not an API route and always goes to legacy, so the legacy server's
// answers to odd paths (PHP quirks) stay as they were.

// BuiltinNames lists the API routes the proxy knows, for documentation
// and for `routes promote` style tooling.
func BuiltinNames() []string { return weaveurl.Routes() }

// knownRoutes lists, for an error message, the route names of method (all
// of them when the method has none).
func knownRoutes(method string) string {
	var same []string
	for _, name := range weaveurl.Routes() {
		if strings.HasPrefix(name, method+" ") {
			same = append(same, name)
		}
	}
	if len(same) == 0 {
		return "known routes: " + strings.Join(weaveurl.Routes(), ", ")
	}
	return "known " + method + " routes: " + strings.Join(same, ", ")
}

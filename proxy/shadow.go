package proxy

import (
	"net/http"

	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// Shadower serves the requests of routes in shadow mode. The shadow
// package implements it.
//
// Contract:
//   - The client must get legacy's answer: ServeShadow calls call.Legacy
//     exactly once, synchronously, with w (or a writer passing everything
//     through to w) and r, or a copy of r with the same method, URL,
//     headers and body. call.Legacy handles the breaker, the byte-exact
//     forwarding and the cache invalidation after writes; the proxy reads
//     its outcome for metrics once ServeShadow returns.
//   - To compare, ServeShadow needs the request body twice, so it buffers
//     it (bounded: a body over the limit is streamed to legacy and not
//     compared).
//   - call.Native applies writes for real against the shared database:
//     run it for reads only (GET). For writes use call.NativeDryRun (nil
//     when not configured), and only when call.Route.ShadowWrites.
//   - Whatever runs after the client's answer must not hold on to w or r.
type Shadower interface {
	ServeShadow(w http.ResponseWriter, r *http.Request, call ShadowCall)
}

// ShadowCall is what a Shadower gets for one request.
type ShadowCall struct {
	// Route is the matched route: Route.Match names it, ShadowWrites and
	// Diff (the route's free-form diff: block) configure the comparison.
	Route *routes.Route
	// User is the key of the path's user (weaveurl.UserKey: lower-cased,
	// an e-mail as its derived account name), "" when none.
	User string
	// Legacy forwards to the legacy server; its answer is the client's.
	Legacy http.Handler
	// Native is the native server; it applies writes.
	Native http.Handler
	// NativeDryRun runs a request natively as a dry run (a snapshot of
	// the database plus the request's writes in memory, nothing kept);
	// nil when the proxy has none.
	NativeDryRun http.Handler
}

// DefaultMaxCapture bounds the bodies a shadow comparison keeps (the
// Weave batch limit is 1 MiB).
const DefaultMaxCapture = 4 << 20

// legacyOnly is the Shadower of a proxy given none: the client gets
// legacy's answer and nothing is compared.
type legacyOnly struct{}

func (legacyOnly) ServeShadow(w http.ResponseWriter, r *http.Request, call ShadowCall) {
	call.Legacy.ServeHTTP(w, r)
}

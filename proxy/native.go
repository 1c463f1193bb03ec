package proxy

import (
	"net/http"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/capture"
	"github.com/weaveproxy/weaveproxy/proxy/metrics"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// serveNative answers r natively. A GET on a route with fallback is
// buffered so that a 5xx (or a panic) can still be replaced by legacy's
// answer; everything else streams. It reports whether native answered.
func (p *Proxy) serveNative(w http.ResponseWriter, r *http.Request, m routes.Match, legacy http.Handler) bool {
	if !m.Route.Fallback || r.Method != http.MethodGet {
		p.cfg.Native.ServeHTTP(w, r)
		return true
	}
	// Legacy must get the same request if native fails, body included
	// (a GET body is unusual, and kept only when small).
	body, complete := capture.ReadBody(r, maxFallbackBody)
	if !complete {
		p.cfg.Native.ServeHTTP(w, r)
		return true
	}
	buf := capture.NewBuffer(-1)
	start := time.Now()
	// Native answers the client here: an abort stays an abort.
	err := capture.Serve(p.cfg.Native, buf, capture.Replay(r, body))
	failed := err != nil
	if failed {
		p.log.Error("native handler panicked", "route", m.Route.Match, "err", err)
	}
	if failed || buf.Status() >= 500 {
		p.metrics.Fallbacks.WithLabelValues(metrics.Route(m.Route.Match)).Inc()
		p.log.Warn("native failed, answering from legacy", "route", m.Route.Match,
			"status", buf.Status(), "native_duration", time.Since(start))
		legacy.ServeHTTP(w, capture.Replay(r, body))
		return false
	}
	buf.CopyTo(w)
	return true
}

// maxFallbackBody bounds the request body kept to retry a read on legacy.
const maxFallbackBody = 64 << 10

// Package admin is the proxy's admin API, served on its own listener
// (--admin-listen, loopback by default) so it is never reachable through
// the public Sync port:
//
//	GET  /routes         the table in force, breaker state, last reload (JSON)
//	POST /routes/reload  re-read routes.yaml now (200 + table, or 422 + problems)
//	GET  /metrics        Prometheus metrics
//	GET  /healthz        the process is alive
//	GET  /readyz         every readiness check passes (database, legacy)
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weaveproxy/weaveproxy/proxy"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// Proxy is what the admin API needs from the proxy (*proxy.Proxy).
type Proxy interface {
	Status() proxy.Status
	Reload(ctx context.Context) error
}

// Check is one readiness check, such as the database's Ping or the
// proxy's LegacyReady.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// Config configures the admin handler.
type Config struct {
	Proxy    Proxy               // required
	Gatherer prometheus.Gatherer // the registry given to proxy.New; nil: no /metrics
	Ready    []Check             // all must pass for /readyz
	// ReadyTimeout bounds each readiness check (default 2s).
	ReadyTimeout time.Duration
	Logger       *slog.Logger
}

type handler struct {
	cfg Config
	log *slog.Logger
	// notReady remembers the last /readyz outcome, so that the log says
	// when readiness is lost and when it comes back, once each.
	notReady atomic.Bool
}

// New returns the admin handler.
func New(cfg Config) http.Handler {
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	h := &handler{cfg: cfg, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /routes", h.routes)
	mux.HandleFunc("POST /routes/reload", h.reload)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", h.ready)
	if cfg.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

func (h *handler) routes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.cfg.Proxy.Status())
}

// reloadError is the body of a refused reload.
type reloadError struct {
	Error    string           `json:"error"`
	Problems []routes.Problem `json:"problems,omitempty"`
}

func (h *handler) reload(w http.ResponseWriter, r *http.Request) {
	if err := h.cfg.Proxy.Reload(r.Context()); err != nil {
		body := reloadError{Error: err.Error()}
		var pe *routes.ParseError
		if errors.As(err, &pe) {
			body.Problems = pe.Problems
		}
		writeJSON(w, http.StatusUnprocessableEntity, body)
		return
	}
	writeJSON(w, http.StatusOK, h.cfg.Proxy.Status())
}

// checkResult is one readiness check's outcome.
type checkResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// ready runs every check at once, each under ReadyTimeout.
func (h *handler) ready(w http.ResponseWriter, r *http.Request) {
	results := make([]checkResult, len(h.cfg.Ready))
	var wg sync.WaitGroup
	for i, c := range h.cfg.Ready {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), h.cfg.ReadyTimeout)
			defer cancel()
			results[i] = checkResult{Name: c.Name, OK: true}
			if err := c.Func(ctx); err != nil {
				results[i] = checkResult{Name: c.Name, Error: err.Error()}
			}
		})
	}
	wg.Wait()
	status, code := "ready", http.StatusOK
	var failed []any
	for _, res := range results {
		if !res.OK {
			status, code = "not ready", http.StatusServiceUnavailable
			failed = append(failed, res.Name, res.Error)
		}
	}
	switch was := h.notReady.Swap(failed != nil); {
	case failed != nil && !was:
		h.log.Warn("not ready", failed...)
	case failed == nil && was:
		h.log.Info("ready again")
	}
	writeJSON(w, code, struct {
		Status string        `json:"status"`
		Checks []checkResult `json:"checks"`
	}{status, results})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

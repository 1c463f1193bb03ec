package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weaveproxy/weaveproxy/native/ratelimit"
)

// buildNativeOnly finishes a server with no routes.yaml: the native server
// answers everything, behind the guard (credentials, lockout, budgets),
// and the admin listener offers health and metrics.
func buildNativeOnly(f *serveFlags, log *slog.Logger, a *app, np *nativeParts) error {
	a.handler = np.guard.Handler(np.server)
	a.admin = nativeAdmin(np)
	return nil
}

// limiter builds the request budgets, shared through memcache when it is
// configured; nil when every budget is off.
func limiter(f *serveFlags, np *nativeParts) *ratelimit.Limiter {
	if f.rateReads < 0 && f.rateWrites < 0 && f.rateRegister < 0 {
		return nil
	}
	cfg := ratelimit.Config{
		Read:     ratelimit.Budget{Limit: int64(f.rateReads)},
		Write:    ratelimit.Budget{Limit: int64(f.rateWrites)},
		Register: ratelimit.Budget{Limit: int64(f.rateRegister)},
		Metrics:  np.registry, Logger: np.log,
		// The counter store logs its own changes of state.
		OnStoreError: func(err error) { np.log.Debug("ratelimit: counter store", "err", err) },
	}
	return ratelimit.New(np.counters, cfg, np.events)
}

// nativeAdmin serves /healthz, /readyz and /metrics for a native-only
// server; the proxy has a richer admin API of its own.
func nativeAdmin(np *nativeParts) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(np.registry, promhttp.HandlerOpts{}))
	mux.Handle("POST /users/{name}/unlock", unlockHandler(np))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := np.base.Ping(ctx); err != nil {
			http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}

// unlockHandler lifts a lockout from the admin API: the only way to reach
// counters that live in this process's memory.
func unlockHandler(np *nativeParts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := np.lockout.Unlock(r.Context(), name); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write([]byte("unlocked\n"))
	})
}

// Package proxy is the strangler: an http.Handler that sends each request
// of the Weave API to the legacy PHP server or to the native Go handlers
// according to routes.yaml (package routes), forwards to legacy byte for
// byte through a circuit breaker (package forward), hands shadow-mode
// requests to a Shadower, invalidates the native cache after legacy writes,
// and reloads its table without dropping a request.
//
// Typical wiring (cmd/weaveproxy serve):
//
//	table, err := routes.Load("routes.yaml")
//	reg := prometheus.NewRegistry()
//	p, err := proxy.New(proxy.Config{Table: table, Native: nativeHandler,
//		Invalidator: cache, Logger: log, Metrics: reg})
//	go p.Watch(ctx)                    // file watch + SIGHUP
//	public := &http.Server{Handler: p}
//	adminSrv := &http.Server{Handler: admin.New(admin.Config{Proxy: p, Gatherer: reg,
//		Ready: []admin.Check{{Name: "database", Func: db.Ping}, {Name: "legacy", Func: p.LegacyReady}}})}
package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
	"github.com/weaveproxy/weaveproxy/proxy/forward"
	"github.com/weaveproxy/weaveproxy/proxy/metrics"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// Invalidator drops whatever the native side caches for a user. The proxy
// calls it after a write forwarded to legacy, before the client has the
// whole answer, so the client's next (native) read is fresh. It must be
// safe for concurrent use; the context carries a deadline.
type Invalidator interface {
	InvalidateUser(ctx context.Context, username string)
}

// Guard admits or refuses a request before the proxy routes it. Admit
// returns the request to route (it may carry what the guard learnt, such
// as verified credentials) and true, or false once it has answered w
// itself. The native server's guard (native/guard) is wired in cmd.
type Guard interface {
	Admit(w http.ResponseWriter, r *http.Request) (*http.Request, bool)
}

// Config is everything New needs. Table is required; Native is required
// as soon as a route (or the default) is not legacy.
type Config struct {
	// Table is the parsed routes file (routes.Load). Its Source is the
	// file Reload and Watch re-read; a table parsed from bytes cannot
	// be reloaded.
	Table *routes.Table
	// Native serves native-mode requests (the Go Weave server).
	Native http.Handler
	// NativeDryRun, if set, runs a request natively as a dry run that
	// keeps nothing (store.Engine.DryRun); shadow mode uses it to compare
	// writes without applying them twice.
	NativeDryRun http.Handler
	// Shadow serves shadow-mode routes; nil: legacy answers them alone and
	// nothing is compared.
	Shadow Shadower
	// Invalidator is called after legacy writes; nil: no cache, no-op.
	Invalidator Invalidator
	// Guard checks every request before it is routed, whatever its mode
	// (credentials, lockout, rate budgets); nil admits everything.
	Guard Guard
	// Logger; nil discards.
	Logger *slog.Logger
	// Metrics registers the proxy's collectors; nil: not exported.
	Metrics prometheus.Registerer
	// InvalidateTimeout bounds one InvalidateUser call (default 2s).
	InvalidateTimeout time.Duration
	// WatchDebounce groups the burst of file events one save makes
	// (default 100ms).
	WatchDebounce time.Duration
}

// Proxy is the strangler handler. Create it with New.
type Proxy struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics.Metrics
	shadow  Shadower

	state    atomic.Pointer[state] // the table in force and its upstream
	reloadMu sync.Mutex            // one reload at a time
	editMu   sync.Mutex            // one SetMode file edit at a time
	last     atomic.Pointer[ReloadStatus]
	fileSum  [32]byte // content of the last file read, under reloadMu

	onWatchReady func() // tests: the watch loop is listening
}

// state is what one request runs on, from start to end, even if a reload
// swaps in another one meanwhile.
type state struct {
	table    *routes.Table
	legacy   *forward.Upstream
	loadedAt time.Time
}

// ErrNoNative is returned for a table that sends requests to a native
// side the proxy was not given.
var ErrNoNative = errors.New("proxy: routes use native, shadow or canary but no native handler is configured")

// New builds the proxy and its legacy upstream. It does not start the
// file watch; run Watch for that.
func New(cfg Config) (*Proxy, error) {
	if cfg.Table == nil {
		return nil, errors.New("proxy: Config.Table is required")
	}
	if cfg.InvalidateTimeout <= 0 {
		cfg.InvalidateTimeout = 2 * time.Second
	}
	if cfg.WatchDebounce <= 0 {
		cfg.WatchDebounce = 100 * time.Millisecond
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger, shadow: cfg.Shadow}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.shadow == nil {
		p.shadow = legacyOnly{}
	}
	if err := p.check(cfg.Table); err != nil {
		return nil, err
	}
	m, err := metrics.New(cfg.Metrics, func() string { return p.state.Load().legacy.State() })
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p.metrics = m
	if src := cfg.Table.Source; src != "" {
		if b, err := os.ReadFile(src); err == nil {
			p.fileSum = sha256.Sum256(b)
		}
	}
	p.swap(cfg.Table)
	return p, nil
}

func (p *Proxy) check(t *routes.Table) error {
	if p.cfg.Native == nil && t.UsesNative() {
		return ErrNoNative
	}
	return nil
}

// swap puts t in force. The legacy upstream (connections, breaker state)
// is kept when its configuration did not change.
func (p *Proxy) swap(t *routes.Table) {
	old := p.state.Load()
	st := &state{table: t, loadedAt: time.Now()}
	if old != nil && old.legacy.Config() == t.Legacy {
		st.legacy = old.legacy
	} else {
		st.legacy = forward.New(t.Legacy, forward.Options{Logger: p.log, OnStateChange: func(_, to string) {
			p.metrics.BreakerTransitions.WithLabelValues("legacy", to).Inc()
		}})
	}
	p.state.Store(st)
	if old != nil && old.legacy != st.legacy {
		old.legacy.Close() // idle connections only; requests in flight finish
	}
	p.metrics.Table.Reset()
	p.metrics.Table.WithLabelValues(t.Hash()).Set(1)
	p.metrics.RouteMode.Reset()
	for _, rt := range t.Routes {
		p.metrics.RouteMode.WithLabelValues(metrics.Route(rt.Match), string(rt.Mode)).Set(1)
	}
}

// Table is the routes table in force.
func (p *Proxy) Table() *routes.Table { return p.state.Load().table }

// LegacyReady checks that legacy answers; for the admin /readyz.
func (p *Proxy) LegacyReady(ctx context.Context) error { return p.state.Load().legacy.Ping(ctx) }

// Close releases the upstream's idle connections.
func (p *Proxy) Close() error {
	p.state.Load().legacy.Close()
	return nil
}

// ServeHTTP routes one request on the table in force when it arrived.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := p.state.Load()
	m := st.table.Match(r)
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	side := "proxy"
	if r, ok := p.admit(sw, r); ok {
		side = p.dispatch(sw, r, st, m)
	}
	route, mode := metrics.Route(m.Name()), string(m.Mode())
	p.metrics.Requests.WithLabelValues(route, mode, side, strconv.Itoa(sw.code())).Inc()
	p.metrics.Duration.WithLabelValues(route, mode, side).Observe(time.Since(start).Seconds())
}

// InvalidPathBody is the 400 answer to a path with a dot segment.
const InvalidPathBody = `"invalid path"`

// admit refuses paths with "." or ".." segments (raw or percent-encoded)
// before routing: legacy would normalise them into another route than the
// one the table, the budgets and the user checks saw. Then the guard has
// its say. Like Guard.Admit, it returns the request to route, or false
// once it has answered w.
func (p *Proxy) admit(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if weaveurl.HasDotSegment(r.URL.EscapedPath()) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(InvalidPathBody))
		return nil, false
	}
	if p.cfg.Guard == nil {
		return r, true
	}
	return p.cfg.Guard.Admit(w, r)
}

// dispatch serves r and returns the metrics side label: legacy, native,
// or proxy when the proxy answered itself (legacy unreachable).
func (p *Proxy) dispatch(w http.ResponseWriter, r *http.Request, st *state, m routes.Match) string {
	var res forward.Result
	legacy := p.legacyHandler(st, &res)
	switch m.Side() {
	case routes.SideNative:
		if p.serveNative(w, r, m, legacy) {
			return "native"
		}
	case routes.SideShadow:
		p.shadow.ServeShadow(w, r, ShadowCall{Route: m.Route, User: m.User, Legacy: legacy,
			Native: p.cfg.Native, NativeDryRun: p.cfg.NativeDryRun})
	default:
		legacy.ServeHTTP(w, r)
	}
	if res.Synthetic {
		return "proxy"
	}
	return "legacy"
}

// legacyHandler forwards to st's upstream, records the outcome in res and
// invalidates the user's native cache after a write that may have been
// applied.
func (p *Proxy) legacyHandler(st *state, res *forward.Result) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, write := st.table.WriteUser(r)
		st.legacy.Forward(w, r, func(out forward.Result) {
			*res = out
			if write && mayHaveWritten(out) {
				p.invalidate(r.Context(), user)
			}
		})
	})
}

// mayHaveWritten is false only when legacy certainly changed nothing: the
// request never reached it, or it refused it (4xx). Errors and 5xx are
// ambiguous, and a needless invalidation costs one cache miss.
func mayHaveWritten(res forward.Result) bool {
	if !res.Reached {
		return false
	}
	return res.Err != nil || res.Status < 400 || res.Status >= 500
}

func (p *Proxy) invalidate(ctx context.Context, user string) {
	if p.cfg.Invalidator == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.InvalidateTimeout)
	defer cancel()
	p.cfg.Invalidator.InvalidateUser(ctx, user)
	p.metrics.Invalidations.Inc()
}

// statusWriter remembers the status for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK // handler wrote nothing: net/http sends 200
	}
	return s.status
}

// Package metrics holds the proxy's Prometheus collectors. They are
// registered on the registry the caller passes (never the global default),
// so two proxies in one process, or in one test binary, do not collide.
package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
)

// Unmatched is the route label of every request that is no Weave route.
const Unmatched = "unmatched"

// Route is the route label for a route name: the name when it is one of
// the Weave routes (internal/weaveurl), Unmatched otherwise. The label's
// values are thus the route list, whatever a caller passes, and match
// routes.yaml, budgets and report rows by construction.
func Route(name string) string {
	if weaveurl.IsRoute(name) {
		return name
	}
	return Unmatched
}

// BreakerStates maps a breaker state name to the gauge value.
var BreakerStates = map[string]float64{"closed": 0, "half-open": 1, "open": 2}

// Metrics are the proxy's collectors. The route label is the route's
// "METHOD /template" name (or "unmatched"), never the raw path, so
// cardinality stays bounded.
type Metrics struct {
	// Requests by route, configured mode, side that answered (legacy,
	// native, or proxy for the proxy's own 503s) and status code.
	Requests *prometheus.CounterVec
	// Duration of requests by route, mode and side.
	Duration *prometheus.HistogramVec
	// Fallbacks counts native 5xx answers replaced by legacy's, by route.
	Fallbacks *prometheus.CounterVec
	// Invalidations counts user cache invalidations after legacy writes.
	Invalidations prometheus.Counter
	// Reloads counts routes.yaml reloads by result (success, failure).
	Reloads *prometheus.CounterVec
	// RouteMode is 1 for each listed route's current mode.
	RouteMode *prometheus.GaugeVec
	// BreakerTransitions counts breaker state changes by target state.
	BreakerTransitions *prometheus.CounterVec
	// Table is 1 for the hash of the routes table in force
	// (routes.Table.Hash): several proxies agree when they show one hash.
	Table *prometheus.GaugeVec
}

// New creates the collectors and registers them on reg (nil: not
// registered, still usable). breakerState reports the legacy breaker's
// current state name at scrape time.
func New(reg prometheus.Registerer, breakerState func() string) (*Metrics, error) {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weaveproxy_requests_total",
			Help: "Requests by route, configured mode, answering side and status.",
		}, []string{"route", "mode", "side", "status"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "weaveproxy_request_duration_seconds",
			Help:    "Request latency by route, configured mode and answering side.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "mode", "side"}),
		Fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weaveproxy_fallbacks_total",
			Help: "Native 5xx answers to reads replaced by legacy's answer.",
		}, []string{"route"}),
		Invalidations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weaveproxy_cache_invalidations_total",
			Help: "Native cache invalidations after writes forwarded to legacy.",
		}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weaveproxy_route_reloads_total",
			Help: "routes.yaml reloads by result.",
		}, []string{"result"}),
		RouteMode: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weaveproxy_route_mode",
			Help: "1 for the mode in force of each route listed in routes.yaml.",
		}, []string{"route", "mode"}),
		BreakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weaveproxy_breaker_transitions_total",
			Help: "Legacy circuit breaker state changes by new state.",
		}, []string{"upstream", "to"}),
		Table: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weaveproxy_routes_table",
			Help: "1 for the hash of the routes table in force; proxies serving the same table show the same hash.",
		}, []string{"hash"}),
	}
	for _, res := range []string{"success", "failure"} {
		m.Reloads.WithLabelValues(res)
	}
	state := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "weaveproxy_breaker_state",
		Help:        "Legacy circuit breaker state: 0 closed, 1 half-open, 2 open.",
		ConstLabels: prometheus.Labels{"upstream": "legacy"},
	}, func() float64 { return BreakerStates[breakerState()] })
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.Requests, m.Duration, m.Fallbacks, m.Invalidations,
		m.Reloads, m.RouteMode, m.BreakerTransitions, m.Table, state} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return m, nil
}

package shadow

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the shadow side's collectors. Route labels are route names
// ("METHOD /template"), so their number is the number of routes.
type metrics struct {
	requests *prometheus.CounterVec // shadow-mode requests by route: what pairs+skipped+dropped add up to
	pairs    *prometheus.CounterVec // compared pairs by route and class
	dropped  *prometheus.CounterVec // pairs refused by the queue, by route and reason
	skipped  *prometheus.CounterVec // requests not compared, by route and reason
	errors   *prometheus.CounterVec // failures of the comparison machinery, by stage
	dryRun   *prometheus.HistogramVec
	repeated prometheus.Counter // reads sent to legacy a second time
}

func newMetrics(reg prometheus.Registerer, q *queue) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weaveproxy_shadow_requests_total",
			Help: "Requests served in shadow mode, by route; weaveproxy_shadow_pairs_total over it is the share compared (coverage), the rest is in weaveproxy_shadow_skipped_total and weaveproxy_shadow_dropped_total with their reasons.",
		}, []string{"route"}),
		pairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weaveproxy_shadow_pairs_total",
			Help: "Shadow pairs compared and stored, by route and class.",
		}, []string{"route", "class"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weaveproxy_shadow_dropped_total",
			Help: "Shadow pairs dropped without comparison because the comparison queue was full or they waited too long for a worker (too_old), by route and reason.",
		}, []string{"route", "reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weaveproxy_shadow_skipped_total",
			Help: "Shadow-mode requests not compared, by route and reason.",
		}, []string{"route", "reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weaveproxy_shadow_errors_total",
			Help: "Failures of the shadow comparison (rules, store), by stage.",
		}, []string{"stage"}),
		dryRun: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "weaveproxy_shadow_dry_run_seconds",
			Help:    "Time a shadowed write waits for its native dry run's snapshot before legacy gets it.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"route"}),
		repeated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weaveproxy_shadow_legacy_repeats_total",
			Help: "Reads sent to legacy a second time to learn noise.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.requests, m.pairs, m.dropped, m.skipped, m.errors, m.dryRun, m.repeated,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "weaveproxy_shadow_queue_pairs",
			Help: "Shadow pairs waiting for or in comparison.",
		}, func() float64 { return float64(q.length()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "weaveproxy_shadow_queue_bytes",
			Help: "Bytes of requests and answers held by the comparison queue.",
		}, func() float64 { return float64(q.bytes.Load()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("shadow: metrics already registered (one Shadower per registry): %w", err)
			}
			return nil, fmt.Errorf("shadow: %w", err)
		}
	}
	return m, nil
}

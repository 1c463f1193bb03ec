package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Two proxies in one process each get their own registry: New must not
// touch the global default one.
func TestNewTwiceOnSeparateRegistries(t *testing.T) {
	for i := 0; i < 2; i++ {
		if _, err := New(prometheus.NewRegistry(), func() string { return "closed" }); err != nil {
			t.Fatalf("New #%d: %v", i, err)
		}
	}
}

func TestRegisteringTwiceOnOneRegistryFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg, func() string { return "closed" }); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg, func() string { return "closed" }); err == nil {
		t.Fatal("second New on the same registry succeeded; duplicate collectors would be hidden")
	}
}

func TestBreakerGaugeFollowsState(t *testing.T) {
	reg := prometheus.NewRegistry()
	state := "closed"
	if _, err := New(reg, func() string { return state }); err != nil {
		t.Fatal(err)
	}
	for name, want := range BreakerStates {
		state = name
		exp := "# HELP weaveproxy_breaker_state Legacy circuit breaker state: 0 closed, 1 half-open, 2 open.\n" +
			"# TYPE weaveproxy_breaker_state gauge\n" +
			"weaveproxy_breaker_state{upstream=\"legacy\"} " + formatFloat(want) + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "weaveproxy_breaker_state"); err != nil {
			t.Errorf("state %s: %v", name, err)
		}
	}
}

func TestRequestsCountedByLabels(t *testing.T) {
	m, err := New(nil, func() string { return "closed" })
	if err != nil {
		t.Fatal(err)
	}
	m.Requests.WithLabelValues("GET /{version}/{user}/info/collections", "native", "native", "200").Inc()
	m.Requests.WithLabelValues("GET /{version}/{user}/info/collections", "native", "native", "200").Inc()
	got := testutil.ToFloat64(m.Requests.WithLabelValues("GET /{version}/{user}/info/collections", "native", "native", "200"))
	if got != 2 {
		t.Errorf("requests counter = %v, want 2", got)
	}
	if n := testutil.CollectAndCount(m.Reloads); n != 2 {
		t.Errorf("reload counter has %d series, want success and failure pre-created", n)
	}
}

func formatFloat(f float64) string {
	return map[float64]string{0: "0", 1: "1", 2: "2"}[f]
}

func TestRouteLabelIsBounded(t *testing.T) {
	for name, want := range map[string]string{
		"GET /{version}/{user}/info/collections": "GET /{version}/{user}/info/collections",
		"PUT /user/{version}/{user}":             "PUT /user/{version}/{user}",
		"GET /1.1/alice/info/collections":        Unmatched,
		"unmatched":                              Unmatched,
		"":                                       Unmatched,
	} {
		if got := Route(name); got != want {
			t.Errorf("Route(%q) = %q, want %q", name, got, want)
		}
	}
}

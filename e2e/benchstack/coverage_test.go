package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The coverage table reads the shadow counters of a real /metrics page:
// route labels hold braces and spaces.
func TestScrapeCoverage(t *testing.T) {
	const info = "GET /{version}/{user}/info/collections"
	page := fmt.Sprintf(`# HELP weaveproxy_shadow_requests_total Requests served in shadow mode.
# TYPE weaveproxy_shadow_requests_total counter
weaveproxy_shadow_requests_total{route=%[1]q} 1285
weaveproxy_shadow_pairs_total{class="identical",route=%[1]q} 5
weaveproxy_shadow_pairs_total{class="different",route=%[1]q} 3
weaveproxy_shadow_skipped_total{reason="cpu_busy",route=%[1]q} 1270
weaveproxy_shadow_dropped_total{reason="too_old",route=%[1]q} 7
weaveproxy_shadow_queue_pairs 0
`, info)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, page) }))
	defer srv.Close()
	m, err := scrape(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	r := m[info]
	if r == nil || r.requests != 1285 || r.pairs != 8 || r.different != 3 || r.not["cpu_busy"] != 1270 || r.not["too_old"] != 7 || len(m) != 1 {
		t.Fatalf("scraped %+v (routes %d)", r, len(m))
	}
}

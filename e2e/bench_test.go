package e2e

import (
	"net/http"
	"sort"
	"testing"
	"time"
)

// BenchmarkPaths measures, in one run, the three ways a Sync read can be
// answered: by PHP directly, by PHP through weaveproxy, and by weaveproxy
// natively. Each sub-benchmark reports p50 and p99 latency besides ns/op;
// compare them as ratios (the machines are noisy, the ratio is not):
//
//	go test ./e2e -run '^$' -bench BenchmarkPaths -benchtime 2000x
func BenchmarkPaths(b *testing.B) {
	const route = "GET /{version}/{user}/storage/{collection}"
	s := startStack(b, "default: legacy\n", stackOptions{extra: []string{"--rate-reads", "-1", "--rate-writes", "-1"}})
	c := newUser(b, s.Proxy.URL, s.Proxy.URL, "benchuser")
	seed(b, c)
	path := "/1.0/" + c.user + "/storage/history?full=1&sort=index"
	cases := []struct{ name, base, mode string }{
		{"legacy-direct", s.PHP.URL, "legacy"},
		{"proxy-to-legacy", s.Proxy.URL, "legacy"},
		{"proxy-native", s.Proxy.URL, "native"},
	}
	for _, cs := range cases {
		s.writeRoutes(b, "default: legacy\nroutes:\n  - match: \""+route+"\"\n    mode: "+cs.mode+"\n")
		waitFor(b, route+" "+cs.mode, func() bool { return s.modeOf(b, route) == cs.mode })
		b.Run(cs.name, func(b *testing.B) { measure(b, cs.base+path, c) })
	}
}

// measure sends b.N sequential GETs and reports p50 and p99 latency.
func measure(b *testing.B, url string, c *client) {
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", url, nil)
		req.SetBasicAuth(c.user, c.pass)
		start := time.Now()
		resp, err := cl.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: status %d", url, resp.StatusCode)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// BenchmarkProxy measures the cost of the proxy hop: each iteration makes
// one request straight to the upstream, one through the proxy to it
// (legacy mode), and one the proxy answers natively, and reports each
// one's mean latency and the ratios. Run with
//
//	go test -run '^$' -bench Proxy ./proxy/
func BenchmarkProxy(b *testing.B) {
	payload := `{"bookmarks":1795895500.7,"history":1795895500.65,"tabs":1795895500}`
	answer := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-type", "application/json")
		w.Header().Set("X-Weave-Timestamp", "1795895500.7")
		io.WriteString(w, payload)
	}
	legacy := httptest.NewServer(http.HandlerFunc(answer))
	defer legacy.Close()
	tb, err := routes.Parse([]byte("legacy: {url: "+legacy.URL+"}\nroutes:\n"+
		"  - {match: \"GET /{version}/{user}/info/collections\", mode: native}\n"), "bench")
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Table: tb, Native: http.HandlerFunc(answer)})
	if err != nil {
		b.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(url string) time.Duration {
		start := time.Now()
		res, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.HasPrefix(string(body), `{"bookmarks"`) {
			b.Fatalf("body %q", body)
		}
		return time.Since(start)
	}
	var direct, proxied, native time.Duration
	n := 0
	for b.Loop() {
		direct += get(legacy.URL + "/1.0/alice/info/quota")
		proxied += get(front.URL + "/1.0/alice/info/quota")
		native += get(front.URL + "/1.0/alice/info/collections")
		n++
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) }
	b.ReportMetric(per(direct), "direct-ns/req")
	b.ReportMetric(per(proxied), "proxy-ns/req")
	b.ReportMetric(per(native), "native-ns/req")
	b.ReportMetric(per(proxied)/per(direct), "proxy/direct")
	b.ReportMetric(per(native)/per(direct), "native/direct")
}

// BenchmarkForward is the forward path alone, as the bench's history
// workload drives it: a GET through the proxy (route mode legacy) to an
// upstream answering like nginx in front of php-fpm (37 KB, chunked, in
// 4 KB pieces), client connections kept alive. It reports allocations,
// the figure the shared machine's load does not move. Run with
//
//	go test -run '^$' -bench Forward -benchmem ./proxy/
func BenchmarkForward(b *testing.B) {
	body := strings.Repeat(`{"id":"abcdefghijkl","modified":1795895500.65,"payload":"xyz"},`, 580) // ~37 KB
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-type", "application/json")
		w.Header().Set("X-Weave-Timestamp", "1795895500.70")
		for rest := body; rest != ""; {
			n := min(4096, len(rest))
			io.WriteString(w, rest[:n])
			w.(http.Flusher).Flush()
			rest = rest[n:]
		}
	}))
	defer legacy.Close()
	tb, err := routes.Parse([]byte("legacy: {url: "+legacy.URL+"}\ndefault: legacy\n"), "bench")
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Table: tb, Metrics: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	front := httptest.NewServer(p)
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	url := front.URL + "/1.0/alice/storage/history?full=1&limit=100&sort=index"
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 64<<10)
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.SetBasicAuth("alice", "password")
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.ReadFull(res.Body, buf)
			res.Body.Close()
			if res.StatusCode != 200 || n != len(body) {
				b.Errorf("%d, %d bytes", res.StatusCode, n)
				return
			}
		}
	})
}

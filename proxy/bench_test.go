package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

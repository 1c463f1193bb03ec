package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// legacyServer stands in for the PHP server: it answers "legacy <method>
// <raw uri>" and counts what it saw. Its status can be set per path via
// the X-Status request header.
type legacyServer struct {
	*httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	bodies map[string]int // request URI → body bytes received
}

func newLegacy(t *testing.T) *legacyServer {
	l := &legacyServer{bodies: map[string]int{}}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.hits.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		l.mu.Lock()
		l.bodies[r.RequestURI] = int(n)
		l.mu.Unlock()
		w.Header().Set("Content-type", "application/json")
		w.Header().Set("X-Weave-Timestamp", "1795895500.7")
		if s := r.Header.Get("X-Status"); s != "" {
			var code int
			fmt.Sscan(s, &code)
			w.WriteHeader(code)
		}
		fmt.Fprintf(w, "legacy %s %s", r.Method, r.RequestURI)
	}))
	t.Cleanup(l.Close)
	return l
}

// nativeHandler answers "native <method> <raw uri>"; X-Native-Status sets
// its status, X-Native-Panic makes it panic.
func nativeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Native-Panic") != "" {
			panic("native exploded")
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if s := r.Header.Get("X-Native-Status"); s != "" {
			var code int
			fmt.Sscan(s, &code)
			w.WriteHeader(code)
		}
		fmt.Fprintf(w, "native %s %s", r.Method, r.RequestURI)
	})
}

// fixture is a proxy on a routes file in a temp dir, served over HTTP.
type fixture struct {
	t      *testing.T
	legacy *legacyServer
	file   string
	p      *Proxy
	srv    *httptest.Server
	reg    *prometheus.Registry
}

// newFixture writes routesYAML (with LEGACY replaced by the legacy URL)
// and builds the proxy; cfg's Table and Metrics are filled in.
func newFixture(t *testing.T, routesYAML string, cfg Config) *fixture {
	t.Helper()
	f := &fixture{t: t, legacy: newLegacy(t), reg: prometheus.NewRegistry()}
	f.file = filepath.Join(t.TempDir(), "routes.yaml")
	f.write(routesYAML)
	tb, err := routes.Load(f.file)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Table, cfg.Metrics = tb, f.reg
	if f.p, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.p)
	t.Cleanup(func() { f.srv.Close(); f.p.Close() })
	return f
}

func (f *fixture) write(routesYAML string) {
	f.t.Helper()
	src := strings.ReplaceAll(routesYAML, "LEGACY", f.legacy.URL)
	if err := routes.WriteFileAtomic(f.file, []byte(src)); err != nil {
		f.t.Fatal(err)
	}
}

// do sends a request and returns status and body.
func (f *fixture) do(method, uri string, body io.Reader, hdr ...string) (int, string, http.Header) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+uri, body)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res.StatusCode, string(b), res.Header
}

// recorder is an Invalidator that remembers whom it invalidated.
type recorder struct {
	mu    sync.Mutex
	users []string
}

func (r *recorder) InvalidateUser(_ context.Context, user string) {
	r.mu.Lock()
	r.users = append(r.users, user)
	r.mu.Unlock()
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.users
	r.users = nil
	return u
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

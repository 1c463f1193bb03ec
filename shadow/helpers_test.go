package shadow

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/proxy"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// rig drives a Shadower the way the proxy does: it matches each request
// on a routes table and calls ServeShadow with the sides set on it.
type rig struct {
	t     testing.TB
	sh    *Shadower
	st    *store.Store
	reg   *prometheus.Registry
	table *routes.Table
	dsn   string

	legacy, native, dry http.Handler
}

// defaultRoutes puts every API route in shadow mode.
const defaultRoutes = "legacy:\n  url: http://127.0.0.1:1\ndefault: shadow\n"

func newRig(t testing.TB, routesYAML string, opt Options) *rig {
	t.Helper()
	if routesYAML == "" {
		routesYAML = defaultRoutes
	}
	table, err := routes.Parse([]byte(routesYAML), "routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "diff.db")
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	opt.Store, opt.Metrics = st, reg
	if opt.MinIdle == 0 && opt.Idle == nil {
		// A loaded test machine has little idle CPU; tests of shedding
		// for it (idle_test.go) say so.
		opt.MinIdle = -1
	}
	sh, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, sh: sh, st: st, reg: reg, table: table, dsn: dsn,
		legacy: answerWith("legacy"), native: answerWith("native"), dry: answerWith("dry")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sh.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		st.Close()
	})
	return r
}

// answerWith answers a Weave-looking JSON body naming the side, so that
// the sides differ unless a test makes them agree.
func answerWith(side string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"side":%q,"path":%q}`, side, r.URL.Path)
	})
}

func (r *rig) call(req *http.Request) proxy.ShadowCall {
	m := r.table.Match(req)
	if m.Route == nil {
		r.t.Fatalf("%s %s matches no route", req.Method, req.URL)
	}
	return proxy.ShadowCall{Route: m.Route, User: m.User, Legacy: r.legacy, Native: r.native, NativeDryRun: r.dry}
}

// serve sends one request through the shadower; hdr are name, value pairs.
func (r *rig) serve(method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	r.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	r.sh.ServeShadow(w, req, r.call(req))
	return w
}

func (r *rig) flush() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.sh.Flush(ctx); err != nil {
		r.t.Fatalf("flush: %v", err)
	}
}

// counter reads one series of a counter vector.
func counter(c *prometheus.CounterVec, labels ...string) float64 {
	var m dto.Metric
	if err := c.WithLabelValues(labels...).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func (r *rig) counts(route string) store.Counts {
	r.t.Helper()
	rs, err := r.st.Route(context.Background(), route, store.Gate{MinPairs: 1, LastM: 10})
	if err != nil {
		r.t.Fatal(err)
	}
	return rs.Counts
}

// gate blocks a handler until opened; entered says it is blocking.
type gate struct {
	entered chan struct{}
	open    chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 1000), open: make(chan struct{})} }

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.entered <- struct{}{}
		<-g.open
		h.ServeHTTP(w, r)
	})
}

// within fails the test when f has not returned after a long while: f
// must not block on shadow work at all, so any wait means a deadlock.
func within(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s blocked on shadow work", what)
	}
}

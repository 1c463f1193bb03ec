package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weaveproxy/weaveproxy/proxy"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

const routesYAML = `legacy:
  url: LEGACY
  breaker: {failures: 1, open_for: 1h, backoff: 90s}
routes:
  - match: "GET /{version}/{user}/info/collections"
    mode: native
  - match: "GET /{version}/{user}/storage/{collection}"
    mode: canary
    percent: 40
`

type env struct {
	legacy, public, admin *httptest.Server
	file                  string
	p                     *proxy.Proxy
}

func setup(t *testing.T, ready ...Check) *env {
	e := &env{}
	e.legacy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(503)
		}
		io.WriteString(w, "legacy")
	}))
	t.Cleanup(e.legacy.Close)
	e.file = filepath.Join(t.TempDir(), "routes.yaml")
	e.write(t, routesYAML)
	tb, err := routes.Load(e.file)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	native := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "native") })
	if e.p, err = proxy.New(proxy.Config{Table: tb, Native: native, Metrics: reg}); err != nil {
		t.Fatal(err)
	}
	e.public = httptest.NewServer(e.p)
	e.admin = httptest.NewServer(New(Config{Proxy: e.p, Gatherer: reg, Ready: ready}))
	t.Cleanup(func() { e.public.Close(); e.admin.Close() })
	return e
}

func (e *env) write(t *testing.T, src string) {
	if err := os.WriteFile(e.file, []byte(strings.ReplaceAll(src, "LEGACY", e.legacy.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func call(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestRoutes(t *testing.T) {
	e := setup(t)
	code, body := call(t, "GET", e.admin.URL+"/routes")
	var st proxy.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("%d %v\n%s", code, err, body)
	}
	if st.Source != e.file || st.LoadedAt.IsZero() || st.Default != routes.Legacy || st.Legacy.URL != e.legacy.URL ||
		st.Legacy.Breaker != "closed" || st.Legacy.BackoffSeconds != 90 || st.LastReload != nil {
		t.Errorf("status %+v", st)
	}
	first, second := st.Routes[0], st.Routes[1]
	if first.Match != "GET /{version}/{user}/info/collections" || first.Mode != routes.Native || !first.Listed || first.Line != 5 ||
		second.Mode != routes.Canary || second.Percent != 40 {
		t.Errorf("listed routes %+v %+v", first, second)
	}
	for _, rs := range st.Routes[2:] {
		if rs.Listed || rs.Mode != routes.Legacy || rs.Match == first.Match {
			t.Errorf("built-in route %+v", rs)
		}
	}
	if len(st.Routes) != 2+len(routes.BuiltinNames())-2 {
		t.Errorf("%d routes shown", len(st.Routes))
	}
	if code, _ := call(t, "POST", e.admin.URL+"/routes"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /routes: %d", code)
	}
}

func TestReload(t *testing.T) {
	e := setup(t)
	e.write(t, strings.Replace(routesYAML, "mode: native", "mode: nativ", 1))
	code, body := call(t, "POST", e.admin.URL+"/routes/reload")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"line": 6`) || !strings.Contains(body, `unknown mode \"nativ\"`) {
		t.Errorf("bad file: %d %s", code, body)
	}
	_, body = call(t, "GET", e.admin.URL+"/routes")
	if !strings.Contains(body, `"mode": "native"`) || !strings.Contains(body, `routes.yaml:6:11: unknown mode`) {
		t.Errorf("GET /routes after a refused reload:\n%s", body)
	}
	// What Ops must see leads the answer, before the table.
	problems, source := strings.Index(body, `"problems"`), strings.Index(body, `"source"`)
	if problems < 0 || source < problems || !strings.Contains(body[problems:source], "the last reload") ||
		!strings.Contains(body[problems:source], "unknown mode") {
		t.Errorf("the reload error does not come first:\n%s", body)
	}
	e.write(t, strings.Replace(routesYAML, "mode: native", "mode: shadow", 1))
	code, body = call(t, "POST", e.admin.URL+"/routes/reload")
	if code != 200 || !strings.Contains(body, `"mode": "shadow"`) || strings.Contains(body, `"error"`) {
		t.Errorf("good file: %d %s", code, body)
	}
	if code, _ := call(t, "GET", e.admin.URL+"/routes/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /routes/reload: %d", code)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	dbErr := errors.New("db: connection refused")
	var dbDown atomic.Bool
	var e *env
	e = setup(t,
		Check{Name: "database", Func: func(context.Context) error {
			if dbDown.Load() {
				return dbErr
			}
			return nil
		}},
		Check{Name: "legacy", Func: func(ctx context.Context) error { return e.p.LegacyReady(ctx) }})
	if code, body := call(t, "GET", e.admin.URL+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("healthz %d %s", code, body)
	}
	if code, body := call(t, "GET", e.admin.URL+"/readyz"); code != 200 || !strings.Contains(body, `"status": "ready"`) {
		t.Errorf("readyz %d %s", code, body)
	}
	dbDown.Store(true)
	if code, body := call(t, "GET", e.admin.URL+"/readyz"); code != 503 || !strings.Contains(body, "db: connection refused") {
		t.Errorf("readyz with the database down: %d %s", code, body)
	}
	dbDown.Store(false)
	e.legacy.Close()
	if code, body := call(t, "GET", e.admin.URL+"/readyz"); code != 503 || !strings.Contains(body, `"name": "legacy",`+"\n      \"ok\": false") {
		t.Errorf("readyz with legacy down: %d %s", code, body)
	}
	if code, _ := call(t, "GET", e.admin.URL+"/healthz"); code != 200 {
		t.Error("healthz depends on legacy")
	}
}

// Readiness changes are logged once each way: "not ready" when a check
// starts failing (not on every probe), "ready again" when all pass again.
func TestReadinessChangesLogged(t *testing.T) {
	var down atomic.Bool
	var logs strings.Builder
	h := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Ready: []Check{{Name: "database", Func: func(context.Context) error {
			if down.Load() {
				return errors.New("refused")
			}
			return nil
		}}}})
	probe := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	}
	probe()
	down.Store(true)
	probe()
	probe()
	down.Store(false)
	probe()
	probe()
	out := logs.String()
	if strings.Count(out, "not ready") != 1 || strings.Count(out, "ready again") != 1 {
		t.Errorf("want one 'not ready' and one 'ready again':\n%s", out)
	}
}

func TestMetrics(t *testing.T) {
	e := setup(t)
	call(t, "GET", e.public.URL+"/1.0/alice/info/collections")
	call(t, "GET", e.public.URL+"/1.0/alice/info/collections")
	call(t, "GET", e.public.URL+"/1.0/alice/info/quota")
	call(t, "GET", e.public.URL+"/down") // opens the breaker (failures: 1)
	call(t, "GET", e.public.URL+"/down")
	e.write(t, "legacy: {")
	call(t, "POST", e.admin.URL+"/routes/reload")
	code, body := call(t, "GET", e.admin.URL+"/metrics")
	if code != 200 {
		t.Fatal(code)
	}
	for _, want := range []string{
		`weaveproxy_requests_total{mode="native",route="GET /{version}/{user}/info/collections",side="native",status="200"} 2`,
		`weaveproxy_requests_total{mode="legacy",route="GET /{version}/{user}/info/quota",side="legacy",status="200"} 1`,
		`weaveproxy_requests_total{mode="legacy",route="unmatched",side="legacy",status="503"} 1`,
		`weaveproxy_requests_total{mode="legacy",route="unmatched",side="proxy",status="503"} 1`,
		`weaveproxy_request_duration_seconds_count{mode="native",route="GET /{version}/{user}/info/collections",side="native"} 2`,
		`weaveproxy_request_duration_seconds_bucket{mode="legacy",route="unmatched",side="proxy",le="0.005"}`,
		`weaveproxy_breaker_state{upstream="legacy"} 2`,
		`weaveproxy_breaker_transitions_total{to="open",upstream="legacy"} 1`,
		`weaveproxy_route_reloads_total{result="failure"} 1`,
		`weaveproxy_route_reloads_total{result="success"} 0`,
		`weaveproxy_route_mode{mode="canary",route="GET /{version}/{user}/storage/{collection}"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

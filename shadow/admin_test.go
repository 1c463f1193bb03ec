package shadow

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

const adminRoutes = `# cutover test
legacy:
  url: http://127.0.0.1:1
default: shadow
routes:
  - match: "GET /{version}/{user}/info/collections"
    mode: shadow # keep this comment
`

// adminRig is a shadow record (three identical info/collections reads,
// three different quota reads), a routes file and the admin API over them.
type adminRig struct {
	*rig
	workers int // the default worker count
	file    string
	log     *bytes.Buffer
	srv     *httptest.Server
}

func newAdminRig(t *testing.T) *adminRig {
	// The default worker count, half of GOMAXPROCS as found before the
	// shadower adds its own Ps.
	workers := max(1, runtime.GOMAXPROCS(0)/2)
	r := newRig(t, adminRoutes, Options{})
	r.native = r.legacy
	for range 3 {
		r.serve("GET", "/1.0/alice/info/collections", "")
	}
	r.native = answerWith("native")
	for range 3 {
		r.serve("GET", "/1.0/alice/info/quota", "")
	}
	r.flush()
	file := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(file, []byte(adminRoutes), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c := &Cutover{Store: r.st, Gate: store.Gate{MinPairs: 3, LastM: 3},
		Table: func() *routes.Table { return r.table },
		SetMode: func(_ context.Context, route string, mode routes.Mode) error {
			return routes.SetModeFile(file, route, mode, 0)
		},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	srv := httptest.NewServer(AdminHandler(AdminConfig{Store: r.st, Cutover: c, Shadower: r.sh}))
	t.Cleanup(srv.Close)
	return &adminRig{rig: r, workers: workers, file: file, log: &logs, srv: srv}
}

func (a *adminRig) do(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, a.srv.URL+path, rd)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func (a *adminRig) mode(route string) routes.Mode {
	a.t.Helper()
	t, err := routes.Load(a.file)
	if err != nil {
		a.t.Fatal(err)
	}
	return t.Lookup(route).Mode
}

func TestAdminPromoteOnlyWhenReady(t *testing.T) {
	a := newAdminRig(t)
	quota := "GET /{version}/{user}/info/quota"

	code, out := a.do("POST", "/shadow/promote", map[string]any{"route": quota, "by": "qa"})
	if code != http.StatusConflict || a.mode(quota) != routes.Shadow {
		t.Fatalf("promote of a differing route: %d %v, mode %s", code, out, a.mode(quota))
	}
	code, out = a.do("POST", "/shadow/promote", map[string]any{"route": infoRoute, "by": "qa"})
	if code != http.StatusOK || out["promoted"] != true || out["forced"] != false || a.mode(infoRoute) != routes.Native {
		t.Fatalf("promote of a ready route: %d %v, mode %s", code, out, a.mode(infoRoute))
	}
	if b, _ := os.ReadFile(a.file); !strings.Contains(string(b), "# keep this comment") {
		t.Fatalf("the edit lost the file's comments:\n%s", b)
	}
	code, out = a.do("POST", "/shadow/promote", map[string]any{"route": quota, "by": "ops", "force": true})
	if code != http.StatusOK || out["forced"] != true || a.mode(quota) != routes.Native {
		t.Fatalf("forced promote: %d %v", code, out)
	}
	if !strings.Contains(a.log.String(), "by force") || !strings.Contains(a.log.String(), "by=ops") {
		t.Fatalf("forced promotion not logged: %s", a.log)
	}
	code, _ = a.do("POST", "/shadow/demote", map[string]any{"route": quota, "by": "ops"})
	if code != http.StatusOK || a.mode(quota) != routes.Legacy {
		t.Fatalf("demote: %d, mode %s", code, a.mode(quota))
	}
	code, _ = a.do("POST", "/shadow/promote", map[string]any{"route": "GET /nope", "by": "qa"})
	if code != http.StatusNotFound {
		t.Fatalf("unknown route: %d", code)
	}
	code, _ = a.do("POST", "/shadow/promote", map[string]any{"route": infoRoute})
	if code != http.StatusBadRequest {
		t.Fatalf("promote without by: %d", code)
	}
}

func TestAdminReadyAndWaivers(t *testing.T) {
	a := newAdminRig(t)
	quota := "GET /{version}/{user}/info/quota"
	code, out := a.do("GET", "/shadow/ready?route="+urlQuery(quota), nil)
	if code != 200 || out["ready"] != false {
		t.Fatalf("ready: %d %v", code, out)
	}
	code, w := a.do("POST", "/shadow/waivers", map[string]any{"route": quota, "field": "body.side",
		"reason": "native names itself", "by": "qa"})
	if code != http.StatusCreated || w["id"] == "" {
		t.Fatalf("accept: %d %v", code, w)
	}
	// The waived field no longer blocks the gate.
	if code, out = a.do("GET", "/shadow/ready?route="+urlQuery(quota), nil); out["ready"] != true {
		t.Fatalf("ready after waiver: %d %v", code, out)
	}
	if code, _ = a.do("DELETE", "/shadow/waivers/"+w["id"].(string)+"?by=qa", nil); code != http.StatusNoContent {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ = a.do("DELETE", "/shadow/waivers/"+w["id"].(string)+"?by=qa", nil); code != http.StatusNotFound {
		t.Fatalf("second revoke: %d", code)
	}
	if code, out = a.do("GET", "/shadow/ready?route="+urlQuery(quota), nil); out["ready"] != false {
		t.Fatalf("ready after revoke: %d %v", code, out)
	}
	if code, _ = a.do("POST", "/shadow/waivers", map[string]any{"route": quota, "by": "qa"}); code != http.StatusBadRequest {
		t.Fatalf("waiver without field or reason: %d", code)
	}
}

func TestAdminLiveReport(t *testing.T) {
	a := newAdminRig(t)
	res, err := http.Get(a.srv.URL + "/shadow/report.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rep struct {
		Routes []struct {
			Route     string `json:"route"`
			Pairs     int64  `json:"pairs"`
			Identical int64  `json:"identical"`
			Different int64  `json:"different"`
		} `json:"routes"`
	}
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Routes) != 2 {
		t.Fatalf("routes %+v", rep.Routes)
	}
	for _, r := range rep.Routes {
		if r.Pairs != 3 || (r.Route == infoRoute && r.Identical != 3) || (r.Route != infoRoute && r.Different != 3) {
			t.Errorf("route %+v", r)
		}
	}
	res, err = http.Get(a.srv.URL + "/shadow/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("live HTML: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	code, q := a.do("GET", "/shadow/queue", nil)
	if code != 200 || q["pairs"] != 0.0 || q["workers"] != float64(a.workers) {
		t.Fatalf("queue: %d %v", code, q)
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "%20", "{", "%7B", "}", "%7D", "/", "%2F")
	return r.Replace(s)
}

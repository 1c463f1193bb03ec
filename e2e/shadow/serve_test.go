package shadow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// The real binary in proxy mode, every route shadowed in front of the PHP
// fixture: the admin listener serves the live report and refuses to
// promote a route without enough evidence unless forced, the running proxy
// picks up the promotion, and `report` afterwards reads the store serve
// left in its working directory.
func TestServeShadowAdminAPI(t *testing.T) {
	b := newBackend(t)
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := fmt.Sprintf("# shadow everything\nlegacy:\n  url: %s\ndefault: shadow\n", b.php.URL)
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	admin := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	// State-changing admin calls need the bearer token in this file.
	if err := os.WriteFile(filepath.Join(dir, "admin.token"), []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("cd '%s' && exec '%s' serve --listen %s --admin-listen %s --db 'mysql:%s' --routes routes.yaml --admin-token-file admin.token --shadow-min-idle -1",
		dir, bin, listen, strings.TrimPrefix(admin, "http://"), b.dsn)
	proc := testenv.StartProcess(t, "sh", []string{"-c", script}, nil, listen)

	c := newClient(t, "http://"+listen, "serveuser")
	c.register()
	c.must("PUT", "/1.0/serveuser/storage/bookmarks/b1", `{"payload": "x", "sortindex": 1}`)
	for range 3 {
		c.must("GET", "/1.0/serveuser/info/collections", "")
	}
	const route = "GET /{version}/{user}/info/collections"
	waitFor(t, proc, "three info/collections pairs in the live report", func() bool {
		return pairsOf(t, admin, route) >= 3
	})

	code, body := post(t, admin+"/shadow/promote", map[string]any{"route": route, "by": "qa"})
	if code != http.StatusConflict || !strings.Contains(body, "not ready") {
		t.Fatalf("promote on 3 pairs: %d %s", code, body)
	}
	code, body = post(t, admin+"/shadow/promote", map[string]any{"route": route, "by": "ops", "force": true})
	if code != http.StatusOK || !strings.Contains(body, `"forced": true`) {
		t.Fatalf("forced promote: %d %s", code, body)
	}
	waitFor(t, proc, "the proxy to reload the promoted route", func() bool {
		return modeOf(t, admin, route) == "native"
	})
	if b, _ := os.ReadFile(filepath.Join(dir, "routes.yaml")); !strings.Contains(string(b), "# shadow everything") {
		t.Fatalf("routes.yaml lost its comment:\n%s", b)
	}
	proc.Stop()

	out, stderr, ok := run(t, dir, "report", "--out", "qa")
	if !ok || !strings.Contains(out, route) {
		t.Fatalf("report from serve's store: %s\n%s", out, stderr)
	}
	checkReport(t, filepath.Join(dir, "qa"))
}

func waitFor(t *testing.T, p *testenv.Process, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s\n%s", what, p.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

func pairsOf(t *testing.T, admin, route string) int64 {
	var rep struct {
		Routes []struct {
			Route string `json:"route"`
			Pairs int64  `json:"pairs"`
		} `json:"routes"`
	}
	getJSON(t, admin+"/shadow/report.json", &rep)
	for _, r := range rep.Routes {
		if r.Route == route {
			return r.Pairs
		}
	}
	return 0
}

func modeOf(t *testing.T, admin, route string) string {
	var st struct {
		Routes []struct {
			Match string `json:"match"`
			Mode  string `json:"mode"`
		} `json:"routes"`
	}
	getJSON(t, admin+"/routes", &st)
	for _, r := range st.Routes {
		if r.Match == route {
			return r.Mode
		}
	}
	return ""
}

const adminToken = "e2e-admin-token"

func post(t *testing.T, url string, v any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(v)
	req, err := http.NewRequest("POST", url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(res.Body)
	return res.StatusCode, out.String()
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/auth"
)

// buildApp builds the server as `weaveproxy serve args...` would, in a
// temporary directory (SQLite database and CEF file there).
func buildApp(t testing.TB, args ...string) *app {
	t.Helper()
	dir := t.TempDir()
	all := append([]string{"--db", "sqlite:" + filepath.Join(dir, "weave.db"),
		"--cef-file", filepath.Join(dir, "cef.log"),
		// A loaded test machine has little idle CPU: shadow work would be
		// shed (cpu_busy), and these tests are about what it compares.
		"--shadow-min-idle", "-1"}, args...)
	f, err := parseServeFlags(all, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := build(ctx, f, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// routesFile writes a routes.yaml forwarding everything to legacyURL.
func routesFile(t *testing.T, legacyURL string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(p, []byte("legacy:\n  url: "+legacyURL+"\ndefault: legacy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestMetricsHaveRuntimeCollectors (issue 10 item 12): /metrics shows the
// Go runtime and the process in both modes; the proxy's admin API had
// neither.
func TestMetricsHaveRuntimeCollectors(t *testing.T) {
	for name, args := range map[string][]string{
		"native": nil,
		"proxy":  {"--routes", routesFile(t, "http://127.0.0.1:1")},
	} {
		a := buildApp(t, args...)
		w := get(t, a.admin, "GET", "/metrics")
		for _, m := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_open_fds"} {
			if !strings.Contains(w.Body.String(), "\n"+m+" ") {
				t.Errorf("%s: /metrics lacks %s", name, m)
			}
		}
	}
}

// TestDSNPasswordNeverShown (issue 10 item 10): a --db value without its
// mysql: prefix printed its password in the error.
func TestDSNPasswordNeverShown(t *testing.T) {
	for _, d := range []string{"weave:s3cretpw@tcp(127.0.0.1:1)/weave", "mysql:weave:s3cret:pw@tcp(127.0.0.1:1)/weave"} {
		f, err := parseServeFlags([]string{"--db", d}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, err = build(context.Background(), f, slog.New(slog.DiscardHandler))
		if err == nil {
			t.Fatalf("--db %s: built", d)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("--db %s: error shows the password: %v", d, err)
		}
	}
}

func put(t testing.TB, h http.Handler, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("PUT", path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestSignUpThrottledPerAddress (issue 10 item 4): the 20-per-hour budget
// of one client address for new accounts was defined and never applied:
// 60 sign-ups in a row all got 200.
func TestSignUpThrottledPerAddress(t *testing.T) {
	a := buildApp(t)
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("signup%02d", i)
		if w := put(t, a.handler, "/user/1.0/"+name, `{"password":"correct horse battery"}`); w.Code != 200 {
			t.Fatalf("sign-up %d: %d %s", i, w.Code, w.Body)
		}
	}
	w := put(t, a.handler, "/user/1.0/signup20", `{"password":"correct horse battery"}`)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("21st sign-up from one address in an hour: %d %s", w.Code, w.Body)
	}
	// Another address still signs up.
	r := httptest.NewRequest("PUT", "/user/1.0/signup21", strings.NewReader(`{"password":"correct horse battery"}`))
	r.RemoteAddr = "192.0.2.7:4000"
	w = httptest.NewRecorder()
	a.handler.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("sign-up from another address: %d %s", w.Code, w.Body)
	}
}

// TestRegistrationDefault (issue 10 item 4): open by default only for the
// embedded server; a loopback listener is also what stands behind nginx.
func TestRegistrationDefault(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "open"},
		{[]string{"--db", "mysql:weave:pw@tcp(127.0.0.1:3306)/weave"}, "closed"},
		{[]string{"--routes", "routes.yaml"}, "closed"},
		{[]string{"--listen", "0.0.0.0:8080"}, "closed"},
		{[]string{"--db", "mysql:x@tcp(h:1)/w", "--registration", "open"}, "open"},
	} {
		f, err := parseServeFlags(c.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := parseRegistration(f)
		if err != nil || got != c.want {
			t.Errorf("%v: registration %q, %v; want %q", c.args, got, err, c.want)
		}
	}
}

// New passwords are bcrypt only on the embedded server, whatever its
// listener; wherever PHP may read the accounts, md5 unless Ops choose.
func TestPasswordHashDefault(t *testing.T) {
	for _, c := range []struct {
		args []string
		want auth.PasswordHash
	}{
		{nil, auth.HashBcrypt},
		{[]string{"--listen", "0.0.0.0:8080"}, auth.HashBcrypt},
		{[]string{"--db", "mysql:weave:pw@tcp(127.0.0.1:3306)/weave"}, auth.HashLegacy},
		{[]string{"--routes", "routes.yaml"}, auth.HashLegacy},
		{[]string{"--db", "mysql:x@tcp(h:1)/w", "--password-hash", "bcrypt"}, auth.HashBcrypt},
	} {
		f, err := parseServeFlags(c.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := passwordHash(f); err != nil || got != c.want {
			t.Errorf("%v: password hash %q, %v; want %q", c.args, got, err, c.want)
		}
	}
}

// TestAdminStateChangesNeedToken (issue 10 item 9): unlock and reload
// answered anyone, a web page in the admin's browser included.
func TestAdminStateChangesNeedToken(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tok, []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"native": {"--admin-token-file", tok},
		"proxy":  {"--admin-token-file", tok, "--routes", routesFile(t, "http://127.0.0.1:1")},
	} {
		a := buildApp(t, args...)
		for _, c := range []struct {
			path string
			hdr  []string
			want int
		}{
			{"/users/bob/unlock", nil, 401},
			{"/users/bob/unlock", []string{"Authorization", "Bearer nope"}, 401},
			{"/users/bob/unlock", []string{"Authorization", "Bearer t0ken", "Sec-Fetch-Site", "cross-site"}, 403},
			{"/users/bob/unlock", []string{"Authorization", "Bearer t0ken"}, 200},
		} {
			if w := get(t, a.admin, "POST", c.path, c.hdr...); w.Code != c.want {
				t.Errorf("%s: POST %s %v: %d, want %d", name, c.path, c.hdr, w.Code, c.want)
			}
		}
		if name == "proxy" {
			if w := get(t, a.admin, "POST", "/routes/reload"); w.Code != 401 {
				t.Errorf("reload without token: %d", w.Code)
			}
		}
	}
	// Without a token file, state changes are off.
	a := buildApp(t)
	if w := get(t, a.admin, "POST", "/users/bob/unlock", "Authorization", "Bearer "); w.Code != 403 {
		t.Errorf("no token configured: unlock answered %d", w.Code)
	}
}

// TestProxyRegistrationWithTrailingSlashIsNative (issue 9): a real Weave
// client registers with PUT /user/1/<name>/. The proxy's route table did
// not know the trailing slash, so with default: native registration still
// went to PHP (here: a dead address, 503) and PHP could never be switched
// off for such clients.
func TestProxyRegistrationWithTrailingSlashIsNative(t *testing.T) {
	p := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(p, []byte("legacy:\n  url: http://127.0.0.1:1\ndefault: native\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := buildApp(t, "--routes", p, "--registration", "open", "--diff-db", "sqlite:"+filepath.Join(t.TempDir(), "diff.db"))
	if w := put(t, a.handler, "/user/1/Alice/", `{"password":"correct horse battery"}`); w.Code != 200 || w.Body.String() != "alice" {
		t.Fatalf("PUT /user/1/Alice/ through the proxy: %d %s", w.Code, w.Body)
	}
	if w := get(t, a.handler, "GET", "/user/1.0/alice/"); w.Code != 200 || w.Body.String() != "1" {
		t.Errorf("the account native created: %d %s", w.Code, w.Body)
	}
}

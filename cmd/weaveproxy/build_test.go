package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildApp builds the server as `weaveproxy serve args...` would, in a
// temporary directory (SQLite database and CEF file there).
func buildApp(t *testing.T, args ...string) *app {
	t.Helper()
	dir := t.TempDir()
	all := append([]string{"--db", "sqlite:" + filepath.Join(dir, "weave.db"),
		"--cef-file", filepath.Join(dir, "cef.log")}, args...)
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

package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseNodes(t *testing.T) {
	caps, urls, err := parseNodes("node1.example.org=100, HTTPS://Node2.example.org:8443/sync=5,http://127.0.0.1:8080=0")
	if err != nil {
		t.Fatal(err)
	}
	wantCaps := map[string]int{"node1.example.org": 100, "node2.example.org:8443": 5, "127.0.0.1:8080": 0}
	wantURLs := map[string]string{"node2.example.org:8443": "HTTPS://Node2.example.org:8443/sync/", "127.0.0.1:8080": "http://127.0.0.1:8080/"}
	if diff := cmp.Diff(wantCaps, caps); diff != "" {
		t.Errorf("capacities (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantURLs, urls); diff != "" {
		t.Errorf("urls (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"node", "node=x", "node=-1", "=5", "a=1,A=2", "ftp://x=1", "http://=1"} {
		if _, _, err := parseNodes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEndpointSet(t *testing.T) {
	known := []string{"a", "b", "c"}
	if s, err := endpointSet("f", "all", known); s != nil || err != nil {
		t.Fatalf("all: %v, %v", s, err)
	}
	if s, err := endpointSet("f", "none", known); err != nil || s == nil || len(s) != 0 {
		t.Fatalf("none: %v, %v", s, err)
	}
	if s, err := endpointSet("f", "a, c", known); err != nil || !s["a"] || s["b"] || !s["c"] {
		t.Fatalf("a, c: %v, %v", s, err)
	}
	if _, err := endpointSet("f", "a,zz", known); err == nil {
		t.Fatal("unknown endpoint accepted")
	}
}

// Both token files are read alike, and an error names the flag that gave
// the file.
func TestTokenFilesNameTheirFlag(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		err  func(path string) error
	}{
		{"--admin-token-file", func(path string) error { _, err := readToken("--admin-token-file", path); return err }},
		{"--internal-token-file", func(path string) error {
			_, err := buildInternal(&accountFlags{internalListen: "127.0.0.1:0", internalTokenFile: path}, nil, nil, nil, nil)
			return err
		}},
	} {
		if err := tc.err(empty); err == nil || err.Error() != tc.name+": "+empty+" is empty" {
			t.Errorf("%s empty: %v", tc.name, err)
		}
		if err := tc.err(missing); !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), tc.name+": ") {
			t.Errorf("%s missing: %v", tc.name, err)
		}
	}
	if tok, err := readToken("--admin-token-file", ""); tok != "" || err != nil {
		t.Errorf("no file: %q, %v; want none", tok, err)
	}
}

package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/recorder"
	"github.com/weaveproxy/weaveproxy/diff/store"
)

const infoRoute = "GET /{version}/{user}/info/collections"

// seededStore writes a diff store holding one differing pair on
// infoRoute (body.history differs) and returns its DSN.
func seededStore(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "diff.db")
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := http.Header{"Content-Type": {"application/json"}}
	p := diff.Pair{
		Route:   infoRoute,
		Request: diff.Exchange{Method: "GET", Path: "/1.0/alice/info/collections", Header: http.Header{}},
		Legacy:  diff.Answer{Status: 200, Header: h, Body: []byte(`{"history":"a"}`)},
		Native:  diff.Answer{Status: 200, Header: h, Body: []byte(`{"history":"b"}`)},
		At:      time.Now(),
	}
	if _, err := recorder.New(st, nil).Observe(ctx, p); err != nil {
		t.Fatal(err)
	}
	return dsn
}

func run(t *testing.T, f func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) error, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := f(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func diffCmdRun(ctx context.Context, args []string, o, e *bytes.Buffer) error {
	return Diff(ctx, args, o, e)
}
func routesRun(ctx context.Context, args []string, o, e *bytes.Buffer) error {
	return Routes(ctx, args, o, e)
}
func replayRun(ctx context.Context, args []string, o, e *bytes.Buffer) error {
	return Replay(ctx, args, o, e)
}
func reportRun(ctx context.Context, args []string, o, e *bytes.Buffer) error {
	return Report(ctx, args, o, e)
}

func TestDiffAcceptChecksRouteAndPath(t *testing.T) {
	dsn := seededStore(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string // empty: accepted
	}{
		{"seen path", []string{"--route", infoRoute, "--path", "body.history"}, ""},
		{"wildcard route, seen path", []string{"--route", "*", "--path", "body.history"}, ""},
		{"unknown route lists the known ones", []string{"--route", "GET /{version}/{user}/info/quotaa", "--path", "body.history"},
			"known routes:"},
		{"path never seen lists the seen ones", []string{"--route", infoRoute, "--path", "body.tabs"},
			"paths that differed:\n  body.history"},
		{"shape with a path never seen", []string{"--route", infoRoute, "--shape", "body.history,header.x-nope"},
			`"header.x-nope"`},
		{"known route without pairs", []string{"--route", "GET /{version}/{user}/info/quota", "--path", "body"},
			"none: no pair on this route has differed yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"accept", "--diff-db", dsn, "--reason", "test", "--by", "qa"}, tc.args...)
			out, _, err := run(t, diffCmdRun, args...)
			if tc.wantErr == "" {
				if err != nil || !strings.HasPrefix(out, "accepted ") {
					t.Fatalf("got %q, %v; want accepted", out, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v; want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestDiffNeverCreatesAStoreByAccident(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo.db")
	for _, args := range [][]string{
		{"accept", "--diff-db", "sqlite:" + path, "--route", infoRoute, "--path", "body", "--reason", "r", "--by", "qa"},
		{"list", "--diff-db", "sqlite:" + path},
		{"revoke", "x", "--diff-db", "sqlite:" + path},
	} {
		if _, _, err := run(t, diffCmdRun, args...); err == nil || !strings.Contains(err.Error(), "no diff store") {
			t.Errorf("%v: err = %v; want 'no diff store'", args, err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("%v created %s", args, path)
		}
	}
}

func writeRoutes(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRoutesPromote(t *testing.T) {
	dsn := seededStore(t)
	file := writeRoutes(t, "legacy:\n  url: http://127.0.0.1:1\ndefault: legacy\nroutes:\n"+
		"  - match: \"GET /{version}/{user}/info/quota\"\n    mode: native\n"+
		"  - match: \""+infoRoute+"\"\n    mode: shadow\n")

	out, _, err := run(t, routesRun, "promote", "GET /{version}/{user}/info/quota", "--routes", file, "--diff-db", dsn)
	if err != nil || !strings.Contains(out, "already native") {
		t.Errorf("promote of a native route: %q, %v; want 'already native'", out, err)
	}

	_, _, err = run(t, routesRun, "promote", infoRoute, "--routes", file, "--diff-db", dsn)
	if err == nil {
		t.Fatal("promote of a route with a differing pair succeeded")
	}
	msg := err.Error()
	if strings.Count(msg, "not ready") != 1 || !strings.Contains(msg, "--force") {
		t.Errorf("refusal %q: want 'not ready' once and the way out (--force)", msg)
	}

	out, _, err = run(t, routesRun, "promote", infoRoute, "--routes", file, "--diff-db", dsn, "--force")
	if err != nil || !strings.Contains(out, "native") {
		t.Fatalf("forced promote: %q, %v", out, err)
	}
	if mode, _ := modeOf(file, infoRoute); mode != "native" {
		t.Errorf("mode after forced promote = %q", mode)
	}
	out, _, err = run(t, routesRun, "demote", infoRoute, "--routes", file)
	if err != nil || !strings.Contains(out, "legacy") {
		t.Errorf("demote: %q, %v", out, err)
	}
}

func TestHelpNamesPositionalArguments(t *testing.T) {
	tests := []struct {
		f    func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) error
		args []string
		want string
	}{
		{replayRun, []string{"-h"}, "replay FILE --against URL"},
		{replayRun, []string{"-h"}, `"headers": [["Name", "value"]`},
		{reportRun, []string{"-h"}, "report --out DIR"},
		{routesRun, []string{"promote", "-h"}, "routes promote ROUTE"},
		{diffCmdRun, []string{"accept", "-h"}, "diff accept --route R"},
	}
	for _, tc := range tests {
		_, stderr, err := run(t, tc.f, tc.args...)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: err %v, stderr %q; want ErrHelp and %q", tc.args, err, stderr, tc.want)
		}
	}
}

// A target that rate-limits answers 503 with back-off: the replay says so
// and how to lift it, shows progress, and prints one table, not a line per
// pair beyond the first 20.
func TestReplayProgressSummaryAndBackoff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.Header().Set("X-Weave-Backoff", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	var lines strings.Builder
	for i := 1; i <= 30; i++ {
		lines.WriteString(`{"seq":` + strconv.Itoa(i) + `,"scenario":"s","request":{"method":"GET","path":"/1.0/u/info/collections","headers":[],"body":""},` +
			`"response":{"status":200,"headers":[["Content-Type","application/json"]],"body":"{}"}}` + "\n")
	}
	file := filepath.Join(t.TempDir(), "rec.jsonl")
	if err := os.WriteFile(file, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, stderr, err := run(t, replayRun, file, "--against", srv.URL, "--diff-db", "sqlite:"+filepath.Join(dir, "r.db"), "--out", dir)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !strings.Contains(string(html), "<title>Replay of "+file+" against "+srv.URL+"</title>") {
		t.Errorf("the replay's report is not titled with its file and target (%v)", err)
	}
	for _, want := range []string{"ROUTE", infoRoute, "... and 10 more differing pairs", "rate limiting", "--rate-reads -1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := strings.Count(out, "different: "); got != 20 {
		t.Errorf("%d differing pairs listed; want 20", got)
	}
	if !strings.Contains(stderr, "replayed 30/30 pairs") {
		t.Errorf("no final progress line in %q", stderr)
	}
}

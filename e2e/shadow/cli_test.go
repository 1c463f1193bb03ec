package shadow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/recorder"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/native"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/userapi"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// binary builds cmd/weaveproxy once per test binary: the CLI tests run
// the real program, flags and exit codes included.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "weaveproxy-shadow-bin-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "weaveproxy")
	if b, err := exec.Command("go", "build", "-o", out, "github.com/weaveproxy/weaveproxy/cmd/weaveproxy").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, b)
	}
	return out, nil
})

// run runs the binary in dir and returns its output and whether it
// succeeded.
func run(t *testing.T, dir string, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatal(err)
	}
	return o.String(), e.String(), err == nil
}

// nativeServer is the native server on a fresh SQLite database.
func nativeServer(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	eng, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "weave.db"), sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	nat, err := native.New(native.Config{Engine: eng, Registration: userapi.Open, QuotaKB: 5000})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(nat)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCLIReplayReportAndGate(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, ok := run(t, dir, "report", "--out", "r"); ok || !strings.Contains(stderr, "no diff store") {
		t.Fatalf("report without a store: ok=%v %s", ok, stderr)
	}
	out, stderr, ok := run(t, dir, "replay", recordings(), "--against", nativeServer(t), "--out", "replayed")
	if !ok {
		t.Fatalf("replay: %s\n%s", out, stderr)
	}
	m := regexp.MustCompile(`match rate: ([0-9.]+) \((\d+)/(\d+)\)`).FindStringSubmatch(out)
	if m == nil || m[3] != "137" {
		t.Fatalf("replay output has no match rate over 137 pairs:\n%s", out)
	}
	t.Logf("replay match rate %s (%s/%s)", m[1], m[2], m[3])
	// With its default waivers (known PHP 8 defects, deliberate
	// differences, the recorded session's consequences of them) every
	// recorded pair matches or is accepted with its reason.
	if m[2] != m[3] {
		t.Errorf("weaveproxy replay of the recordings against native: %s of %s pairs matched or accepted, want all:\n%s", m[2], m[3], out)
	}
	checkReport(t, filepath.Join(dir, "replayed"))

	// report reads the replay's store when named.
	const db = "sqlite:weaveproxy-replay.db"
	if out, stderr, ok := run(t, dir, "report", "--out", "again", "--diff-db", db); !ok {
		t.Fatalf("report: %s\n%s", out, stderr)
	}
	checkReport(t, filepath.Join(dir, "again"))

	// The gate on the replay's record: refused, forced, demoted.
	route := "GET /{version}/{user}/info/collections"
	file := filepath.Join(dir, "routes.yaml")
	src := "# ops notes stay\nlegacy:\n  url: http://127.0.0.1:1\nroutes:\n  - match: \"" + route + "\"\n    mode: shadow\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, ok = run(t, dir, "routes", "promote", route, "--diff-db", db, "--min-pairs", "100000")
	if ok || !strings.Contains(stderr, "not ready") || mode(t, file, route) != routes.Shadow {
		t.Fatalf("promote with too few pairs: ok=%v %s, mode %s", ok, stderr, mode(t, file, route))
	}
	_, stderr, ok = run(t, dir, "routes", "promote", route, "--diff-db", db, "--min-pairs", "100000", "--force", "--by", "ops")
	if !ok || !strings.Contains(stderr, "by force") || mode(t, file, route) != routes.Native {
		t.Fatalf("forced promote: ok=%v %s, mode %s", ok, stderr, mode(t, file, route))
	}
	if _, stderr, ok = run(t, dir, "routes", "demote", route); !ok || mode(t, file, route) != routes.Legacy {
		t.Fatalf("demote: ok=%v %s", ok, stderr)
	}
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), "# ops notes stay") {
		t.Fatalf("routes file lost its comments:\n%s", b)
	}
}

func checkReport(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Routes []map[string]any `json:"routes"`
	}
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Routes) == 0 {
		t.Fatalf("report.json: %v, %d routes", err, len(rep.Routes))
	}
	for _, k := range []string{"route", "pairs", "identical", "equal_after_rules", "noise", "different"} {
		if _, ok := rep.Routes[0][k]; !ok {
			t.Errorf("report.json routes[0] has no %q", k)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "report.html")); err != nil || st.Size() == 0 {
		t.Fatalf("report.html: %v", err)
	}
}

func mode(t *testing.T, file, route string) routes.Mode {
	t.Helper()
	tb, err := routes.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return tb.Lookup(route).Mode
}

func TestCLIWaivers(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "d.db")
	// A waiver needs a record that saw the difference: none is created
	// by a mistyped --diff-db.
	if _, stderr, ok := run(t, dir, "diff", "accept", "--diff-db", db, "--route", "GET /{version}/{user}/info/quota",
		"--path", "body[1]", "--reason", "r", "--by", "qa"); ok || !strings.Contains(stderr, "no diff store") {
		t.Fatalf("accept on no store: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "d.db")); err == nil {
		t.Fatal("diff accept created an empty store")
	}
	recordQuotaDifference(t, db)
	out, stderr, ok := run(t, dir, "diff", "accept", "--diff-db", db, "--route", "GET /{version}/{user}/info/quota",
		"--path", "body[1]", "--reason", "quota is configured per deployment", "--by", "qa")
	id := strings.TrimPrefix(strings.TrimSpace(out), "accepted ")
	if !ok || id == "" || strings.Contains(id, " ") {
		t.Fatalf("accept: %q %s", out, stderr)
	}
	if _, _, ok := run(t, dir, "diff", "accept", "--diff-db", db, "--route", "*", "--path", "body", "--by", "qa"); ok {
		t.Fatal("a waiver without a reason was accepted")
	}
	if out, _, _ = run(t, dir, "diff", "list", "--diff-db", db); !strings.Contains(out, id) || !strings.Contains(out, "per deployment") {
		t.Fatalf("list: %s", out)
	}
	if _, stderr, ok = run(t, dir, "diff", "revoke", id, "--diff-db", db, "--by", "qa"); !ok {
		t.Fatalf("revoke: %s", stderr)
	}
	if out, _, _ = run(t, dir, "diff", "list", "--diff-db", db); strings.Contains(out, id) {
		t.Fatalf("revoked waiver still listed as active: %s", out)
	}
	if out, _, _ = run(t, dir, "diff", "list", "--all", "--diff-db", db); !strings.Contains(out, id) || !strings.Contains(out, "by qa") {
		t.Fatalf("list --all: %s", out)
	}
	if out, stderr, ok = run(t, dir, "diff", "seed-known-defects", "--diff-db", db, "--by", "qa"); !ok || !strings.Contains(out, "accepted 3") {
		t.Fatalf("seed: %s %s", out, stderr)
	}
}

// recordQuotaDifference stores one info/quota pair whose quota differs
// (body[1]), as a shadowed request would.
func recordQuotaDifference(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := http.Header{"Content-Type": {"application/json"}}
	p := diff.Pair{Route: "GET /{version}/{user}/info/quota", At: time.Now(),
		Request: diff.Exchange{Method: "GET", Path: "/1.0/alice/info/quota", Header: http.Header{}},
		Legacy:  diff.Answer{Status: 200, Header: h, Body: []byte("[1,5000]")},
		Native:  diff.Answer{Status: 200, Header: h, Body: []byte("[1,5120]")}}
	if _, err := recorder.New(st, nil).Observe(ctx, p); err != nil {
		t.Fatal(err)
	}
}

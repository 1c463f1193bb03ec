package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// freeAddr returns a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--quota-kb", "-5"}, "--quota-kb"},
		{[]string{"--memcache", "bad"}, `--memcache "bad": want HOST:PORT`},
		{[]string{"--memcache", "127.0.0.1:11211,cache"}, `--memcache "cache"`},
		{[]string{"--memcache", "127.0.0.1:x"}, `--memcache "127.0.0.1:x"`},
		{[]string{"--listen", "8080"}, "--listen"},
		{[]string{"--admin-listen", "9090"}, `--admin-listen "9090"`},
		// Both wrong: the same one is named every run.
		{[]string{"--listen", "8080", "--admin-listen", "9090"}, `--listen "8080"`},
		{[]string{"--memcache-timeout", "0s"}, "--memcache-timeout"},
		{[]string{"--gomaxprocs", "-1"}, "--gomaxprocs"},
		{[]string{"--gogc", "0"}, "--gogc"},
		{[]string{"--gogc", "-2"}, "--gogc"},
	} {
		dir := t.TempDir()
		args := append([]string{"--db", "sqlite:" + filepath.Join(dir, "weave.db")}, tc.args...)
		err := runServe(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v; want %q", tc.args, err, tc.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "weave.db")); err == nil {
			t.Errorf("%v: the database was created before the settings were refused", tc.args)
		}
	}
}

// A taken port fails before anything is created, and with --log-format
// json the fatal error is a json log line, not plain text.
func TestServeBindsFirstAndLogsFatalErrorsInFormat(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	err = runServe(context.Background(), []string{"--db", "sqlite:" + filepath.Join(dir, "weave.db"),
		"--listen", taken.Addr().String(), "--admin-listen", freeAddr(t), "--log-format", "json"}, &bytes.Buffer{}, &stderr)
	if !errors.As(err, new(reportedError)) || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("err = %v; want the listen error, reported", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "weave.db")); err == nil {
		t.Error("weave.db was created although the port was taken")
	}
	var line struct{ Level, Msg, Err string }
	out := strings.TrimSpace(stderr.String())
	last := out[strings.LastIndex(out, "\n")+1:]
	if err := json.Unmarshal([]byte(last), &line); err != nil || line.Level != "ERROR" || !strings.Contains(line.Err, "listen") {
		t.Errorf("fatal error not a json log line: %q (%v)", last, err)
	}
}

// startServe runs serve on SQLite in a temporary directory with args
// added, waits until it says it is listening, and returns its address,
// its log and stop, which ends it as SIGTERM would and returns its error.
func startServe(t *testing.T, args ...string) (addr string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	dir := t.TempDir()
	addr = freeAddr(t)
	stderr = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, append([]string{"--db", "sqlite:" + filepath.Join(dir, "weave.db"), "--listen", addr,
			"--admin-listen", "", "--cef-file", filepath.Join(dir, "cef.log")}, args...), &bytes.Buffer{}, stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "listening") {
		select {
		case err := <-done:
			t.Fatalf("serve ended before listening: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("never listened:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, stderr, func() error {
		cancel()
		return <-done
	}
}

// Stopping says so: draining, then stopped.
func TestServeLogsShutdown(t *testing.T) {
	addr, stderr, stop := startServe(t)
	res, err := http.Get("http://" + addr + "/__heartbeat__")
	if err != nil {
		t.Fatalf("server never answered: %v\n%s", err, stderr.String())
	}
	res.Body.Close()
	if err := stop(); err != nil { // what SIGTERM does through signal.NotifyContext
		t.Fatal(err)
	}
	out := stderr.String()
	if !strings.Contains(out, "draining in-flight requests") || !strings.Contains(out, "msg=stopped") {
		t.Errorf("shutdown not logged:\n%s", out)
	}
}

// $GOGC is --gogc's default, off included: the operator who turned the
// collector off keeps it off.
func TestDefaultGOGC(t *testing.T) {
	for env, want := range map[string]int{"": 400, "250": 250, "off": -1, "junk": 400} {
		t.Setenv("GOGC", env)
		if got := defaultGOGC(); got != want {
			t.Errorf("GOGC=%q: --gogc defaults to %d; want %d", env, got, want)
		}
	}
}

// --gomaxprocs caps the runtime and --gogc sets the collector while serve
// runs (and says so at start); the values before are back once it has
// stopped.
func TestServeGOMAXPROCS(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	gcBefore := debug.SetGCPercent(100)
	debug.SetGCPercent(gcBefore)
	want := 1
	if before == 1 {
		want = 2
	}
	_, stderr, stop := startServe(t, "--gomaxprocs", strconv.Itoa(want), "--gogc", "250")
	if got := runtime.GOMAXPROCS(0); got != want {
		t.Errorf("GOMAXPROCS while serving = %d; want %d", got, want)
	}
	if got := debug.SetGCPercent(-1); got != 250 {
		t.Errorf("GOGC while serving = %d; want 250", got)
	}
	debug.SetGCPercent(250)
	if !strings.Contains(stderr.String(), "gomaxprocs="+strconv.Itoa(want)) {
		t.Errorf("the start-up log does not say gomaxprocs=%d:\n%s", want, stderr.String())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after serve = %d; want %d back", got, before)
	}
	if got := debug.SetGCPercent(gcBefore); got != gcBefore {
		t.Errorf("GOGC after serve = %d; want %d back", got, gcBefore)
	}
}

// An unreachable legacy is said at start; native routes still serve.
func TestServeWarnsWhenLegacyUnreachable(t *testing.T) {
	dir := t.TempDir()
	routesPath := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(routesPath, []byte("legacy:\n  url: http://"+freeAddr(t)+"\ndefault: native\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, stderr, stop := startServe(t, "--routes", routesPath, "--diff-db", "sqlite:"+filepath.Join(dir, "diff.db"))
	if !strings.Contains(stderr.String(), "legacy server not reachable at start") {
		t.Errorf("no start-up warning about legacy:\n%s", stderr.String())
	}
	res, err := http.Get("http://" + addr + "/user/1.0/nobody")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("native route answered %d with legacy down", res.StatusCode)
	}
	stop()
}

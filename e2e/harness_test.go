package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// binary builds cmd/weaveproxy once per test binary: the e2e tests run the
// real program, flags and all, not its packages.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "weaveproxy-e2e-bin-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "weaveproxy")
	// Built as scripts/dist.sh builds the release (static, -trimpath), so
	// the tests run what ships and the dist test reuses the build cache.
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "github.com/weaveproxy/weaveproxy/cmd/weaveproxy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, b)
	}
	return out, nil
})

// server is a running weaveproxy process.
type server struct {
	URL   string // the Sync listener
	Admin string // the admin listener
	Dir   string // its working directory
	proc  *testenv.Process
}

// startServer runs `weaveproxy serve` with args in a fresh working
// directory, on free loopback ports unless args name them.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	admin := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	all := append([]string{"serve", "--listen", listen, "--admin-listen", admin}, args...)
	if slices.Contains(args, "--memcache") && !slices.Contains(args, "--memcache-timeout") {
		// The production 100ms reads a memcached slowed by a loaded test
		// machine as down, and instances then stop sharing lockout and
		// budget counters; the tests are about sharing, not that timeout.
		all = append(all, "--memcache-timeout", "1s")
	}
	if !slices.Contains(args, "--shadow-min-idle") {
		// A loaded test machine has little idle CPU, and shadow work
		// would be shed (cpu_busy); the tests are about what it compares.
		all = append(all, "--shadow-min-idle", "-1")
	}
	return startBinary(t, bin, t.TempDir(), listen, admin, all...)
}

// startBinary runs bin with args in dir and waits for listen to answer.
// The process starts in dir so that the defaults (weave.db, cef.log) land
// there, as they would for an operator running it with no flags.
func startBinary(t testing.TB, bin, dir, listen, admin string, args ...string) *server {
	t.Helper()
	script := "cd " + shellQuote(dir) + " && exec " + shellQuote(bin) + " " + joinQuoted(args)
	p := testenv.StartProcess(t, "sh", []string{"-c", script}, os.Environ(), listen)
	return &server{URL: "http://" + listen, Admin: "http://" + admin, Dir: dir, proc: p}
}

// stop ends the server as systemd would (SIGTERM) and fails t unless it
// exits by itself.
func (s *server) stop(t testing.TB) {
	t.Helper()
	if err := s.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for s.proc.Running() {
		if time.Now().After(deadline) {
			t.Fatalf("server still running 60s after SIGTERM\n%s", s.proc.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func joinQuoted(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// client speaks to a server as one Sync user.
type client struct {
	t    testing.TB
	base string
	user string
	pass string
	http *http.Client
}

func newClient(t testing.TB, base, user, pass string) *client {
	return &client{t: t, base: base, user: user, pass: pass, http: &http.Client{Timeout: 30 * time.Second}}
}

// response is an answer read whole.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// do sends one request; auth adds the user's Basic credentials.
func (c *client) do(method, path, body string, auth bool, hdr ...string) response {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if auth {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.pass)))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// want fails the test unless r has the status and, when body is not
// empty, exactly that body.
func (r response) want(t testing.TB, what string, status int, body string) response {
	t.Helper()
	if r.Status != status || (body != "" && r.Body != body) {
		t.Fatalf("%s: got %d %q, want %d %q", what, r.Status, r.Body, status, body)
	}
	return r
}

// clearOfWindowEdge waits, when less than need is left of the current
// rate-limit window, until the next one starts. Budgets count in fixed
// windows aligned to the epoch (ratelimit): a test that spends a budget
// and expects the refusal must not straddle a window's edge, or the
// count starts over halfway and the refusal never comes.
func clearOfWindowEdge(t testing.TB, window, need time.Duration) {
	t.Helper()
	now := time.Now()
	left := now.Truncate(window).Add(window).Sub(now)
	if left < need {
		t.Logf("waiting %v for a fresh %v rate-limit window", left.Round(time.Millisecond), window)
		time.Sleep(left + 50*time.Millisecond)
	}
}

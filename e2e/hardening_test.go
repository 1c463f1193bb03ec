package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// closedWithin reports whether the server closes conn (EOF or reset on
// read) before limit passes; whatever it answers first is read and
// dropped.
func closedWithin(t *testing.T, conn net.Conn, limit time.Duration) bool {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// TestConnectionsTimeOut (issue 10 item 3): a client that announces a
// gigabyte and sends a few bytes, and a keep-alive connection left idle,
// are both cut off by the server, on the Sync and the admin listener.
// Before --body-timeout and --idle-timeout both stayed open for good.
func TestConnectionsTimeOut(t *testing.T) {
	s := startServer(t, "--body-timeout", "1s", "--idle-timeout", "1s", "--header-timeout", "2s")
	for _, base := range []string{s.URL, s.Admin} {
		addr := strings.TrimPrefix(base, "http://")

		slow, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		io.WriteString(slow, "PUT /user/1.0/slowpoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
			"Content-Length: 1073741824\r\n\r\n{\"pass")
		if !closedWithin(t, slow, 20*time.Second) {
			t.Errorf("%s: a trickled body held its connection past the body deadline", base)
		}

		idle, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(idle)
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 ") {
			t.Fatalf("%s: first answer %q, %v", base, line, err)
		}
		if !closedWithin(t, idle, 20*time.Second) {
			t.Errorf("%s: an idle keep-alive connection stayed open past the idle timeout", base)
		}
	}
}

// metricSum adds up the samples of the admin API's /metrics whose line
// starts with prefix.
func metricSum(t *testing.T, s *server, prefix string) float64 {
	t.Helper()
	resp, err := http.Get(s.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			sum += v
		}
	}
	return sum
}

// TestLockoutWithMemcachedOut (issue 10 items 6 and 11): with memcached
// killed or frozen (SIGSTOP: it accepts connections and never answers),
// wrong passwords still lock the account, and the lockout path backs off
// instead of waiting out a memcache timeout on every request. Before,
// lockout failed open (the right password after 20 wrong ones got 200)
// and asked the dead memcached on every request.
func TestLockoutWithMemcachedOut(t *testing.T) {
	for _, how := range []string{"killed", "frozen"} {
		t.Run(how, func(t *testing.T) {
			mc := testenv.StartMemcached(t)
			s := startServer(t, "--memcache", mc.Addr, "--lockout-max-failures", "10")
			user := "mc" + how
			good := newClient(t, s.URL, user, "correct horse battery")
			good.do("PUT", "/user/1.0/"+user, `{"password":"correct horse battery"}`, false).want(t, "create", 200, user)
			good.do("GET", "/1.0/"+user+"/info/collections", "", true).want(t, "login", 200, "")

			if how == "killed" {
				mc.Stop()
			} else {
				if err := mc.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				defer mc.Signal(syscall.SIGCONT)
			}
			start := time.Now()
			for i := 0; i < 20; i++ {
				bad := newClient(t, s.URL, user, fmt.Sprintf("wrong %d", i))
				if r := bad.do("GET", "/1.0/"+user+"/info/collections", "", true); r.Status != 401 {
					t.Fatalf("wrong password %d: %d %q", i, r.Status, r.Body)
				}
			}
			good.do("GET", "/1.0/"+user+"/info/collections", "", true).want(t, "right password after 20 wrong", 401, `"Account locked"`)
			elapsed := time.Since(start)
			// One failed memcache operation per back-off second (plus the
			// one that starts each back-off): not one per request.
			errs := metricSum(t, s, `weaveproxy_memcache_errors_total{op="counter_`)
			if limit := elapsed.Seconds() + 3; errs > limit {
				t.Errorf("%v counter operations failed in %v: the lockout path does not back off", errs, elapsed)
			}
		})
	}
}

// answer is a response without the headers that vary by the second.
func (r response) comparable() string {
	h := r.Header.Clone()
	for _, k := range []string{"Date", "X-Weave-Timestamp", "Retry-After"} {
		h.Del(k)
	}
	return fmt.Sprintf("%d %v %q", r.Status, h, r.Body)
}

// TestGuessingThroughLegacyRoutes (issue 10 items 2 and 7): wrong
// passwords sent to a route forwarded to PHP count towards lockout and
// are logged, the lock then holds on every route whatever the mode, and
// a locked account answers the same whatever password is sent. Before,
// only native routes counted: 15 wrong passwords then the right one got
// 200, with no AuthFail in the CEF log.
func TestGuessingThroughLegacyRoutes(t *testing.T) {
	s := startStack(t, "default: legacy\nroutes:\n  - match: \"GET /{version}/{user}/info/quota\"\n    mode: native\n",
		stackOptions{extra: []string{"--lockout-max-failures", "5"}})
	good := newUser(t, s.Proxy.URL, s.Proxy.URL, "guessme")
	good.do("GET", "/1.0/guessme/info/collections", "", true).want(t, "login through legacy", 200, "")
	for i := 0; i < 5; i++ {
		bad := newClient(t, s.Proxy.URL, "guessme", fmt.Sprintf("guess %d", i))
		if r := bad.do("GET", "/1.0/guessme/info/collections", "", true); r.Status != 401 {
			t.Fatalf("guess %d through legacy: %d %q", i, r.Status, r.Body)
		}
	}
	var first response
	for i, path := range []string{"/1.0/guessme/info/collections", "/1.0/guessme/info/quota",
		"/1.1/guessme/storage/bookmarks", "/user/1.0/guessme/email"} {
		right := good.do("GET", path, "", true).want(t, "right password once locked: "+path, 401, `"Account locked"`)
		wrong := newClient(t, s.Proxy.URL, "guessme", "wrong again").do("GET", path, "", true)
		if right.Header.Get("Retry-After") == "" {
			t.Errorf("%s: locked answer without Retry-After", path)
		}
		if right.comparable() != wrong.comparable() {
			t.Errorf("%s: a locked account answers differently with the right password:\nright %s\nwrong %s",
				path, right.comparable(), wrong.comparable())
		}
		if i == 0 {
			first = right
		} else if right.comparable() != first.comparable() {
			t.Errorf("%s: locked answer differs between legacy and native routes:\n%s\n%s", path, first.comparable(), right.comparable())
		}
	}
	b, _ := os.ReadFile(filepath.Join(s.Proxy.Dir, "cef.log"))
	if n := strings.Count(string(b), "|AuthFail|"); n < 5 {
		t.Errorf("%d AuthFail events for 5 wrong passwords on a legacy route:\n%s", n, b)
	}
	if !strings.Contains(string(b), "|AccountLocked|") {
		t.Errorf("no AccountLocked event")
	}
	if strings.Contains(string(b), "guess ") || strings.Contains(string(b), "correct horse") {
		t.Errorf("a password reached cef.log")
	}
}

// TestStrangersCannotSpendAUsersBudget (issue 10 item 1): requests
// without valid credentials were charged to the user named in the path:
// a stranger's 601 requests cut the victim's sync off with 503 and
// X-Weave-Backoff. Now they spend the stranger's address's budget, on
// native and legacy routes alike, and the victim is untouched.
func TestStrangersCannotSpendAUsersBudget(t *testing.T) {
	s := startStack(t, "default: legacy\nroutes:\n  - match: \"GET /{version}/{user}/info/quota\"\n    mode: native\n",
		stackOptions{extra: []string{"--rate-reads", "10", "--trusted-proxies", "127.0.0.1"}})
	victim := newUser(t, s.Proxy.URL, s.Proxy.URL, "victim")
	for _, path := range []string{"/1.0/victim/info/collections", "/1.0/victim/info/quota"} {
		stranger := newClient(t, s.Proxy.URL, "victim", "not the password")
		limited := 0
		for i := 0; i < 12; i++ {
			// The stranger comes through the trusted front proxy (its
			// X-Forwarded-For names the stranger's address), half the
			// time with a wrong password: the budget per address is 10.
			r := stranger.do("GET", path, "", i%2 == 0, "X-Forwarded-For", "203.0.113.50")
			if r.Status == 503 {
				limited++
			}
		}
		if limited == 0 {
			t.Errorf("%s: 12 stranger requests from one address, none limited", path)
		}
		victim.do("GET", path, "", true).want(t, "victim after a stranger's flood on "+path, 200, "")
	}
	// The victim's own budget still works.
	limited := false
	for i := 0; i < 12 && !limited; i++ {
		limited = victim.do("GET", "/1.0/victim/info/collections", "", true).Status == 503
	}
	if !limited {
		t.Error("the victim's own 12 reads were never limited by a budget of 10")
	}
}

// TestDotSegmentsRefused (issue 10 item 8): a path with .. or %2e%2e was
// forwarded raw to PHP, past the route table, budgets and user checks.
func TestDotSegmentsRefused(t *testing.T) {
	s := startStack(t, "default: legacy\n", stackOptions{})
	newUser(t, s.Proxy.URL, s.Proxy.URL, "dotty")
	for _, p := range []string{"/1.0/x/../dotty/info/collections", "/1.0/x/%2e%2e/dotty/info/collections",
		"/1.0/dotty/storage/..%2f..%2fuser/1.0/dotty", "/user/1.0/x/%2E%2E/dotty"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.Proxy.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", p, resp.StatusCode)
		}
	}
}

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"weaveproxy/e2e/testenv"
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

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// slowLegacy is a real PHP process that answers as slowly as asked
// (e2e/testdata/slow.php) and records how many requests it had at once.
type slowLegacy struct {
	*testenv.PHP
	dir string
}

func startSlowLegacy(t *testing.T) *slowLegacy {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "inflight"), 0o755); err != nil {
		t.Fatal(err)
	}
	td, _ := filepath.Abs("testdata")
	php := testenv.StartPHP(t, td, filepath.Join(td, "slow.php"),
		map[string]string{"SLOW_DIR": dir, "PHP_CLI_SERVER_WORKERS": "8"})
	// php -S with workers accepts on its port before its workers serve,
	// and resets the first connections meanwhile: wait for a real answer,
	// or the proxy under test counts those resets as legacy failures and
	// its breaker opens before the test begins. Then forget the pings.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(php.URL + "/?ms=0")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slow legacy never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(filepath.Join(dir, "concurrency"))
	return &slowLegacy{PHP: php, dir: dir}
}

// seen is how many requests reached it, and the most it had at once.
func (s *slowLegacy) seen(t *testing.T) (n, most int) {
	b, _ := os.ReadFile(filepath.Join(s.dir, "concurrency"))
	for _, f := range strings.Fields(string(b)) {
		v, _ := strconv.Atoi(f)
		n, most = n+1, max(most, v)
	}
	return n, most
}

// proxyTo starts weaveproxy forwarding everything to url with the given
// legacy settings.
func proxyTo(t *testing.T, url, settings string) *server {
	t.Helper()
	routes := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(routes, []byte("legacy:\n  url: "+url+"\n"+settings+"default: legacy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return startServer(t, "--routes", routes)
}

// concurrently sends n GETs of path at once and returns their answers.
func concurrently(t *testing.T, base, path string, n int) []response {
	t.Helper()
	out := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 90 * time.Second}
			resp, err := c.Get(base + path)
			if err != nil {
				out[i] = response{Status: -1, Body: err.Error()}
				return
			}
			resp.Body.Close()
			out[i] = response{Status: resp.StatusCode, Header: resp.Header}
		}()
	}
	wg.Wait()
	return out
}

// TestSlowLegacyConnectionsCapped (issue 10 item 11): with legacy slow,
// the proxy opened one upstream connection per waiting client (enough to
// exhaust php-fpm's workers) and held each for the full timeout. Now
// connections are capped and a request that finds none free within
// queue_timeout is answered 503 with back-off.
func TestSlowLegacyConnectionsCapped(t *testing.T) {
	slow := startSlowLegacy(t)
	s := proxyTo(t, slow.URL, "  max_connections: 2\n  queue_timeout: 1s\n")
	answers := concurrently(t, s.URL, "/slow?ms=4000", 6)
	ok, busy := 0, 0
	for _, a := range answers {
		switch {
		case a.Status == 200:
			ok++
		case a.Status == 503 && a.Header.Get("X-Weave-Backoff") != "" && a.Header.Get("Retry-After") != "":
			busy++
		default:
			t.Errorf("answer %d %v", a.Status, a.Header)
		}
	}
	if _, most := slow.seen(t); most > 2 {
		t.Errorf("legacy had %d requests at once, cap is 2", most)
	}
	if ok+busy != 6 || busy < 2 {
		t.Errorf("%d answered by legacy, %d refused busy", ok, busy)
	}
}

// TestBreakerReleasesWaitingRequests (issue 10 item 11): requests already
// waiting on a slow legacy when the breaker opened were held for the full
// response timeout. Now they get the breaker's 503 at once, with a
// back-off equal to how long the breaker stays open (one setting).
func TestBreakerReleasesWaitingRequests(t *testing.T) {
	slow := startSlowLegacy(t)
	s := proxyTo(t, slow.URL, "  response_header_timeout: 60s\n  breaker:\n    failures: 2\n    open_for: 7s\n")
	// One at a time, each in PHP before the next is sent: a php -S
	// worker that accepted a connection may accept a second one before
	// it starts the first one's 40 s script, and then holds it unseen
	// (under load this kept the test waiting out its 20 s).
	answers := make(chan response, 3)
	for i := 1; i <= 3; i++ {
		go func() { answers <- concurrently(t, s.URL, "/slow?ms=40000", 1)[0] }()
		waitFor(t, fmt.Sprintf("slow request %d at legacy", i), func() bool { n, _ := slow.seen(t); return n >= i })
	}
	done := make(chan []response)
	go func() { done <- []response{<-answers, <-answers, <-answers} }()
	c := newClient(t, s.URL, "", "")
	for i := 0; i < 2; i++ {
		c.do("GET", "/slow?status=502", "", false).want(t, "failing request", 502, "")
	}
	select {
	case answers := <-done:
		for _, a := range answers {
			if a.Status != 503 || a.Header.Get("X-Weave-Backoff") != "7" || a.Header.Get("Retry-After") != "7" {
				t.Errorf("waiting request when the breaker opened: %d, back-off %q, Retry-After %q",
					a.Status, a.Header.Get("X-Weave-Backoff"), a.Header.Get("Retry-After"))
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatal("requests waiting on legacy were not released when the breaker opened")
	}
}

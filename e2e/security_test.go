package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// twoInstances starts two native servers on one MariaDB database and one
// memcached, as a small cluster behind a load balancer would run.
func twoInstances(t *testing.T, extra ...string) (a, b *server, mc *testenv.Memcached) {
	t.Helper()
	dsn := testenv.MariaDB(t)
	mc = testenv.StartMemcached(t)
	args := append([]string{"--db", "mysql:" + dsn, "--memcache", mc.Addr, "--registration", "open"}, extra...)
	return startServer(t, args...), startServer(t, args...), mc
}

// TestLockoutAcrossInstances: failures counted on either instance lock
// the account on both; the lock holds whatever password is sent; the
// admin command lifts it.
func TestLockoutAcrossInstances(t *testing.T) {
	a, b, mc := twoInstances(t, "--lockout-max-failures", "4")
	good := newClient(t, a.URL, "lockme", "correct horse battery")
	good.do("PUT", "/user/1.0/lockme", `{"password":"correct horse battery"}`, false).want(t, "create", 200, "lockme")
	good.do("GET", "/1.0/lockme/info/collections", "", true).want(t, "login", 200, "")

	for i := 0; i < 4; i++ {
		srv := []*server{a, b}[i%2]
		bad := newClient(t, srv.URL, "lockme", fmt.Sprintf("wrong %d", i))
		r := bad.do("GET", "/1.0/lockme/info/collections", "", true)
		if r.Status != 401 {
			t.Fatalf("failure %d answered %d", i, r.Status)
		}
	}
	for _, srv := range []*server{a, b} {
		c := newClient(t, srv.URL, "lockme", "correct horse battery")
		r := c.do("GET", "/1.0/lockme/info/collections", "", true).want(t, "locked, right password", 401, `"Account locked"`)
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("locked answer without Retry-After")
		}
	}

	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cefFile := filepath.Join(t.TempDir(), "cef.log")
	out, err := exec.Command(bin, "user", "unlock", "lockme", "--memcache", mc.Addr, "--cef-file", cefFile).CombinedOutput()
	if err != nil {
		t.Fatalf("user unlock: %v\n%s", err, out)
	}
	for _, srv := range []*server{a, b} {
		newClient(t, srv.URL, "lockme", "correct horse battery").
			do("GET", "/1.0/lockme/info/collections", "", true).want(t, "after unlock", 200, "")
	}
	if b, _ := os.ReadFile(cefFile); !strings.Contains(string(b), "|AccountUnlocked|") {
		t.Errorf("unlock logged no AccountUnlocked CEF event: %q", b)
	}
	locked := false
	for _, srv := range []*server{a, b} {
		b, _ := os.ReadFile(filepath.Join(srv.Dir, "cef.log"))
		locked = locked || strings.Contains(string(b), "|AccountLocked|")
		if strings.Contains(string(b), "wrong ") || strings.Contains(string(b), "correct horse") {
			t.Errorf("a password reached cef.log:\n%s", b)
		}
	}
	if !locked {
		t.Errorf("no instance logged an AccountLocked CEF event")
	}
}

// TestRateLimitAcrossInstances: one user's budget is shared by both
// instances through memcached.
func TestRateLimitAcrossInstances(t *testing.T) {
	a, b, _ := twoInstances(t, "--rate-reads", "10")
	c := newClient(t, a.URL, "ratey", "correct horse battery")
	c.do("PUT", "/user/1.0/ratey", `{"password":"correct horse battery"}`, false).want(t, "create", 200, "ratey")
	limited := 0
	clearOfWindowEdge(t, time.Minute, 15*time.Second)
	for i := 0; i < 14; i++ {
		c.base = []*server{a, b}[i%2].URL
		r := c.do("GET", "/1.0/ratey/info/collections", "", true)
		switch r.Status {
		case 200:
		case 503:
			limited++
			if r.Header.Get("Retry-After") == "" || r.Header.Get("X-Weave-Backoff") == "" {
				t.Errorf("rate-limited answer without back-off headers: %v", r.Header)
			}
		default:
			t.Fatalf("request %d: %d %q", i, r.Status, r.Body)
		}
	}
	// The window is a minute; at most one boundary can fall inside the loop.
	if limited < 2 {
		t.Fatalf("%d of 14 reads limited with a budget of 10 shared by two instances", limited)
	}
}

// TestMemcachedKilled: with memcached gone every request still succeeds
// from the database, and once it is back no answer is stale.
func TestMemcachedKilled(t *testing.T) {
	a, b, mc := twoInstances(t)
	c := newClient(t, a.URL, "cachey", "correct horse battery")
	c.do("PUT", "/user/1.0/cachey", `{"password":"correct horse battery"}`, false).want(t, "create", 200, "cachey")
	put := func(srv *server, id string) string {
		c.base = srv.URL
		return c.do("PUT", "/1.1/cachey/storage/forms/"+id, `{"payload":"x"}`, true).want(t, "put "+id, 200, "").Body
	}
	info := func(srv *server) string {
		c.base = srv.URL
		return c.do("GET", "/1.1/cachey/info/collections", "", true).want(t, "info", 200, "").Body
	}
	put(a, "one")
	info(a)
	info(b) // both instances have it cached now

	mc.Stop()
	ts := put(a, "two") // written while memcached is down: nobody can be told
	for _, srv := range []*server{a, b} {
		if got := info(srv); got != `{"forms":`+ts+`}` {
			t.Fatalf("with memcached down, info = %s, want forms at %s", got, ts)
		}
	}
	mc.Start(t)
	for i := 0; i < 3; i++ {
		for _, srv := range []*server{a, b} {
			if got := info(srv); got != `{"forms":`+ts+`}` {
				t.Fatalf("after memcached restart, info = %s: stale (want forms at %s)", got, ts)
			}
		}
	}
	ts2 := put(b, "three")
	if got := info(a); got != `{"forms":`+ts2+`}` {
		t.Fatalf("write on one instance, read on the other: %s, want %s", got, ts2)
	}
	c.base = a.URL
	c.do("GET", "/1.1/cachey/info/collection_counts", "", true).want(t, "counts", 200, `{"forms":3}`)
}

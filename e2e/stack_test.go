package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// stack is the migration as Ops run it: MariaDB holding the legacy
// schema, the PHP server on it, and weaveproxy in front of both, sharing
// the database (and memcached, when there is one).
type stack struct {
	DSN    string
	PHP    *testenv.PHP
	Proxy  *server
	MC     *testenv.Memcached // nil without memcache
	Routes string             // the routes.yaml the proxy reads
}

type stackOptions struct {
	legacy   legacy.Starter // the PHP server; nil is the stand-in
	memcache bool
	plant    []string
	extra    []string // more serve flags
}

// startStack starts everything; routes is the body of routes.yaml after
// its legacy block, which startStack writes.
func startStack(t testing.TB, routes string, o stackOptions) *stack {
	t.Helper()
	s := &stack{DSN: testenv.MariaDB(t)}
	dbInit(t, "mysql:"+s.DSN)
	db, err := legacy.DBConfigFromDSN(s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	opts := legacy.Options{Plant: o.plant}
	args := []string{"--db", "mysql:" + s.DSN}
	if o.memcache {
		s.MC = testenv.StartMemcached(t)
		opts.MemcacheAddr = s.MC.Addr
		args = append(args, "--memcache", s.MC.Addr)
	}
	start := o.legacy
	if start == nil {
		start = legacy.Start
	}
	s.PHP = start(t, db, opts)
	s.Routes = filepath.Join(t.TempDir(), "routes.yaml")
	s.writeRoutes(t, routes)
	args = append(args, "--routes", s.Routes)
	s.Proxy = startServer(t, append(args, o.extra...)...)
	return s
}

// writeRoutes replaces routes.yaml; a running proxy picks it up by itself.
func (s *stack) writeRoutes(t testing.TB, routes string) {
	t.Helper()
	body := "legacy:\n  url: " + s.PHP.URL + "\n  breaker:\n    failures: 3\n    open_for: 1s\n    backoff: 30s\n" + routes
	tmp := s.Routes + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.Routes); err != nil {
		t.Fatal(err)
	}
}

// setDefault routes every route to mode and waits until the proxy has
// reloaded the table.
func (s *stack) setDefault(t testing.TB, mode string) {
	t.Helper()
	s.writeRoutes(t, "default: "+mode+"\n")
	waitFor(t, "default mode "+mode, func() bool {
		return s.modeOf(t, "GET /{version}/{user}/storage/{collection}") == mode
	})
}

// dbInit runs `weaveproxy db init`, the command Ops run once against the
// legacy database.
func dbInit(t testing.TB, dsn string) {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "db", "init", "--db", dsn).CombinedOutput()
	if err != nil {
		t.Fatalf("db init: %v\n%s", err, out)
	}
}

// routeStatus is the part of the admin API's GET /routes the tests read.
type routeStatus struct {
	Routes []struct {
		Match string `json:"match"`
		Mode  string `json:"mode"`
	} `json:"routes"`
	Legacy struct {
		Breaker string `json:"breaker"`
	} `json:"legacy"`
	LastReload *struct {
		Error string `json:"error"`
	} `json:"last_reload"`
}

// adminRoutes reads GET /routes from the admin listener.
func (s *stack) adminRoutes(t testing.TB) (routeStatus, string) {
	t.Helper()
	resp, err := http.Get(s.Proxy.Admin + "/routes")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var st routeStatus
	_ = json.Unmarshal(raw, &st)
	return st, string(raw)
}

// waitFor polls cond until it holds or the deadline passes; the deadline
// only keeps a broken build from hanging, it is not what is tested.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// modeOf finds a route's mode in the table in force.
func (s *stack) modeOf(t testing.TB, match string) string {
	st, raw := s.adminRoutes(t)
	for _, r := range st.Routes {
		if r.Match == match {
			return r.Mode
		}
	}
	if !strings.Contains(raw, match) {
		return ""
	}
	return fmt.Sprintf("unparsed: %s", raw)
}

// newUser registers a user through the proxy (the user API stays legacy
// unless a test routes it) and returns a client for it on base.
func newUser(t testing.TB, proxyURL, base, name string) *client {
	t.Helper()
	c := newClient(t, proxyURL, name, "correct horse battery")
	c.do("PUT", "/user/1.0/"+name, `{"password":"correct horse battery","email":"`+name+`@example.com"}`, false).
		want(t, "register "+name, 200, "")
	c.base = base
	return c
}

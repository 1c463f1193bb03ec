package native

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
	"github.com/weaveproxy/weaveproxy/native/userapi"
)

func newServer(t *testing.T) (*Server, *sqlstore.Engine) {
	t.Helper()
	e := storetest.SQLite().Open(t)
	s, err := New(Config{Engine: e, Registration: userapi.Open, QuotaKB: 5120})
	if err != nil {
		t.Fatal(err)
	}
	return s, e
}

func call(t *testing.T, h http.Handler, method, path, body string, auth bool) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if auth {
		r.SetBasicAuth("alice", "correct horse battery")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

// TestRouting checks each entry point reaches its handler.
func TestRouting(t *testing.T) {
	s, _ := newServer(t)
	cases := []struct {
		method, path, body string
		auth               bool
		status             int
		want               string
	}{
		{"GET", "/__heartbeat__", "", false, 200, "OK"},
		{"GET", "/user/1.0/alice", "", false, 200, "0"},
		{"PUT", "/user/1.0/alice", `{"password":"correct horse battery"}`, false, 200, "alice"},
		{"GET", "/user/1/alice", "", false, 200, "1"},
		{"GET", "/1.1/alice/info/collections", "", true, 200, "{}"},
		{"GET", "/1.0/alice/info/collections", "", true, 200, "[]"},
		{"GET", "/1/alice/info/collections", "", true, 200, "{}"},
		{"GET", "/weave-password-reset", "", false, 200, "<form"},
		{"GET", "/2.0/alice/info/collections", "", true, 404, ""},
		{"GET", "/", "", false, 404, ""},
		// Paths are classified by weaveurl, as the proxy's route table does:
		// a real client registers with a trailing slash.
		{"PUT", "/user/1/bob/", `{"password":"correct horse battery"}`, false, 200, "bob"},
		{"GET", "/user/1/BOB/", "", false, 200, "1"},
		{"GET", "/1.1/%61lice/info/collections/", "", true, 200, "{}"},
		{"GET", "/1.1/alice/storage/%2e%2e", "", true, 404, ""},
		{"GET", "/1.1/alice//info/collections", "", true, 404, ""},
		{"GET", "/user/1.1/alice", "", false, 404, ""},
	}
	for _, c := range cases {
		status, body := call(t, s, c.method, c.path, c.body, c.auth)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s %s = %d %q, want %d containing %q", c.method, c.path, status, body, c.status, c.want)
		}
	}
}

// TestDryRunKeepsNothing runs writes of both APIs through DryRun: each
// answers as the real thing would, and the database is unchanged.
func TestDryRunKeepsNothing(t *testing.T) {
	s, e := newServer(t)
	dry := s.DryRun()
	if status, body := call(t, dry, "PUT", "/user/1.0/alice", `{"password":"correct horse battery"}`, false); status != 200 || body != "alice" {
		t.Fatalf("dry-run create = %d %q", status, body)
	}
	if status, body := call(t, s, "GET", "/user/1.0/alice", "", false); body != "0" {
		t.Fatalf("after dry-run create, exists = %d %q: the account was kept", status, body)
	}
	call(t, s, "PUT", "/user/1.0/alice", `{"password":"correct horse battery"}`, false)
	status, body := call(t, dry, "PUT", "/1.1/alice/storage/bookmarks/x", `{"payload":"p"}`, true)
	if status != 200 || len(body) < 10 {
		t.Fatalf("dry-run PUT = %d %q", status, body)
	}
	u, err := e.UserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	stamps, err := e.CollectionTimestamps(context.Background(), u.ID)
	if err != nil || len(stamps) != 0 {
		t.Fatalf("after a dry-run PUT the user has collections %v (%v)", stamps, err)
	}
	if status, _ := call(t, s, "GET", "/1.1/alice/storage/bookmarks/x", "", true); status != 404 {
		t.Fatalf("dry-run item readable afterwards: %d", status)
	}
}

// TestTwoServersTwoEngines: servers are values; two in one process keep
// their data apart.
func TestTwoServersTwoEngines(t *testing.T) {
	a, _ := newServer(t)
	b, _ := newServer(t)
	call(t, a, "PUT", "/user/1.0/alice", `{"password":"correct horse battery"}`, false)
	if _, body := call(t, b, "GET", "/user/1.0/alice", "", false); body != "0" {
		t.Fatalf("account created on one server exists on the other")
	}
}

// TestDryRunDoesNotAdvanceTimestamps: rolled-back writes must not push the
// timestamps of real writes forward, or shadowed writes drift ahead of
// legacy's clock.
func TestDryRunDoesNotAdvanceTimestamps(t *testing.T) {
	s, _ := newServer(t)
	now := time.Unix(1795895500, 0)
	s.cfg.Now = func() time.Time { return now }
	s, err := New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	call(t, s, "PUT", "/user/1.0/alice", `{"password":"correct horse battery"}`, false)
	dry := s.DryRun()
	for i := 0; i < 5; i++ {
		if status, _ := call(t, dry, "PUT", "/1.1/alice/storage/bookmarks/x", `{"payload":"p"}`, true); status != 200 {
			t.Fatalf("dry-run PUT %d: %d", i, status)
		}
	}
	if _, body := call(t, s, "PUT", "/1.1/alice/storage/bookmarks/x", `{"payload":"p"}`, true); body != "1795895500.00" {
		t.Fatalf("real write after five dry runs stamped %s, want the clock's 1795895500.00", body)
	}
}

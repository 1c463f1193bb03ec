// Package shadow_test runs shadow mode end to end: the proxy (built
// in-process with proxy.New, the shadow.Shadower and native.New) in front
// of the legacy PHP fixture, both on one real MariaDB database.
package shadow_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
	"github.com/weaveproxy/weaveproxy/native/userapi"
	"github.com/weaveproxy/weaveproxy/proxy"
	"github.com/weaveproxy/weaveproxy/proxy/forward"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
	"github.com/weaveproxy/weaveproxy/shadow"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// quotaKB is the quota both sides show, so that info/quota compares.
const quotaKB = 5120

// backend is one MariaDB database with the legacy PHP fixture and the
// native server on it.
type backend struct {
	dsn    string // go-sql-driver DSN
	db     *sql.DB
	php    *testenv.PHP
	native *native.Server
	eng    *sqlstore.Engine
}

func newBackend(t testing.TB, plants ...string) *backend {
	t.Helper()
	dsn := testenv.MariaDB(t)
	eng := openEngine(t, dsn)
	nat, err := native.New(native.Config{Engine: eng, Registration: userapi.Open, QuotaKB: quotaKB})
	if err != nil {
		t.Fatal(err)
	}
	dbc, err := legacy.DBConfigFromDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	php := legacy.Start(t, dbc, legacy.Options{Plant: plants,
		Env: map[string]string{"WEAVE_QUOTA": fmt.Sprint(quotaKB)}})
	return &backend{dsn: dsn, db: eng.DB(), php: php, native: nat, eng: eng}
}

// openEngine opens the native engine on a MariaDB database (DSN without
// the mysql: prefix) and creates its tables.
func openEngine(t testing.TB, dsn string) *sqlstore.Engine {
	t.Helper()
	return storetest.Open(t, "mysql:"+dsn)
}

// stack is the proxy in shadow mode in front of a backend.
type stack struct {
	*backend
	URL   string
	sh    *shadow.Shadower
	st    *store.Store
	table *routes.Table
	reg   *prometheus.Registry
}

type stackOptions struct {
	routes  string // routes.yaml after the legacy block; default: every route shadowed
	shadow  shadow.Options
	wrapNat func(http.Handler) http.Handler // wraps the native read handler
	diffDSN string                          // diff store; default SQLite in a temp dir
}

func newStack(t testing.TB, b *backend, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if o.routes == "" {
		o.routes = "default: shadow\n"
	}
	file := filepath.Join(dir, "routes.yaml")
	src := fmt.Sprintf("legacy:\n  url: %s\n%s", b.php.URL, o.routes)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	table, err := routes.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if o.diffDSN == "" {
		o.diffDSN = "sqlite:" + filepath.Join(dir, "weaveproxy-diff.db")
	}
	st, err := store.Open(ctx, o.diffDSN, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	so := o.shadow
	so.Store, so.Metrics = st, reg
	if so.MinIdle == 0 {
		so.MinIdle = -1 // a loaded test machine would shed the pairs tested
	}
	if so.Repeat == nil {
		so.Repeat = forward.New(table.Legacy, forward.Options{})
	}
	sh, err := shadow.New(so)
	if err != nil {
		t.Fatal(err)
	}
	var nat http.Handler = b.native
	if o.wrapNat != nil {
		nat = o.wrapNat(nat)
	}
	p, err := proxy.New(proxy.Config{Table: table, Native: nat, NativeDryRun: b.native.DryRun(),
		Shadow: sh, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := sh.Close(ctx); err != nil {
			t.Errorf("shadow close: %v", err)
		}
		p.Close()
		st.Close()
	})
	return &stack{backend: b, URL: srv.URL, sh: sh, st: st, table: table, reg: reg}
}

func (s *stack) flush(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.sh.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// client is one Sync user talking to a base URL.
type client struct {
	t          testing.TB
	base       string
	user, pass string
	http       *http.Client
}

func newClient(t testing.TB, base, user string) *client {
	return &client{t: t, base: base, user: user, pass: "correct horse " + user,
		http: &http.Client{Timeout: time.Minute}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends one authenticated request; a transport error fails the test.
func (c *client) do(method, path, body string) answer {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.pass)))
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

// must sends a request that has to succeed.
func (c *client) must(method, path, body string) answer {
	c.t.Helper()
	a := c.do(method, path, body)
	if a.status != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, path, a.status, a.body)
	}
	return a
}

func (c *client) register() {
	c.t.Helper()
	c.must("PUT", "/user/1.0/"+c.user, fmt.Sprintf(`{"password": %q, "email": "%s@example.com"}`, c.pass, c.user))
}

// repoRoot is the repository's root, wherever the test runs from.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

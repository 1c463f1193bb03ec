package testenv

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
)

func TestMain(m *testing.M) { Main(m) }

func TestMariaDB(t *testing.T) {
	dsn := MariaDB(t)
	if !strings.HasPrefix(dsn, "root@tcp(127.0.0.1:") || !strings.HasSuffix(dsn, "?charset=utf8mb4") {
		t.Fatalf("DSN %q is not of the promised shape", dsn)
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	// The database is ours, empty, and takes four-byte UTF-8.
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&n); err != nil || n != 0 {
		t.Fatalf("fresh database has %d tables (%v)", n, err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE x (s TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO x VALUES (?)", "héllo 🦊"); err != nil {
		t.Fatal(err)
	}
	var s string
	if err := db.QueryRowContext(ctx, "SELECT s FROM x").Scan(&s); err != nil || s != "héllo 🦊" {
		t.Fatalf("round trip gave %q, %v", s, err)
	}
	// Strict mode, so that over-long values fail instead of being cut.
	if _, err := db.ExecContext(ctx, "CREATE TABLE y (v VARBINARY(4))"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO y VALUES ('toolong')"); err == nil {
		t.Fatal("over-long VARBINARY insert succeeded: server not in strict mode")
	}
}

func TestMariaDBDatabasesAreSeparateAndDropped(t *testing.T) {
	srv := MariaDBServer(t)
	if srv.Addr != net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)) {
		t.Fatalf("Addr %q, Host %q, Port %d disagree", srv.Addr, srv.Host, srv.Port)
	}
	var name string
	t.Run("inner", func(t *testing.T) {
		name = srv.CreateDatabase(t)
		other := srv.CreateDatabase(t)
		if name == other {
			t.Fatalf("two databases named %q", name)
		}
	})
	db, err := sql.Open("mysql", srv.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	err = db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n)
	if err != nil || n != 0 {
		t.Fatalf("database %s still there after its test (%d, %v)", name, n, err)
	}
}

func TestMemcachedStopStart(t *testing.T) {
	m := StartMemcached(t)
	c := memcache.New(m.Addr)
	if err := c.Set(&memcache.Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	it, err := c.Get("k")
	if err != nil || string(it.Value) != "v" {
		t.Fatalf("get k = %v, %v", it, err)
	}
	m.Stop()
	if m.Running() {
		t.Fatal("running after Stop")
	}
	if _, err := c.Get("k"); err == nil || errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get from a stopped memcached: %v, want a connection error", err)
	}
	m.Start(t)
	c = memcache.New(m.Addr) // drop pooled connections to the dead process
	if _, err := c.Get("k"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("after restart get k: %v, want a miss (empty cache)", err)
	}
	if err := c.Set(&memcache.Item{Key: "k", Value: []byte("w")}); err != nil {
		t.Fatal(err)
	}
}

func TestPHP(t *testing.T) {
	root := t.TempDir()
	script := `<?php header('Content-Type: text/plain'); echo "hi ", getenv('TESTENV_GREETING'), " ", $_SERVER['REQUEST_URI'];`
	if err := os.WriteFile(filepath.Join(root, "index.php"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	router := filepath.Join(root, "router.php")
	if err := os.WriteFile(router, []byte(`<?php require __DIR__.'/index.php';`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := StartPHP(t, root, router, map[string]string{"TESTENV_GREETING": "there"})
	if got := httpGet(t, p.URL+"/some/path"); got != "hi there /some/path" {
		t.Fatalf("PHP answered %q", got)
	}
	p.Stop()
	if _, err := http.Get(p.URL + "/"); err == nil {
		t.Fatal("stopped PHP still answers")
	}
	p.Start(t)
	if got := httpGet(t, p.URL+"/again"); got != "hi there /again" {
		t.Fatalf("restarted PHP answered %q", got)
	}
}

func TestStartProcessFailureShowsLog(t *testing.T) {
	// A server that dies at once must be reported with its output, not
	// waited for until the timeout.
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		StartProcess(ft, "php", []string{"-r", `fwrite(STDERR, "boom-marker\n"); exit(3);`}, nil, "127.0.0.1:1")
	}()
	if !strings.Contains(ft.msg, "boom-marker") {
		t.Fatalf("failure message lacks the process output: %q", ft.msg)
	}
}

func TestMissingBinaryNamesPackage(t *testing.T) {
	debianPackage["testenv-no-such-server"] = "testenv-pkg"
	defer delete(debianPackage, "testenv-no-such-server")
	_, err := lookBinary("testenv-no-such-server")
	if err == nil || !strings.Contains(err.Error(), "testenv-pkg") || !strings.Contains(err.Error(), "README") {
		t.Fatalf("missing binary error: %v", err)
	}
}

func TestChromium(t *testing.T) {
	p := Chromium(t)
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		t.Fatalf("Chromium() = %q: %v", p, err)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fatalRecorder captures a Fatal message instead of ending the test, so a
// test can check what a failing helper reports.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatal(args ...any) {
	for _, a := range args {
		if e, ok := a.(error); ok {
			f.msg += e.Error()
		} else if s, ok := a.(string); ok {
			f.msg += s
		}
	}
	panic("fatal")
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg += format
	panic("fatal")
}

// legacyDatabase makes a database with the legacy PHP server's own schema.
func legacyDatabase(t *testing.T, src string) (LegacyDB, *sql.DB) {
	t.Helper()
	srv := MariaDBServer(t)
	name := srv.CreateDatabase(t)
	db, err := sql.Open("mysql", srv.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	stmts, err := LegacyPHPSchema(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return LegacyDB{Port: srv.Port, Name: name}, db
}

// legacyDo sends one request to a legacy PHP server, as user (password
// s3cret-pass) when auth, and returns status and body.
func legacyDo(t *testing.T, base, user, method, path, body string, auth bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(user, "s3cret-pass")
	}
	// A fresh connection each time: one kept from before a server's
	// restart would answer "connection reset".
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The original PHP server under php -S answers from this test's database,
// keeps its collection timestamps in the memcached it is given, and comes
// back on the same address after an outage.
func TestLegacyPHPCLI(t *testing.T) {
	src := RequireLegacyPHP(t)
	cfg, db := legacyDatabase(t, src)
	mc := StartMemcached(t)
	_, mcPort, _ := net.SplitHostPort(mc.Addr)
	port, _ := strconv.Atoi(mcPort)
	l := StartLegacyPHPCLI(t, LegacyPHPConfig{DB: cfg, Workers: 2, MemcachePort: port})

	do := func(method, path, body string) (int, string) {
		t.Helper()
		return legacyDo(t, l.URL, "cliuser", method, path, body, true)
	}
	if code, body := do("PUT", "/user/1.0/cliuser", `{"password":"s3cret-pass","email":"c@example.com"}`); code != 200 {
		t.Fatalf("register: %d %q\n%s", code, body, l.ErrorLog())
	}
	var id int
	if err := db.QueryRow("SELECT id FROM users WHERE username = 'cliuser'").Scan(&id); err != nil {
		t.Fatalf("users row for cliuser: %v", err)
	}
	code, ts := do("PUT", "/1.0/cliuser/storage/bookmarks/b1", `{"id":"b1","payload":"hello","sortindex":7}`)
	if code != 200 {
		t.Fatalf("PUT: %d %q\n%s", code, ts, l.ErrorLog())
	}
	if code, body := do("GET", "/1.0/cliuser/storage/bookmarks/b1", ""); code != 200 || !strings.Contains(body, `"modified":`+ts) {
		t.Fatalf("GET after PUT (ts %s): %d %q", ts, code, body)
	}
	if code, body := do("GET", "/1.0/cliuser/info/collections", ""); code != 200 || !strings.Contains(body, `"bookmarks":`+ts) {
		t.Fatalf("info/collections: %d %q", code, body)
	}
	it, err := memcache.New(mc.Addr).Get("coll:" + strconv.Itoa(id))
	if err != nil || !strings.Contains(string(it.Value), "bookmarks") {
		t.Fatalf("memcached coll:%d = %v, %v: PHP did not use the memcached it was given", id, it, err)
	}
	l.Stop()
	l.Start(t)
	if code, _ := do("GET", "/1.0/cliuser/storage/bookmarks/b1", ""); code != 200 {
		t.Fatalf("GET after restart: %d", code)
	}
}

// The original PHP server under php-fpm and nginx answers a register, a
// PUT and a GET from this test's database, with the raw request path.
func TestLegacyPHPUnderFPM(t *testing.T) {
	src := RequireLegacyPHP(t)
	cfg, db := legacyDatabase(t, src)
	l := StartLegacyPHPT(t, LegacyPHPConfig{DB: cfg, Workers: 2, NginxWorkers: 1})

	do := func(method, path, body string, auth bool) (int, string) {
		t.Helper()
		return legacyDo(t, l.URL, "fpmuser", method, path, body, auth)
	}
	if code, body := do("PUT", "/user/1.0/fpmuser", `{"password":"s3cret-pass","email":"f@example.com"}`, false); code != 200 {
		t.Fatalf("register: %d %q\n%s", code, body, l.ErrorLog())
	}
	// The user really is in this test's database, not somewhere else.
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM users WHERE username = 'fpmuser'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("users rows for fpmuser: %d, %v", n, err)
	}
	code, ts := do("PUT", "/1.0/fpmuser/storage/bookmarks/b1", `{"id":"b1","payload":"hello fpm","sortindex":7}`, true)
	if code != 200 {
		t.Fatalf("PUT: %d %q\n%s", code, ts, l.ErrorLog())
	}
	code, body := do("GET", "/1.0/fpmuser/storage/bookmarks/b1", "", true)
	if code != 200 || !strings.Contains(body, `"payload":"hello fpm"`) || !strings.Contains(body, `"modified":`+ts) {
		t.Fatalf("GET after PUT (ts %s): %d %q", ts, code, body)
	}
	// nginx passes the raw REQUEST_URI: PHP sees "b%31", not "b1", as
	// under Apache (nginx's decoded $uri would find the record).
	if code, body := do("GET", "/1.0/fpmuser/storage/bookmarks/b%31", "", true); code != 404 {
		t.Fatalf("GET b%%31: %d %q, want 404 (path not decoded)", code, body)
	}
	if code, _ := do("GET", "/1.0/fpmuser/info/collections", "", false); code != 401 {
		t.Fatalf("GET without credentials: %d, want 401", code)
	}
}

func TestSlapd(t *testing.T) {
	s := StartSlapd(t, SlapdOptions{})
	s.Add(t, "dn: uid=alice,"+s.Suffix+"\nobjectClass: inetOrgPerson\ncn: alice\nsn: alice\nuid: alice\nuserPassword: alice-pw\n")
	search := func(bindDN, pw string) (string, error) {
		cmd := exec.Command(requireBinary(t, "ldapsearch"), "-x", "-LLL", "-H", s.URL, "-D", bindDN, "-w", pw,
			"-b", s.Suffix, "(uid=alice)", "uid")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := search("uid=alice,"+s.Suffix, "alice-pw"); err != nil || !strings.Contains(out, "uid: alice") {
		t.Fatalf("bind as the seeded user and search: %v\n%s", err, out)
	}
	if out, err := search("uid=alice,"+s.Suffix, "wrong"); err == nil {
		t.Fatalf("a wrong password bound:\n%s", out)
	}
	s.Stop()
	if _, err := search(s.RootDN, s.RootPW); err == nil {
		t.Fatal("stopped slapd still answers")
	}
}

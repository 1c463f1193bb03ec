// Package dev is `weaveproxy dev`: a complete development environment on
// loopback, in one folder, started by one command and stopped by Ctrl-C.
// It starts MariaDB, memcached, the legacy PHP server (the original one
// from ../shared/legacy-php when present, else the stand-in of e2e/legacy),
// an SMTP sink whose messages can be read on a small web page and in a
// folder, and slapd; the caller then runs the proxy in front of PHP with
// ServeArgs. Every server is started by the same internal/testenv starters the
// tests use, through a testenv.Session, so the two cannot drift apart.
package dev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/auth/smtpsink"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
)

// Options says where things are.
type Options struct {
	// Dir holds everything (databases, logs, routes.yaml, mail); it must
	// exist.
	Dir string
	// Repo is the repository's root: routes.yaml is the template of the
	// environment's, e2e/legacy the stand-in PHP server.
	Repo string
	// LegacyPHP is the original PHP server's folder; "" looks for
	// ../shared/legacy-php beside Repo, "stand-in" forces the stand-in.
	LegacyPHP string
	// Log gets progress lines; nil discards them.
	Log io.Writer
}

// Env is a running environment. Its fields are what Print shows and
// env.json in Dir holds.
type Env struct {
	Dir        string `json:"dir"`
	DSN        string `json:"dsn"` // go-sql-driver DSN, root without password
	MariaDB    string `json:"mariadb"`
	Memcached  string `json:"memcached"`
	Legacy     string `json:"legacy"`      // PHP's URL
	LegacyKind string `json:"legacy_kind"` // "original" or "stand-in"
	SMTP       string `json:"smtp"`        // host:port of the sink
	Mail       string `json:"mail"`        // the page listing received mail
	MailDir    string `json:"mail_dir"`
	LDAP       string `json:"ldap,omitempty"` // "" when slapd could not start
	LDAPBase   string `json:"ldap_base,omitempty"`
	LDAPBindDN string `json:"ldap_bind_dn,omitempty"`
	LDAPPWFile string `json:"ldap_password_file,omitempty"`
	LDAPNote   string `json:"ldap_note,omitempty"`
	Routes     string `json:"routes"`
	Proxy      string `json:"proxy"` // the proxy's Sync URL (once serving)
	Admin      string `json:"admin"`

	listen, adminAddr string
	session           *testenv.Session
	mail              *mailbox
}

// Start brings up everything but the proxy. On error whatever started is
// stopped again.
func Start(ctx context.Context, o Options) (*Env, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	e := &Env{Dir: o.Dir, session: testenv.NewSession(o.Dir, "dev")}
	err := e.session.Do(func(t testenv.T) { e.start(ctx, t, o) })
	if err == nil {
		err = e.writeJSON()
	}
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Env) start(ctx context.Context, t testenv.T, o Options) {
	logf := func(format string, args ...any) { fmt.Fprintf(o.Log, "dev: "+format+"\n", args...) }

	logf("starting MariaDB")
	srv := testenv.MariaDBServer(t)
	e.MariaDB = srv.Addr
	e.DSN = srv.DSN(srv.CreateDatabase(t))
	// The legacy tables (and native's own), as `weaveproxy db init` makes them.
	if err := initSchema(ctx, e.DSN); err != nil {
		t.Fatal(err)
	}

	logf("starting memcached")
	mc := testenv.StartMemcached(t)
	e.Memcached = mc.Addr

	logf("starting the legacy PHP server")
	e.startLegacy(t, o, srv, mc)

	logf("starting the SMTP sink")
	sink := smtpsink.Start(t)
	e.SMTP = net.JoinHostPort(sink.Host, strconv.Itoa(sink.Port))
	e.MailDir = filepath.Join(o.Dir, "mail")
	box, err := startMailbox(sink, e.MailDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(box.close)
	e.mail, e.Mail = box, box.url

	logf("starting slapd")
	e.startSlapd(o)

	e.listen = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	e.adminAddr = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	e.Proxy, e.Admin = "http://"+e.listen, "http://"+e.adminAddr
	e.Routes = filepath.Join(o.Dir, "routes.yaml")
	if err := writeRoutes(o.Repo, e.Routes, e.Legacy); err != nil {
		t.Fatal(err)
	}
}

// startLegacy runs the original PHP server when its folder is there, else
// the stand-in.
func (e *Env) startLegacy(t testenv.T, o Options, srv *testenv.MariaDBProc, mc *testenv.Memcached) {
	db := dbName(e.DSN)
	src := o.LegacyPHP
	if src == "" {
		src = filepath.Join(o.Repo, "..", "shared", "legacy-php")
	}
	if _, err := os.Stat(filepath.Join(src, "router.php")); err == nil && o.LegacyPHP != "stand-in" {
		_, port, _ := net.SplitHostPort(mc.Addr)
		p, _ := strconv.Atoi(port)
		php := testenv.StartLegacyPHPCLI(t, testenv.LegacyPHPConfig{
			Source: src, DB: testenv.LegacyDB{Host: srv.Host, Port: srv.Port, Name: db}, MemcachePort: p,
		})
		e.Legacy, e.LegacyKind = php.URL, "original ("+src+")"
		return
	}
	php := legacy.Serve(t, filepath.Join(o.Repo, "e2e", "legacy"),
		legacy.DBConfig{Host: srv.Host, Port: srv.Port, Name: db}, legacy.Options{MemcacheAddr: mc.Addr})
	e.Legacy, e.LegacyKind = php.URL, "stand-in (e2e/legacy; put the original in ../shared/legacy-php)"
}

// startSlapd runs an empty directory for trying --auth ldap. Without
// slapd installed the environment is still useful: it says so and goes on.
func (e *Env) startSlapd(o Options) {
	err := e.session.Do(func(t testenv.T) {
		s := testenv.StartSlapd(t, testenv.SlapdOptions{})
		pw := filepath.Join(o.Dir, "ldap-password")
		if err := os.WriteFile(pw, []byte(s.RootPW+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s.Add(t, "dn: ou=users,"+s.Suffix+"\nobjectClass: organizationalUnit\nou: users\n")
		e.LDAP, e.LDAPBase, e.LDAPBindDN, e.LDAPPWFile = s.URL, "ou=users,"+s.Suffix, s.RootDN, pw
	})
	if err != nil {
		e.LDAPNote = "slapd not started: " + err.Error()
	}
}

func initSchema(ctx context.Context, dsn string) error {
	eng, err := sqlstore.Open(ctx, "mysql:"+dsn, sqlstore.Config{})
	if err != nil {
		return fmt.Errorf("dev: schema: %w", err)
	}
	defer eng.Close()
	if err := eng.Init(ctx); err != nil {
		return fmt.Errorf("dev: schema: %w", err)
	}
	return nil
}

// writeRoutes is the repository's annotated routes.yaml pointed at PHP:
// every route legacy, ready to edit (the proxy reloads it on save).
func writeRoutes(repo, path, legacyURL string) error {
	tmpl, err := os.ReadFile(filepath.Join(repo, "routes.yaml"))
	if err != nil {
		return fmt.Errorf("dev: routes.yaml template: %w", err)
	}
	const placeholder = "  url: http://127.0.0.1:8081"
	if !strings.Contains(string(tmpl), placeholder) {
		return errors.New("dev: the repository's routes.yaml has no legacy url line to point at PHP")
	}
	body := strings.Replace(string(tmpl), placeholder, "  url: "+legacyURL, 1)
	return os.WriteFile(path, []byte(body), 0o644)
}

// ServeArgs are the `weaveproxy serve` flags of the proxy in front of PHP.
func (e *Env) ServeArgs() []string {
	host, port, _ := net.SplitHostPort(e.SMTP)
	return []string{
		"--listen", e.listen, "--admin-listen", e.adminAddr,
		"--db", "mysql:" + e.DSN, "--memcache", e.Memcached, "--routes", e.Routes,
		"--registration", "open", "--public-url", e.Proxy,
		"--smtp-host", host, "--smtp-port", port,
		"--cef-file", filepath.Join(e.Dir, "cef.log"),
		"--diff-db", "sqlite:" + filepath.Join(e.Dir, "diff.db"),
	}
}

// Print writes every URL and credential.
func (e *Env) Print(w io.Writer) {
	row := func(k, v string) { fmt.Fprintf(w, "  %-10s %s\n", k, v) }
	fmt.Fprintf(w, "weaveproxy dev: everything on loopback, files in %s\n", e.Dir)
	row("proxy", e.Proxy+"   (Sync and User API; register any user, e.g. PUT /user/1.0/alice)")
	row("admin", e.Admin+"   (/routes, /metrics, /readyz, /shadow/)")
	row("routes", e.Routes+"   (edit and save: the proxy reloads it)")
	row("legacy", e.Legacy+"   "+e.LegacyKind)
	row("mariadb", e.MariaDB+"   user root, no password, database "+dbName(e.DSN))
	row("dsn", "mysql:"+e.DSN)
	row("memcached", e.Memcached)
	row("smtp", e.SMTP+"   (every message is kept)")
	row("mail", e.Mail+"   and "+e.MailDir)
	if e.LDAP != "" {
		row("ldap", e.LDAP+"   bind "+e.LDAPBindDN+", password in "+e.LDAPPWFile+", users under "+e.LDAPBase)
		row("", "try: --auth ldap --ldap-url "+e.LDAP+" --ldap-base "+e.LDAPBase+" --ldap-bind-dn "+e.LDAPBindDN+" --ldap-bind-password-file "+e.LDAPPWFile)
	} else {
		row("ldap", e.LDAPNote)
	}
	fmt.Fprintln(w, "Ctrl-C stops everything.")
}

func dbName(dsn string) string {
	_, rest, _ := strings.Cut(dsn, "/")
	name, _, _ := strings.Cut(rest, "?")
	return name
}

func (e *Env) writeJSON() error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(e.Dir, "env.json"), append(b, '\n'), 0o644)
}

// Close stops everything Start started, and nothing else.
func (e *Env) Close() error { return e.session.Close() }

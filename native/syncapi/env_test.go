package syncapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"weaveproxy/e2e/testenv"
	"weaveproxy/native/auth"
	"weaveproxy/native/cef"
	"weaveproxy/native/store"
	"weaveproxy/native/store/sqlstore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// engineKinds are the real engines every behaviour runs against.
var engineKinds = []string{"sqlite", "mariadb"}

// versions are the API versions every behaviour runs on.
var versions = []string{"1.0", "1.1"}

func openEngine(t testing.TB, kind string) *sqlstore.Engine {
	t.Helper()
	ctx := context.Background()
	var dsn string
	switch kind {
	case "sqlite":
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "weave.db")
	case "mariadb":
		dsn = "mysql:" + testenv.MariaDB(t)
	default:
		t.Fatalf("unknown engine %q", kind)
	}
	eng, err := sqlstore.Open(ctx, dsn, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	return eng
}

// forEachEngine runs fn as a subtest per engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, kind string)) {
	t.Helper()
	for _, kind := range engineKinds {
		t.Run(kind, func(t *testing.T) { fn(t, kind) })
	}
}

// forEach runs fn per engine and, on one database per engine, per API
// version (each version with its own user).
func forEach(t *testing.T, cfg Config, fn func(t *testing.T, e *env)) {
	t.Helper()
	forEachEngine(t, func(t *testing.T, kind string) {
		base := newEnv(t, openEngine(t, kind), cfg)
		for _, v := range versions {
			t.Run(v, func(t *testing.T) { fn(t, base.version(t, v)) })
		}
	})
}

// recorder keeps the CEF events a test provokes: the test's own cef.Sink.
type recorder struct {
	mu     sync.Mutex
	events []cef.Event
}

func (r *recorder) Emit(_ *http.Request, ev cef.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) count(sig string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Signature == sig {
			n++
		}
	}
	return n
}

// clock is the handler's clock: real time plus an offset a test moves
// forward instead of sleeping.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
	fixed  time.Time // non-zero: frozen here
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fixed.IsZero() {
		return c.fixed.Add(c.offset)
	}
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func (c *clock) freeze(t time.Time) {
	c.mu.Lock()
	c.fixed, c.offset = t, 0
	c.mu.Unlock()
}

// env is a handler over a real engine, with an account to call it as.
type env struct {
	t      testing.TB
	eng    store.Engine
	h      *Handler
	events *recorder
	clock  *clock
	v      string // API version of paths built by path
	user   string
	pass   string
	uid    int64
}

const testPassword = "correct horse 1"

// newEnv builds a handler on eng with cfg (Engine, Auth, Events and Now
// are filled in) and creates the user "alice".
func newEnv(t testing.TB, eng store.Engine, cfg Config) *env {
	t.Helper()
	e := &env{t: t, eng: eng, events: &recorder{}, clock: &clock{}, v: "1.0"}
	cfg.Engine = eng
	cfg.Auth = auth.NewBasic(eng, auth.BasicOptions{Events: e.events})
	cfg.Events = e.events
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	e.h = New(cfg)
	e.user, e.pass, e.uid = "alice", testPassword, e.createUser("alice", testPassword)
	return e
}

// version is e on API version v, as a user of its own (named after v) on
// the same engine and handler.
func (e *env) version(t testing.TB, v string) *env {
	c := *e
	c.t, c.v = t, v
	c.user = "user" + strings.ReplaceAll(v, ".", "_")
	c.uid = e.createUser(c.user, testPassword)
	return &c
}

// as is e calling as another existing user.
func (e *env) as(user, pass string) *env {
	c := *e
	u, err := e.eng.UserByName(context.Background(), user)
	if err != nil {
		e.t.Fatal(err)
	}
	c.user, c.pass, c.uid = user, pass, u.ID
	return &c
}

func (e *env) createUser(name, pass string) int64 {
	e.t.Helper()
	id, err := e.eng.CreateUser(context.Background(), store.User{
		Username: name, MD5: auth.HashPassword(pass), Email: name + "@example.com", Status: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// path is the URL of rest (info/..., storage/...) for e's user and version.
func (e *env) path(rest string) string {
	return "/" + e.v + "/" + e.user + "/" + rest
}

// resp is one answer.
type resp struct {
	status int
	body   string
	hdr    http.Header
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// do sends a request as e's user; hdr are name/value pairs (an
// Authorization among them replaces e's credentials, an empty one
// removes them).
func (e *env) do(method, target, body string, hdr ...string) resp {
	e.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", basic(e.user, e.pass))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
		if hdr[i] == "Authorization" && hdr[i+1] == "" {
			req.Header.Del("Authorization")
		}
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: string(b), hdr: res.Header}
}

// get, put, post and del are do on e.path(rest).
func (e *env) get(rest string, hdr ...string) resp { return e.do("GET", e.path(rest), "", hdr...) }
func (e *env) put(rest, body string, hdr ...string) resp {
	return e.do("PUT", e.path(rest), body, hdr...)
}
func (e *env) post(rest, body string, hdr ...string) resp {
	return e.do("POST", e.path(rest), body, hdr...)
}
func (e *env) del(rest string, hdr ...string) resp { return e.do("DELETE", e.path(rest), "", hdr...) }

// ok fails the test unless r is a 200, and returns it.
func (r resp) ok(t testing.TB) resp {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %q", r.status, r.body)
	}
	return r
}

// want fails the test unless r has status and body.
func (r resp) want(t testing.TB, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Errorf("got %d %q, want %d %q", r.status, r.body, status, body)
	}
}

// decode parses a JSON body into v, numbers as json.Number.
func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

// ids GETs a collection's ids (query appended) as a list.
func (e *env) ids(coll, query string) []string {
	e.t.Helper()
	r := e.get("storage/" + coll + query).ok(e.t)
	var ids []string
	r.decode(e.t, &ids)
	return ids
}

// ts parses a timestamp as the wire shows it.
func parseTS(t testing.TB, s string) store.Timestamp {
	t.Helper()
	var whole, frac int64
	var fracDigits int
	i := strings.IndexByte(s, '.')
	intPart, fracPart := s, ""
	if i >= 0 {
		intPart, fracPart = s[:i], s[i+1:]
	}
	for _, c := range intPart {
		if c < '0' || c > '9' {
			t.Fatalf("bad timestamp %q", s)
		}
		whole = whole*10 + int64(c-'0')
	}
	for _, c := range fracPart {
		if c < '0' || c > '9' || fracDigits == 2 {
			t.Fatalf("bad timestamp %q", s)
		}
		frac = frac*10 + int64(c-'0')
		fracDigits++
	}
	if fracDigits == 1 {
		frac *= 10
	}
	return store.Timestamp(whole*100 + frac)
}

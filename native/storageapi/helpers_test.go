package storageapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var versions = []string{"1.0", "1.1"}

// env is a handler on a fresh real engine with one user, alice.
type env struct {
	t       testing.TB
	engine  *sqlstore.Engine
	h       *Handler
	clock   *testenv.Clock
	events  *ceftest.Recorder
	version string
	user    string
	userID  int64
	auth    string
	// lastWrite is the timestamp of the last replayed write (replay test).
	lastWrite store.Timestamp
}

// start is 1795895500.00, the recordings' epoch.
var start = time.Unix(1795895500, 0)

func newEnv(t testing.TB, b storetest.Backend, version string, mod func(*Config)) *env {
	t.Helper()
	return newEnvOn(t, b.Open(t), version, mod)
}

// newEnvOn is newEnv on an engine already open; alice is created unless
// she exists (a second engine on the same database).
func newEnvOn(t testing.TB, e *sqlstore.Engine, version string, mod func(*Config)) *env {
	t.Helper()
	ev := &ceftest.Recorder{}
	clk := testenv.NewClock(start)
	cfg := Config{
		Engine: e,
		Auth:   auth.NewBasic(e, auth.BasicOptions{Events: ev}),
		Events: ev,
		Quota:  true, QuotaKB: 5120,
		Now: clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	en := &env{t: t, engine: e, h: New(cfg), clock: clk, events: ev, version: version}
	en.user = "alice"
	en.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:correct horse 1"))
	if u, err := e.UserByName(context.Background(), "alice"); err == nil {
		en.userID = u.ID
	} else {
		en.userID, _ = en.addUser("alice", "correct horse 1")
	}
	return en
}

func (e *env) dialect() weave.Dialect {
	d, _ := weave.DialectFor(e.version)
	return d
}

// addUser creates a user through the engine and returns its id and
// Authorization header value.
func (e *env) addUser(name, password string) (int64, string) {
	e.t.Helper()
	u := storetest.AddUser(e.t, e.engine, store.User{
		Username: name, MD5: auth.HashPassword(password), Status: 1})
	return u.ID, "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+password))
}

// forEach runs fn on every backend and API version, and on storage keyed
// by name with the newest version (the keying is below the API, which
// the id-keyed runs cover version by version).
func forEach(t *testing.T, mod func(*Config), fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range storetest.KeyedBackends() {
		vs := versions
		if b.StorageKey == sqlstore.KeyName {
			vs = versions[len(versions)-1:]
		}
		for _, v := range vs {
			t.Run(b.Name+"/"+v, func(t *testing.T) { fn(t, newEnv(t, b, v, mod)) })
		}
	}
}

// do sends a request as alice to a path relative to /<version>/alice/.
func (e *env) do(method, rel, body string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.raw(method, "/"+e.version+"/"+e.user+"/"+rel, body, append([]string{"Authorization", e.auth}, hdr...)...)
}

// raw sends a request with exactly the given path and headers.
func (e *env) raw(method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// via sends a request as alice through handler h instead of e.h.
func (e *env) via(h *Handler, method, rel, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/"+e.version+"/"+e.user+"/"+rel, strings.NewReader(body))
	req.Header.Set("Authorization", e.auth)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// ok asserts a 200 and returns the body.
func (e *env) ok(rec *httptest.ResponseRecorder) string {
	e.t.Helper()
	if rec.Code != http.StatusOK {
		e.t.Fatalf("status %d, body %q", rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

// put stores an item and returns the timestamp body.
func (e *env) put(rel, body string) string {
	e.t.Helper()
	return e.ok(e.do("PUT", "storage/"+rel, body))
}

// ids GETs a collection listing and decodes the id list.
func (e *env) ids(rel string) []string {
	e.t.Helper()
	var out []string
	decode(e.t, e.ok(e.do("GET", "storage/"+rel, "")), &out)
	return out
}

// items GETs full items.
func (e *env) items(rel string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	decode(e.t, e.ok(e.do("GET", "storage/"+rel, "")), &out)
	return out
}

func decode(t testing.TB, body string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}

// transcriptHeaders are the headers that carry API behaviour.
var transcriptHeaders = []string{"Allow", "Content-Type", "Retry-After", "Www-Authenticate",
	"X-Weave-Alert", "X-Weave-Backoff", "X-Weave-Quota-Remaining", "X-Weave-Records", "X-Weave-Timestamp"}

// transcribe renders one exchange for a golden file.
func transcribe(w io.Writer, method, path string, rec *httptest.ResponseRecorder) {
	fmt.Fprintf(w, "> %s %s\n< %d\n", method, path, rec.Code)
	for _, k := range transcriptHeaders {
		if v := rec.Header().Get(k); v != "" {
			fmt.Fprintf(w, "< %s: %s\n", k, v)
		}
	}
	fmt.Fprintf(w, "%q\n\n", rec.Body.String())
}

func golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test -update)", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("golden %s differs; got:\n%s", name, got)
	}
}

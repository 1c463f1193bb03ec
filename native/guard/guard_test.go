package guard

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/counter"
	"github.com/weaveproxy/weaveproxy/native/lockout"
	"github.com/weaveproxy/weaveproxy/native/ratelimit"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stack is a guard over a real SQLite users table, in front of a handler
// that authenticates as the native handlers do.
type stack struct {
	g     *Guard
	h     http.Handler
	basic *auth.Basic
	lock  *lockout.Authenticator
	seen  int // requests that got past the guard
}

func newStack(t testing.TB, budget int64) *stack {
	e := storetest.SQLite().Open(t)
	storetest.AddUser(t, e, store.User{Username: "alice", MD5: auth.HashPassword("alice's password"), Status: 1})
	s := &stack{}
	s.basic = auth.NewBasic(e, auth.BasicOptions{RecentTTL: auth.DefaultRecentTTL})
	s.lock = lockout.New(s.basic, counter.NewMemory(), lockout.Config{MaxFailures: 3}, nil, nil)
	lim := ratelimit.New(counter.NewMemory(), ratelimit.Config{Read: ratelimit.Budget{Limit: budget}}, nil)
	s.g = New(Config{Auth: s.lock, Limiter: lim, ClientAddr: func(r *http.Request) string { return r.RemoteAddr }})
	native := Verified(s.lock)
	s.h = s.g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.seen++
		if strings.HasPrefix(r.URL.Path, "/user/") {
			return // routes that take no password
		}
		if _, err := native.Authenticate(r, "alice"); err != nil {
			w.WriteHeader(401)
			return
		}
		w.Write([]byte("ok"))
	}))
	return s
}

func (s *stack) get(path, user, pw, addr string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = addr
	if user != "" {
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pw)))
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

func TestGuard(t *testing.T) {
	t.Run("strangers spend their own address's budget", func(t *testing.T) {
		s := newStack(t, 3)
		for i := 0; i < 5; i++ {
			s.get("/1.0/alice/info/collections", "", "", "198.51.100.9")
			s.get("/1.0/alice/info/collections", "alice", "wrong", "198.51.100.9")
		}
		if w := s.get("/1.0/alice/info/collections", "", "", "198.51.100.9"); w.Code != 503 {
			t.Fatalf("stranger over budget: %d", w.Code)
		}
		// Wrong passwords locked alice (3 failures); unlock to check her budget.
		if err := s.lock.Unlock(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
		if w := s.get("/1.0/alice/info/collections", "alice", "alice's password", "198.51.100.9"); w.Code != 200 {
			t.Fatalf("alice from the stranger's address: %d %s", w.Code, w.Body)
		}
	})
	t.Run("failures counted once, lock answered by the guard", func(t *testing.T) {
		s := newStack(t, -1)
		for i := 0; i < 3; i++ {
			if w := s.get("/1.0/alice/info/collections", "alice", "wrong", "192.0.2.1"); w.Code != 401 {
				t.Fatalf("failure %d: %d", i, w.Code)
			}
		}
		n, locked, err := s.lock.Status(t.Context(), "alice")
		if err != nil || locked == 0 {
			t.Fatalf("after 3 failures (counted once each): failures %d, locked %v, %v", n, locked, err)
		}
		seen := s.seen
		right := s.get("/1.0/alice/info/collections", "alice", "alice's password", "192.0.2.1")
		wrong := s.get("/1.0/alice/info/collections", "alice", "nope", "192.0.2.1")
		if right.Code != 401 || right.Body.String() != `"Account locked"` || right.Header().Get("Retry-After") == "" {
			t.Fatalf("locked, right password: %d %q %v", right.Code, right.Body, right.Header())
		}
		if right.Body.String() != wrong.Body.String() || right.Code != wrong.Code {
			t.Fatalf("locked answers differ: %d %q / %d %q", right.Code, right.Body, wrong.Code, wrong.Body)
		}
		if s.seen != seen {
			t.Fatal("a locked request got past the guard")
		}
	})
	t.Run("dot segments", func(t *testing.T) {
		s := newStack(t, -1)
		for _, p := range []string{"/1.0/x/../alice/info/collections", "/1.0/x/%2e%2e/alice/info/collections"} {
			if w := s.get(p, "alice", "alice's password", "192.0.2.1"); w.Code != 400 {
				t.Errorf("%s: %d", p, w.Code)
			}
		}
	})
	t.Run("no password tried where none is needed", func(t *testing.T) {
		s := newStack(t, -1)
		for i := 0; i < 5; i++ {
			s.get("/user/1.0/alice", "alice", "wrong", "192.0.2.1")
			s.get("/user/1.0/alice/node/weave", "alice", "wrong", "192.0.2.1")
		}
		if n, locked, _ := s.lock.Status(t.Context(), "alice"); n != 0 || locked != 0 {
			t.Fatalf("credentials on routes that take none counted: %d failures, locked %v", n, locked)
		}
	})
}

// BenchmarkAdmit is the guard's cost on one authenticated request once
// the credentials are cached (the proxy pays it on every request it
// forwards); compare with BenchmarkAdmitUncached.
func BenchmarkAdmit(b *testing.B) {
	s := newStack(b, -1)
	r := httptest.NewRequest("GET", "/1.1/alice/storage/bookmarks?full=1", nil)
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:alice's password")))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.g.Admit(w, r); !ok {
			b.Fatal("refused")
		}
	}
}

func BenchmarkAdmitUncached(b *testing.B) {
	e := storetest.SQLite().Open(b)
	storetest.AddUser(b, e, store.User{Username: "alice", MD5: auth.HashPassword("alice's password"), Status: 1})
	basic := auth.NewBasic(e, auth.BasicOptions{CredentialTTL: -1, RecentTTL: -1})
	g := New(Config{Auth: lockout.New(basic, counter.NewMemory(), lockout.Config{}, nil, nil),
		ClientAddr: func(r *http.Request) string { return r.RemoteAddr }})
	r := httptest.NewRequest("GET", "/1.1/alice/storage/bookmarks?full=1", nil)
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:alice's password")))
	w := httptest.NewRecorder()
	for b.Loop() {
		if _, ok := g.Admit(w, r); !ok {
			b.Fatal("refused")
		}
	}
}

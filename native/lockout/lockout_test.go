package lockout

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/counter"
	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// passwords is an Authenticator over a fixed name → password map, for the
// policy tests; it parses credentials with the real auth.ParseBasic and
// answers with the real sentinel errors. calls counts password checks.
type passwords struct {
	mu    sync.Mutex
	users map[string]string
	calls int
}

func (p *passwords) Authenticate(r *http.Request, pathUser string) (store.User, error) {
	name, pw, err := auth.ParseBasic(r)
	if err != nil {
		return store.User{}, err
	}
	if Key(name) != Key(pathUser) {
		return store.User{}, auth.ErrMismatch
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	want, ok := p.users[Key(name)]
	if !ok || want != pw {
		return store.User{}, auth.ErrBadCredentials
	}
	return store.User{ID: 1, Username: Key(name)}, nil
}

func (p *passwords) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

func req(pathUser, authUser, password string) *http.Request {
	r := httptest.NewRequest("GET", "/1.0/"+pathUser+"/info/collections", nil)
	if authUser != "" {
		r.SetBasicAuth(authUser, password)
	}
	return r
}

// fixture is one Authenticator over the policy authenticator, on a memory
// store sharing the fake clock.
type fixture struct {
	a     *Authenticator
	inner *passwords
	clk   *testenv.Clock
	ev    *ceftest.Recorder
}

func newFixture(cfg Config) *fixture {
	clk := testenv.NewClock(time.Unix(1_800_000_000, 0))
	inner := &passwords{users: map[string]string{"alice": "right", "bob": "bobpw"}}
	ev := &ceftest.Recorder{}
	return &fixture{New(inner, counter.NewMemoryWith(clk.Now, 0), cfg, ev, clk.Now), inner, clk, ev}
}

func (f *fixture) try(t *testing.T, pathUser, authUser, password string) error {
	t.Helper()
	_, err := f.a.Authenticate(req(pathUser, authUser, password), pathUser)
	return err
}

func wantLocked(t *testing.T, err error, retry time.Duration) {
	t.Helper()
	var le *auth.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want LockedError", err)
	}
	if le.RetryAfter != retry {
		t.Fatalf("RetryAfter = %v, want %v", le.RetryAfter, retry)
	}
}

func TestLocksAtThreshold(t *testing.T) {
	f := newFixture(Config{})
	for i := 1; i < DefaultMaxFailures; i++ {
		if err := f.try(t, "alice", "alice", "wrong"+strconv.Itoa(i)); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if len(f.ev.Signatures()) != 0 {
		t.Fatalf("events before the lock: %v", f.ev.Signatures())
	}
	wantLocked(t, f.try(t, "alice", "alice", "wrong10"), DefaultLockout)
	calls := f.inner.Calls()

	// Locked: the right password, a wrong one and any spelling of the name
	// are all refused without a password check.
	f.clk.Advance(29 * time.Minute)
	wantLocked(t, f.try(t, "alice", "alice", "right"), time.Minute)
	wantLocked(t, f.try(t, "ALICE", "Alice", "wrong"), time.Minute)
	if f.inner.Calls() != calls {
		t.Errorf("inner asked %d times while locked", f.inner.Calls()-calls)
	}
	// Another account is untouched.
	if err := f.try(t, "bob", "bob", "bobpw"); err != nil {
		t.Errorf("bob: %v", err)
	}

	f.clk.Advance(time.Minute)
	if err := f.try(t, "alice", "alice", "right"); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	sigs := f.ev.Signatures()
	if len(sigs) != 1 || sigs[0] != cef.SigAccountLocked {
		t.Fatalf("events = %v", sigs)
	}
	ev := f.ev.Events()[0]
	if ev.Username != "alice" || ev.Severity != 8 {
		t.Errorf("event %+v", ev)
	}
}

func TestLockedErrorForBadCredentialsOnly(t *testing.T) {
	f := newFixture(Config{MaxFailures: 3})
	// No Authorization header, a mismatched user: never counted.
	for i := 0; i < 10; i++ {
		if err := f.try(t, "alice", "", ""); !errors.Is(err, auth.ErrNoCredentials) {
			t.Fatalf("no header: %v", err)
		}
		if err := f.try(t, "alice", "bob", "bobpw"); !errors.Is(err, auth.ErrMismatch) {
			t.Fatalf("mismatch: %v", err)
		}
	}
	if n, locked, _ := f.a.Status(context.Background(), "alice"); n != 0 || locked != 0 {
		t.Fatalf("status = %d, %v", n, locked)
	}
	for i := 0; i < 2; i++ {
		f.try(t, "alice", "alice", "x")
	}
	wantLocked(t, f.try(t, "alice", "alice", "x"), DefaultLockout)
	// While locked, a request without credentials gets the ordinary answer.
	if err := f.try(t, "alice", "", ""); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("no header while locked: %v", err)
	}
}

func TestSuccessResetsCount(t *testing.T) {
	f := newFixture(Config{MaxFailures: 5})
	for round := 0; round < 3; round++ {
		for i := 0; i < 4; i++ {
			if err := f.try(t, "alice", "alice", "bad"); !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("round %d failure %d: %v", round, i, err)
			}
		}
		if err := f.try(t, "alice", "alice", "right"); err != nil {
			t.Fatalf("round %d success: %v", round, err)
		}
	}
	for i := 0; i < 4; i++ {
		f.try(t, "alice", "alice", "bad")
	}
	wantLocked(t, f.try(t, "alice", "alice", "bad"), DefaultLockout)
}

func TestWindowEnds(t *testing.T) {
	f := newFixture(Config{MaxFailures: 3, Window: time.Minute, Lockout: time.Hour})
	f.try(t, "alice", "alice", "bad")
	f.try(t, "alice", "alice", "bad")
	f.clk.Advance(time.Minute)
	if err := f.try(t, "alice", "alice", "bad"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("first failure of a new window: %v", err)
	}
	f.try(t, "alice", "alice", "bad")
	wantLocked(t, f.try(t, "alice", "alice", "bad"), time.Hour)
}

func TestKeyNormalisation(t *testing.T) {
	derived, err := auth.DeriveUsername("Carol@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"Alice": "alice", "alice": "alice", "Carol@Example.com": derived, "carol@example.com": derived,
		"not valid!": "not valid!", "ÜBER": "über",
	} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnlockAndStatus(t *testing.T) {
	f := newFixture(Config{MaxFailures: 2})
	ctx := context.Background()
	f.try(t, "alice", "alice", "bad")
	if n, locked, err := f.a.Status(ctx, "Alice"); n != 1 || locked != 0 || err != nil {
		t.Fatalf("status = %d %v %v", n, locked, err)
	}
	wantLocked(t, f.try(t, "alice", "alice", "bad"), DefaultLockout)
	f.clk.Advance(time.Minute)
	if _, locked, _ := f.a.Status(ctx, "alice"); locked != DefaultLockout-time.Minute {
		t.Fatalf("locked for %v", locked)
	}
	if err := f.a.Unlock(ctx, "ALICE"); err != nil {
		t.Fatal(err)
	}
	if err := f.try(t, "alice", "alice", "right"); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	// The count was cleared too: one failure does not lock again.
	if err := f.try(t, "alice", "alice", "bad"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("after unlock: %v", err)
	}
	sigs := f.ev.Signatures()
	if len(sigs) != 2 || sigs[0] != cef.SigAccountLocked || sigs[1] != cef.SigAccountUnlocked || f.ev.Events()[1].Username != "alice" {
		t.Errorf("events %v", f.ev.Events())
	}
}

func TestDisabled(t *testing.T) {
	f := newFixture(Config{MaxFailures: -1})
	for i := 0; i < 50; i++ {
		if err := f.try(t, "alice", "alice", "bad"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
}

// OnRefused hears every refusal of a locked account (the one that locks
// it included), nothing else.
func TestOnRefusedCountsRefusals(t *testing.T) {
	var refused int
	f := newFixture(Config{MaxFailures: 2, OnRefused: func() { refused++ }})
	f.try(t, "alice", "alice", "wrong")
	f.try(t, "bob", "bob", "bobpw")
	if refused != 0 {
		t.Fatalf("refused = %d before any lock", refused)
	}
	wantLocked(t, f.try(t, "alice", "alice", "wrong"), 30*time.Minute)
	wantLocked(t, f.try(t, "alice", "alice", "right"), 30*time.Minute)
	f.try(t, "alice", "", "")
	if refused != 2 {
		t.Fatalf("refused = %d, want 2", refused)
	}
}

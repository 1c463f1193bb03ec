package lockout

import (
	"errors"
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/counter"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// TestRealBasicOnSQLite is the production stack: two instances, each with
// its own engine on one SQLite database and auth.NewBasic, wrapped by
// lockout on one shared memcached.
func TestRealBasicOnSQLite(t *testing.T) {
	ctx := t.Context()
	dsn := storetest.SQLite().DSN(t)
	e1, e2 := storetest.Open(t, dsn), storetest.Open(t, dsn)
	storetest.AddUser(t, e1, store.User{Username: "dora", MD5: auth.HashPassword("pässword")})
	mc := testenv.StartMemcached(t)
	ev1, ev2 := &ceftest.Recorder{}, &ceftest.Recorder{}
	a1 := New(auth.NewBasic(e1, auth.BasicOptions{Events: ev1}), counter.NewMemcache(counter.NewMemcacheClient(mc.Addr)),
		Config{MaxFailures: 4}, ev1, nil)
	a2 := New(auth.NewBasic(e2, auth.BasicOptions{Events: ev2}), counter.NewMemcache(counter.NewMemcacheClient(mc.Addr)),
		Config{MaxFailures: 4}, ev2, nil)

	if u, err := a1.Authenticate(req("dora", "Dora", "pässword"), "DORA"); err != nil || u.Username != "dora" {
		t.Fatalf("right password: %+v %v", u, err)
	}
	for i, inst := range []*Authenticator{a1, a2, a1} {
		if _, err := inst.Authenticate(req("dora", "dora", "wrong"), "dora"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// Credentials for another account are a mismatch, not a failure of
	// dora's password: they do not count.
	if _, err := a2.Authenticate(req("dora", "eve", "x"), "dora"); !errors.Is(err, auth.ErrMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	_, err := a2.Authenticate(req("dora", "dora", "wrong"), "dora")
	var le *auth.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("fourth failure: %v", err)
	}
	authFails := len(ev1.Signatures()) + len(ev2.Signatures())
	for _, inst := range []*Authenticator{a1, a2} {
		if _, err := inst.Authenticate(req("dora", "dora", "pässword"), "dora"); !errors.As(err, &le) {
			t.Fatalf("right password while locked: %v", err)
		}
	}
	// Basic was never asked while locked: it logged no further AuthFail.
	if n := len(ev1.Signatures()) + len(ev2.Signatures()); n != authFails {
		t.Errorf("%d events while locked", n-authFails)
	}
	count := map[string]int{}
	for _, s := range append(ev1.Signatures(), ev2.Signatures()...) {
		count[s]++
	}
	if count[cef.SigAuthFail] != 5 || count[cef.SigAccountLocked] != 1 {
		t.Errorf("events %v", count)
	}

	if err := a1.Unlock(ctx, "dora"); err != nil {
		t.Fatal(err)
	}
	if _, err := a2.Authenticate(req("dora", "dora", "pässword"), "dora"); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

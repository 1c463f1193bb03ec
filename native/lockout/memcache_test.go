package lockout

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/counter"
)

// TestSharedAcrossInstances: two Authenticators (two proxy instances) on
// one memcached count failures together; a lock made by one holds on the
// other, and an unlock on one frees both.
func TestSharedAcrossInstances(t *testing.T) {
	mc := testenv.StartMemcached(t)
	inner := &passwords{users: map[string]string{"alice": "right"}}
	evA, evB := &ceftest.Recorder{}, &ceftest.Recorder{}
	a := New(inner, counter.NewMemcache(counter.NewMemcacheClient(mc.Addr)), Config{}, evA, nil)
	b := New(inner, counter.NewMemcache(counter.NewMemcacheClient(mc.Addr)), Config{}, evB, nil)

	for i := 1; i < DefaultMaxFailures; i++ {
		inst := a
		if i%2 == 0 {
			inst = b
		}
		if _, err := inst.Authenticate(req("alice", "alice", "bad"), "alice"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if n, _, err := a.Status(t.Context(), "alice"); n != DefaultMaxFailures-1 || err != nil {
		t.Fatalf("shared count = %d %v", n, err)
	}
	// The tenth failure, on B, locks the account for A as well.
	_, err := b.Authenticate(req("alice", "alice", "bad"), "alice")
	var le *auth.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("tenth failure: %v", err)
	}
	calls := inner.Calls()
	_, err = a.Authenticate(req("alice", "alice", "right"), "alice")
	if !errors.As(err, &le) || le.RetryAfter <= DefaultLockout-time.Minute || le.RetryAfter > DefaultLockout {
		t.Fatalf("A after B locked: %v", err)
	}
	if inner.Calls() != calls {
		t.Error("password checked while locked")
	}
	if s := evB.Signatures(); len(s) != 1 || s[0] != cef.SigAccountLocked || len(evA.Signatures()) != 0 {
		t.Errorf("events A %v B %v", evA.Signatures(), s)
	}

	if err := a.Unlock(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(req("alice", "alice", "right"), "alice"); err != nil {
		t.Fatalf("B after A unlocked: %v", err)
	}
}

// TestMemcachedKilledFailsOpen: with memcached gone mid-traffic, every
// request is authenticated normally: no error beyond the password's own
// verdict, no lock, and the store failures are reported.
func TestMemcachedKilledFailsOpen(t *testing.T) {
	mc := testenv.StartMemcached(t)
	inner := &passwords{users: map[string]string{"alice": "right", "bob": "bobpw"}}
	var storeErrs atomic.Int64
	cfg := Config{MaxFailures: 3, OnStoreError: func(error) { storeErrs.Add(1) }}
	a := New(inner, counter.NewMemcache(counter.NewMemcacheClient(mc.Addr)), cfg, nil, nil)

	// Two failures counted before the crash.
	for i := 0; i < 2; i++ {
		a.Authenticate(req("bob", "bob", "bad"), "bob")
	}
	var wg sync.WaitGroup
	var clientErrs atomic.Int64
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := a.Authenticate(req("alice", "alice", "right"), "alice"); err != nil {
					clientErrs.Add(1)
					t.Errorf("request failed: %v", err)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let traffic run against a live memcached first
	mc.Stop()
	before := storeErrs.Load()
	deadline := time.Now().Add(30 * time.Second)
	for storeErrs.Load() < before+20 {
		if time.Now().After(deadline) {
			t.Fatal("no store errors reported with memcached down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// With the store down, bob's failures cannot lock him.
	for i := 0; i < 5; i++ {
		if _, err := a.Authenticate(req("bob", "bob", "bad"), "bob"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("bob with memcached down: %v", err)
		}
	}
	if _, err := a.Authenticate(req("bob", "bob", "bobpw"), "bob"); err != nil {
		t.Fatalf("bob's right password with memcached down: %v", err)
	}
	mc.Start(t)
	// Back up (and empty): counting works again.
	for i := 0; i < 2; i++ {
		if _, err := a.Authenticate(req("bob", "bob", "bad"), "bob"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("after restart: %v", err)
		}
	}
	_, err := a.Authenticate(req("bob", "bob", "bad"), "bob")
	var le *auth.LockedError
	if !errors.As(err, &le) {
		t.Errorf("third failure after restart: %v", err)
	}
	close(stop)
	wg.Wait()
	if clientErrs.Load() != 0 {
		t.Errorf("%d client errors", clientErrs.Load())
	}
}

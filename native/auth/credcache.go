package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"

	"weaveproxy/native/store"
)

// DefaultCredentialTTL is how long a verified name and password are
// remembered: long enough to cover the burst of requests of one sync,
// short enough that a changed password or a deleted account stops working
// promptly everywhere.
const DefaultCredentialTTL = 10 * time.Second

// maxCachedCredentials bounds the cache; beyond it, it starts afresh.
const maxCachedCredentials = 50_000

// credCache remembers credentials that verified, keyed by an HMAC of
// name and password under a key of this process: the proxy checks every
// request's Basic credentials, and without it each one would cost a
// database lookup (and, with --password-hash bcrypt, a deliberately slow
// hash). Only successes are kept; a wrong password always reaches the
// database and the lockout count.
type credCache struct {
	ttl time.Duration
	now func() time.Time
	key [32]byte

	mu sync.Mutex
	m  map[[32]byte]cachedUser
}

type cachedUser struct {
	u       store.User
	expires time.Time
}

func newCredCache(ttl time.Duration, now func() time.Time) *credCache {
	if ttl == 0 {
		ttl = DefaultCredentialTTL
	}
	if ttl < 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	c := &credCache{ttl: ttl, now: now, m: map[[32]byte]cachedUser{}}
	if _, err := rand.Read(c.key[:]); err != nil {
		return nil // no randomness: no cache rather than a guessable key
	}
	return c
}

func (c *credCache) id(name, password string) [32]byte {
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// get returns the user verified with exactly name and password, if that
// happened less than ttl ago.
func (c *credCache) get(name, password string) (store.User, bool) {
	if c == nil {
		return store.User{}, false
	}
	k := c.id(name, password)
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.expires) {
		return store.User{}, false
	}
	return e.u, true
}

func (c *credCache) put(name, password string, u store.User) {
	if c == nil {
		return
	}
	k := c.id(name, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedCredentials {
		c.m = map[[32]byte]cachedUser{}
	}
	c.m[k] = cachedUser{u: u, expires: c.now().Add(c.ttl)}
}

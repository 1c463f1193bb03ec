package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// DefaultCredentialTTL is how long a verified password is remembered. An
// entry is bound to the stored hash it verified against, so a changed
// password or a deleted account stops working at once whatever the TTL;
// the TTL only bounds how long a process keeps an entry.
const DefaultCredentialTTL = 5 * time.Minute

// maxCachedCredentials bounds the cache; beyond it, it starts afresh.
const maxCachedCredentials = 50_000

// credCache remembers passwords that verified, keyed by an HMAC (under a
// key of this process) of the name, the password and the stored hash
// they matched: the proxy checks every request's Basic credentials, and
// with --password-hash bcrypt each check would cost a deliberately slow
// hash. The user row is still read on every request, so a deleted,
// disabled or re-passworded account is refused at once. Only successes
// are kept; a wrong password always reaches the compare and the lockout
// count.
type credCache struct {
	ttl time.Duration
	now func() time.Time
	key *secretKey

	mu sync.Mutex
	m  map[[32]byte]time.Time // expiry
}

func newCredCache(ttl time.Duration, now func() time.Time) *credCache {
	ttl, now, key, ok := memorySettings(ttl, DefaultCredentialTTL, now)
	if !ok {
		return nil
	}
	return &credCache{ttl: ttl, now: now, key: key, m: map[[32]byte]time.Time{}}
}

func (c *credCache) id(u store.User, password string) [32]byte {
	return c.key.sum(u.Username, u.MD5, u.PasswordHash, password)
}

// memorySettings completes the settings of an in-process credential
// memory: ttl 0 takes def, a negative ttl turns the memory off (ok
// false), as does a failure to draw a key (no memory rather than a
// guessable key).
func memorySettings(ttl, def time.Duration, now func() time.Time) (time.Duration, func() time.Time, *secretKey, bool) {
	if ttl == 0 {
		ttl = def
	}
	if now == nil {
		now = time.Now
	}
	key, ok := newSecretKey()
	return ttl, now, key, ok && ttl > 0
}

// secretKey is a random key of this process for HMACs of credentials:
// what is kept in memory reveals nothing about the passwords without it.
type secretKey [32]byte

func newSecretKey() (*secretKey, bool) {
	var k secretKey
	_, err := rand.Read(k[:])
	return &k, err == nil
}

// sum is the HMAC of parts, each ended by a NUL so that no two lists of
// parts give the same input.
func (k *secretKey) sum(parts ...string) [32]byte {
	m := hmac.New(sha256.New, k[:])
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// verified reports whether password matched u's stored hash less than
// ttl ago.
func (c *credCache) verified(u store.User, password string) bool {
	if c == nil {
		return false
	}
	k := c.id(u, password)
	c.mu.Lock()
	exp, ok := c.m[k]
	c.mu.Unlock()
	return ok && c.now().Before(exp)
}

func (c *credCache) remember(u store.User, password string) {
	if c == nil {
		return
	}
	k := c.id(u, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedCredentials {
		c.m = map[[32]byte]time.Time{}
	}
	c.m[k] = c.now().Add(c.ttl)
}

package auth

import (
	"sync"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// DefaultRecentTTL is how long a successful login is answered from
// memory without reading the users table again: the proxy checks the
// credentials of every request it forwards, and one sync is a burst of
// requests with the same credentials. A password change or account
// deletion served by this process applies at once (Forget); one made
// elsewhere (another instance, PHP directly) within this time.
const DefaultRecentTTL = 2 * time.Second

// recentLogins remembers the user rows of recent successful logins, keyed
// by an HMAC of name and password under a key of this process.
type recentLogins struct {
	ttl time.Duration
	now func() time.Time
	key *secretKey

	mu     sync.Mutex
	m      map[[32]byte]recentLogin
	forgot map[string]time.Time // name → when its entries were voided
	all    time.Time            // every entry before this is void
}

type recentLogin struct {
	u       store.User
	name    string
	created time.Time
}

func newRecentLogins(ttl time.Duration, now func() time.Time) *recentLogins {
	if ttl <= 0 {
		return nil // off unless asked for: see BasicOptions.RecentTTL
	}
	ttl, now, key, ok := memorySettings(ttl, DefaultRecentTTL, now)
	if !ok {
		return nil
	}
	return &recentLogins{ttl: ttl, now: now, key: key, m: map[[32]byte]recentLogin{}, forgot: map[string]time.Time{}}
}

func (c *recentLogins) id(name, password string) [32]byte { return c.key.sum(name, password) }

func (c *recentLogins) get(name, password string) (store.User, bool) {
	if c == nil {
		return store.User{}, false
	}
	k := c.id(name, password)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.Sub(e.created) >= c.ttl || !e.created.After(c.all) || !e.created.After(c.forgot[name]) {
		return store.User{}, false
	}
	return e.u, true
}

func (c *recentLogins) put(name, password string, u store.User) {
	if c == nil {
		return
	}
	k := c.id(name, password)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedCredentials {
		c.m = map[[32]byte]recentLogin{}
	}
	c.m[k] = recentLogin{u: u, name: name, created: now}
}

// forget voids name's entries ("" voids all).
func (c *recentLogins) forget(name string) {
	if c == nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if name == "" || len(c.forgot) >= maxCachedCredentials {
		c.all, c.forgot = now, map[string]time.Time{}
		return
	}
	c.forgot[name] = now
}

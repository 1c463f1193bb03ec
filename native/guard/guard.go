// Package guard checks every request of the Weave API before any side
// answers it, whatever its route's mode (native, shadow, or forwarded to
// the legacy PHP server): it refuses paths with dot segments, verifies
// Basic credentials itself (lockout, CEF AuthFail events), refuses locked
// accounts, and charges the request to a rate budget — the user's only
// when the credentials verified, otherwise the client address's, so that
// a stranger who knows a user name (they are public) cannot spend it.
//
// The proxy calls Admit through its own Guard interface; a native-only
// server wraps its handler with Handler. The native handlers then take
// the verdict from the request instead of checking (and counting) again:
// give them Verified(inner) as their Authenticator.
package guard

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/ratelimit"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// Config configures a Guard.
type Config struct {
	// Auth verifies credentials: the lockout-wrapped Basic authenticator,
	// so that every failure counts and is logged once. Required.
	Auth auth.Authenticator
	// Limiter charges budgets; nil: no budgets.
	Limiter *ratelimit.Limiter
	// ClientAddr is the request's client address (clientip.Resolver.Addr,
	// which trusts X-Forwarded-For only from configured front proxies).
	// Required.
	ClientAddr func(*http.Request) string
	// Forget, if set, is told the user key of an account a request is
	// about to change (password, deletion; "" for a reset-page POST,
	// whose account is in the form), so remembered logins (auth.Basic's
	// Forget) do not outlive the change.
	Forget func(user string)
	Logger *slog.Logger
}

// Guard is the check in front of every Weave request. It is safe for
// concurrent use.
type Guard struct {
	cfg    Config
	render weave.Renderer
}

// New returns a Guard.
func New(cfg Config) *Guard {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Guard{cfg: cfg, render: weave.Renderer{Logger: cfg.Logger}}
}

// InvalidPathBody is the answer to a path with dot segments.
const InvalidPathBody = `"invalid path"`

// verdict is what the guard learnt of a request's credentials.
type verdict struct {
	key  string // weaveurl.UserKey of the path user
	user store.User
	err  error
}

type verdictKey struct{}

// Admit checks r. It returns the request to serve (carrying the verdict
// on its credentials) and true, or false after answering w itself.
func (g *Guard) Admit(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	raw := r.URL.EscapedPath()
	if weaveurl.HasDotSegment(raw) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(InvalidPathBody))
		return nil, false
	}
	c := weaveurl.Classify(r.Method, raw)
	var v *verdict
	if c.UserKey != "" && needsAuth(c) && r.Header.Get("Authorization") != "" {
		u, err := g.cfg.Auth.Authenticate(r, c.User)
		v = &verdict{key: c.UserKey, user: u, err: err}
		var locked *auth.LockedError
		if errors.As(err, &locked) {
			// The same answer whatever the password: no oracle.
			g.render.Write(w, r, err)
			return nil, false
		}
		r = r.WithContext(context.WithValue(r.Context(), verdictKey{}, v))
	}
	if err := g.charge(r, c, v); err != nil {
		g.render.Write(w, r, err)
		return nil, false
	}
	if g.cfg.Forget != nil {
		switch {
		case c.Kind == weaveurl.User && c.Write && c.UserKey != "":
			g.cfg.Forget(c.UserKey)
		case c.Kind == weaveurl.ResetPage && c.Method == http.MethodPost:
			g.cfg.Forget("")
		}
	}
	return r, true
}

// needsAuth: the routes whose answer depends on the user's password (every
// storage and info request; the User API's changes and e-mail read).
// Registration, the existence check, node lookup and the reset request
// take no password, so credentials sent along are not tried there.
func needsAuth(c weaveurl.Request) bool {
	if c.Kind.StorageAPI() {
		return true
	}
	if c.Kind != weaveurl.User || c.Shape == "" {
		return false
	}
	switch c.Shape {
	case "/user/{version}/{user}":
		return c.Method == http.MethodDelete
	case "/user/{version}/{user}/email":
		return true
	case "/user/{version}/{user}/password":
		return c.Method == http.MethodPost
	}
	return false
}

// charge spends one request of r's budget: the user's when v says the
// credentials verified, the client address's otherwise. Account creation
// always spends the address's registration budget.
func (g *Guard) charge(r *http.Request, c weaveurl.Request, v *verdict) error {
	if g.cfg.Limiter == nil {
		return nil
	}
	if c.Kind == weaveurl.User && c.Shape == "/user/{version}/{user}" && c.Method == http.MethodPut {
		return g.cfg.Limiter.Check(r, ratelimit.ClassRegister, g.cfg.ClientAddr(r))
	}
	class := ratelimit.MethodClass(r.Method)
	if v != nil && v.err == nil {
		return g.cfg.Limiter.Check(r, class, v.key)
	}
	// ':' never occurs in a user key, so an address cannot share a
	// budget with a user named like it.
	return g.cfg.Limiter.Check(r, class, "addr:"+g.cfg.ClientAddr(r))
}

// Handler puts the guard in front of next (a native-only server).
func (g *Guard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, ok := g.Admit(w, r); ok {
			next.ServeHTTP(w, r)
		}
	})
}

// Verified returns an Authenticator for the native handlers: a request the
// guard has checked gets the guard's verdict (its failure already counted
// and logged), any other is checked by inner.
func Verified(inner auth.Authenticator) auth.Authenticator { return verified{inner} }

type verified struct{ inner auth.Authenticator }

func (a verified) Authenticate(r *http.Request, pathUser string) (store.User, error) {
	if v, ok := r.Context().Value(verdictKey{}).(*verdict); ok && v.key == weaveurl.UserKey(pathUser) {
		return v.user, v.err
	}
	return a.inner.Authenticate(r, pathUser)
}

package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// Protect guards the state-changing calls of an admin handler (every
// method but GET, HEAD and OPTIONS: route reloads, promotions, unlocks,
// waivers). They need "Authorization: Bearer <token>", and are refused
// when a browser says it sends them from another site (Sec-Fetch-Site,
// or an Origin that is not the admin listener's own): a page open in the
// admin's browser must not be able to unlock an account or move a route.
// With no token configured, state-changing calls are refused outright.
// Reads pass untouched.
func Protect(h http.Handler, token string) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			h.ServeHTTP(w, r)
			return
		}
		if crossSite(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site request refused"})
			return
		}
		if token == "" {
			writeJSON(w, http.StatusForbidden, map[string]string{
				"error": "state-changing admin calls are off: start the server with --admin-token-file"})
			return
		}
		got, ok := bearer(r)
		// Hashing both sides makes the compare constant-time whatever
		// the lengths.
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="weaveproxy admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "admin token required"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// crossSite reports whether a browser marked r as coming from a page of
// another origin. Non-browser clients (curl, the CLI) send neither header.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host)
}

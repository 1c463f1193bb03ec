package auth

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/store"
)

// BasicOptions configures a Basic authenticator.
type BasicOptions struct {
	// Events receives AuthFail / CrossUserAccess events; nil drops them.
	Events cef.Sink
	// CheckLocation refuses a user whose users.location is set and differs
	// from the request's Host, as the legacy storage node did.
	CheckLocation bool
	// CredentialTTL is how long verified credentials are remembered
	// (0: DefaultCredentialTTL; negative: never).
	CredentialTTL time.Duration
	// RecentTTL is how long a successful login is answered without
	// reading the users table; 0 or negative: never. Set it only where
	// every account change passes something that calls Forget (the
	// guard): otherwise an old password keeps working that long.
	RecentTTL time.Duration
	// Now is the clock of both memories; nil means time.Now.
	Now func() time.Time
	// PasswordHash HashBcrypt upgrades an account still holding md5 to
	// bcrypt when it logs in; only once PHP no longer reads the users
	// table (see PasswordHash).
	PasswordHash PasswordHash
	// Logger hears of failed upgrades; nil discards.
	Logger *slog.Logger
}

// Basic authenticates HTTP Basic credentials against the legacy users table.
type Basic struct {
	users  store.Users
	events cef.Sink
	opts   BasicOptions
	cache  *credCache
	recent *recentLogins
}

var _ Authenticator = (*Basic)(nil)

// NewBasic returns an Authenticator over users.
func NewBasic(users store.Users, opts BasicOptions) *Basic {
	ev := opts.Events
	if ev == nil {
		ev = cef.Discard{}
	}
	return &Basic{users: users, events: ev, opts: opts, cache: newCredCache(opts.CredentialTTL, opts.Now),
		recent: newRecentLogins(opts.RecentTTL, opts.Now)}
}

// credError is a failure that carries the CEF sentence describing it, so the
// parse step and the check step report through one place.
type credError struct {
	base     error
	reason   string
	severity int
}

func (e *credError) Error() string { return fmt.Sprintf("%v: %s", e.base, e.reason) }
func (e *credError) Unwrap() error { return e.base }

// ParseBasic extracts the Basic credentials of r. The password is split at
// the FIRST ':' (as the Python server did), so passwords may contain ':';
// the legacy PHP server exploded on every ':' and refused such passwords.
// The password is returned as sent; it must be valid UTF-8, else the error
// wraps ErrBadCredentials. Missing, non-Basic or undecodable headers give
// an error wrapping ErrNoCredentials.
func ParseBasic(r *http.Request) (user, password string, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "", &credError{ErrNoCredentials, "No Authorization header was provided", 5}
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "basic") {
		return "", "", &credError{ErrNoCredentials, "Authorization header contains unknown protocol", 5}
	}
	raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if derr != nil {
		return "", "", &credError{ErrNoCredentials, "Authorization header is badly encoded", 5}
	}
	u, p, ok := strings.Cut(string(raw), ":")
	if !ok || u == "" {
		return "", "", &credError{ErrNoCredentials, "Authorization header is badly encoded", 5}
	}
	if !utf8.ValidString(p) {
		return u, "", &credError{ErrBadCredentials, "Password is not utf-8 encoded", 7}
	}
	return u, p, nil
}

// HashPassword is the users.md5 value legacy PHP computes for password:
// md5 over utf8_encode() of its UTF-8 bytes (PHP treated the bytes as
// Latin-1 and re-encoded them). For ASCII passwords this is plain md5.
// Writing this form keeps accounts usable through the PHP server.
func HashPassword(password string) string {
	return md5hex(latin1ToUTF8(password))
}

// CheckPassword reports whether password matches u.MD5 in either form a
// legacy row can hold: the PHP form of HashPassword, or md5 of the plain
// UTF-8 bytes (rows written by PHP versions without utf8_encode, or created
// with a \u-escaped JSON body). Both compares always run, in constant time.
//
// An account whose users.md5 holds BcryptMarker is checked against its
// bcrypt hash instead (and only that: PHP may not log it in either).
func CheckPassword(u store.User, password string) bool {
	if usesBcrypt(u) {
		return u.PasswordHash != "" && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), bcryptInput(password)) == nil
	}
	stored := []byte(strings.ToLower(strings.TrimSpace(u.MD5)))
	php := subtle.ConstantTimeCompare(stored, []byte(HashPassword(password)))
	plain := subtle.ConstantTimeCompare(stored, []byte(md5hex(password)))
	return php|plain == 1
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// latin1ToUTF8 is PHP's utf8_encode: every byte becomes the code point of
// the same value.
func latin1ToUTF8(s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// Authenticate implements Authenticator.
func (b *Basic) Authenticate(r *http.Request, pathUser string) (store.User, error) {
	name, password, err := ParseBasic(r)
	if err != nil {
		b.fail(r, name, err)
		return store.User{}, err
	}
	authName, nerr := NormalizeUsername(name)
	if nerr != nil {
		err := &credError{ErrBadCredentials, "Username contains invalid characters", 7}
		b.fail(r, name, err)
		return store.User{}, err
	}
	want, perr := NormalizeUsername(pathUser)
	if perr != nil || want != authName {
		return store.User{}, b.mismatch(r, authName, password, pathUser)
	}
	return b.check(r, authName, password)
}

// check looks the user up and verifies password, status and node.
func (b *Basic) check(r *http.Request, name, password string) (store.User, error) {
	if u, ok := b.recent.get(name, password); ok {
		return b.checkNode(r, u)
	}
	u, err := b.users.UserByName(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		err := &credError{ErrBadCredentials, "User Authentication Failed", 5}
		b.fail(r, name, err)
		return store.User{}, err
	}
	if err != nil {
		return store.User{}, fmt.Errorf("auth: looking up %q: %w", name, err)
	}
	// A backend that checks passwords itself (LDAP) keeps no hash in u
	// to bind a cache entry to: its answers are not cached.
	_, backend := b.users.(PasswordBackend)
	cached := !backend && b.cache.verified(u, password)
	ok := cached
	if !ok {
		if ok, err = VerifyPassword(r.Context(), b.users, u, password); err != nil {
			return store.User{}, fmt.Errorf("auth: checking %q: %w", name, err)
		}
	}
	if !ok {
		err := &credError{ErrBadCredentials, "User Authentication Failed", 5}
		b.fail(r, name, err)
		return store.User{}, err
	}
	if u.Status != 1 {
		err := &credError{ErrDisabled, "Disabled account", 5}
		b.fail(r, name, err)
		return store.User{}, err
	}
	if !cached {
		if b.opts.PasswordHash == HashBcrypt && !usesBcrypt(u) {
			b.upgrade(r, &u, password)
		}
		if !backend {
			b.cache.remember(u, password)
		}
	}
	if !backend {
		b.recent.put(name, password, u)
	}
	return b.checkNode(r, u)
}

// Forget drops what this process remembers of name's recent logins
// ("" forgets everyone): call it when an account's password, status or
// existence is about to change.
func (b *Basic) Forget(name string) { b.recent.forget(name) }

// upgrade replaces u's md5 with a bcrypt hash of the password that just
// verified. A failure leaves the md5 in place (the login still succeeds)
// and is tried again at the next login.
func (b *Basic) upgrade(r *http.Request, u *store.User, password string) {
	hs, ok := b.users.(store.PasswordHashes)
	if _, backend := b.users.(PasswordBackend); !ok || backend {
		return // the backend keeps passwords its own way
	}
	hash, err := bcryptHash(password)
	if err == nil {
		err = hs.SetPasswordHash(r.Context(), u.ID, hash, BcryptMarker)
	}
	if err != nil {
		if b.opts.Logger != nil {
			b.opts.Logger.WarnContext(r.Context(), "auth: upgrading a password hash to bcrypt", "user", u.Username, "err", err)
		}
		return
	}
	u.MD5, u.PasswordHash = BcryptMarker, hash
}

// checkNode refuses a user who belongs to another storage node, when
// that is checked.
func (b *Basic) checkNode(r *http.Request, u store.User) (store.User, error) {
	if b.opts.CheckLocation && u.Location != "" && !strings.EqualFold(u.Location, r.Host) {
		err := &credError{ErrBadCredentials, "User authenticated to wrong node", 7}
		b.fail(r, u.Username, err)
		return store.User{}, err
	}
	return u, nil
}

// mismatch handles credentials for another account than the path's. It
// still verifies them, quietly, to tell a mistyped URL (AuthFail) from a
// valid account reaching into another one (CrossUserAccess); the answer is
// ErrMismatch either way.
func (b *Basic) mismatch(r *http.Request, authName, password, pathUser string) error {
	target := [][2]string{{"cs2Label", "requestedUser"}, {"cs2", pathUser}}
	u, err := b.users.UserByName(r.Context(), authName)
	valid := false
	if err == nil && u.Status == 1 {
		valid, _ = VerifyPassword(r.Context(), b.users, u, password)
	}
	if valid {
		b.events.Emit(r, cef.Event{Signature: "CrossUserAccess", Name: "Authenticated user accessed another account",
			Severity: 7, Username: authName, Extensions: target})
	} else {
		b.events.Emit(r, cef.Event{Signature: "AuthFail", Name: "Username Does Not Match URL",
			Severity: 7, Username: authName, Extensions: target})
	}
	return fmt.Errorf("%w: %q for path %q", ErrMismatch, authName, pathUser)
}

func (b *Basic) fail(r *http.Request, user string, err error) {
	var ce *credError
	if !errors.As(err, &ce) {
		return
	}
	b.events.Emit(r, cef.Event{Signature: "AuthFail", Name: ce.reason, Severity: ce.severity, Username: user})
}

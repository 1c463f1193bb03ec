package weaveurl

import (
	"crypto/sha1"
	"encoding/base32"
	"errors"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// User names live here, not in native/auth, because the proxy, the diff
// tools and the native server must agree on whose request it is (rate
// budgets, cache invalidation, canary buckets) without importing native.

// ErrInvalidUser: a name that is neither a legacy name ([A-Za-z0-9._-]+)
// nor an e-mail address that can be turned into one.
var ErrInvalidUser = errors.New("invalid username")

// MaxUserLen is the width of users.username in the legacy schema.
const MaxUserLen = 32

// idnaProfile approximates the IDNA2003 nameprep Python's "idna" codec
// applied (case folding, ß → ss via transitional mapping) without rejecting
// characters that are fine in a local part but not in a host name ('+', '_').
var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(true), idna.StrictDomainName(false))

// ValidLegacyName reports whether name matches the legacy username pattern
// (PHP's /^[A-Z0-9._-]+$/i, PY's VALID_USERNAME_RE).
func ValidLegacyName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// DeriveUser turns an e-mail address into the 32-character account name
// Firefox 4+ clients and the Python server use: the address percent-decoded,
// both halves IDN-encoded, lower-cased, SHA-1 hashed, base32 encoded and
// lower-cased. It does not check the address is otherwise well formed.
func DeriveUser(email string) (string, error) {
	addr, err := url.PathUnescape(email)
	if err != nil {
		addr = email
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return "", ErrInvalidUser
	}
	l, err1 := idnaProfile.ToASCII(strings.ToLower(local))
	d, err2 := idnaProfile.ToASCII(strings.ToLower(domain))
	if err1 != nil || err2 != nil {
		return "", ErrInvalidUser
	}
	return HashName(strings.ToLower(l + "@" + d)), nil
}

// HashName is the sha1/base32 account name of an already prepared address.
func HashName(s string) string {
	sum := sha1.Sum([]byte(s))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))
}

// NormalizeUser maps a name as it arrives (URL path, Authorization
// header, web form) to the stored form: e-mail addresses to their derived
// name, legacy names lower-cased. ErrInvalidUser for anything else.
func NormalizeUser(name string) (string, error) {
	if strings.Contains(name, "@") {
		return DeriveUser(name)
	}
	if !ValidLegacyName(name) {
		return "", ErrInvalidUser
	}
	return strings.ToLower(name), nil
}

// UserKey is the key every part of the system uses for "this user's"
// budgets, locks, caches and canary buckets: NormalizeUser's answer, or
// for a name that is not valid (no such account can exist) the name
// lower-cased, so that even garbage names of one spelling share one key.
// UserKey(UserKey(x)) == UserKey(x).
func UserKey(name string) string {
	if n, err := NormalizeUser(name); err == nil {
		return n
	}
	return strings.ToLower(name)
}

// LooksDerived reports whether name has the shape of an e-mail-derived
// name: exactly 32 characters of the base32 alphabet.
func LooksDerived(name string) bool {
	if len(name) != 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

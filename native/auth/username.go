package auth

import (
	"strings"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
)

// The user-name grammar is owned by internal/weaveurl, so the proxy and
// the diff tools key users exactly as native looks them up; these names
// keep the auth vocabulary for native callers.

// ErrInvalidUsername: a name that is neither a legacy name ([A-Za-z0-9._-]+)
// nor an e-mail address that can be turned into one.
var ErrInvalidUsername = weaveurl.ErrInvalidUser

// MaxUsernameLen is the width of users.username in the legacy schema.
const MaxUsernameLen = weaveurl.MaxUserLen

// ValidLegacyName: see weaveurl.ValidLegacyName.
func ValidLegacyName(name string) bool { return weaveurl.ValidLegacyName(name) }

// DeriveUsername: see weaveurl.DeriveUser.
func DeriveUsername(email string) (string, error) { return weaveurl.DeriveUser(email) }

// NormalizeUsername: see weaveurl.NormalizeUser.
func NormalizeUsername(name string) (string, error) { return weaveurl.NormalizeUser(name) }

// LooksDerived: see weaveurl.LooksDerived.
func LooksDerived(name string) bool { return weaveurl.LooksDerived(name) }

// ClientDerivedUsername is the name Firefox's identity.js computes for an
// address: sha1/base32 of the lower-cased address with no IDN step. It
// equals DeriveUsername for ASCII addresses; for internationalised ones the
// two differ, and the server accepts either when it checks an e-mail against
// the account name.
func ClientDerivedUsername(email string) string {
	return weaveurl.HashName(strings.ToLower(email))
}

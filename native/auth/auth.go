// Package auth authenticates Weave requests: HTTP Basic against the legacy
// users table, with the legacy md5 password hashes.
package auth

import (
	"net/http"

	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// Failures an Authenticator reports. The wire package owns them (it
// answers them); these are the same values under auth's names.
var (
	// ErrNoCredentials: no Authorization header, not Basic, or badly encoded.
	ErrNoCredentials = weave.ErrNoCredentials
	// ErrMismatch: the authenticated name is not the user in the path.
	ErrMismatch = weave.ErrMismatch
	// ErrBadCredentials: unknown user, wrong password or wrong node;
	// deliberately indistinguishable to the client.
	ErrBadCredentials = weave.ErrBadCredentials
	// ErrDisabled: the right password for a disabled account.
	ErrDisabled = weave.ErrDisabled
)

// LockedError says the account is locked out; RetryAfter is the time left.
type LockedError = weave.LockedError

// Authenticator checks a request's credentials for the user named in its
// path and returns that user's row. pathUser is as it appears in the URL;
// comparison is case-insensitive, as the legacy server lower-cased both.
type Authenticator interface {
	Authenticate(r *http.Request, pathUser string) (store.User, error)
}

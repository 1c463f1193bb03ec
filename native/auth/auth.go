// Package auth authenticates Weave requests: HTTP Basic against the legacy
// users table, with the legacy md5 password hashes.
package auth

import (
	"errors"
	"net/http"
	"time"

	"weaveproxy/native/store"
)

// Failures an Authenticator reports. API handlers map them to their own
// dialect's status and body.
var (
	// ErrNoCredentials: no Authorization header, not Basic, or badly encoded.
	ErrNoCredentials = errors.New("auth: no usable credentials")
	// ErrMismatch: the authenticated name is not the user in the path.
	ErrMismatch = errors.New("auth: user does not match path")
	// ErrBadCredentials: unknown user, wrong password or wrong node;
	// deliberately indistinguishable to the client.
	ErrBadCredentials = errors.New("auth: authentication failed")
	// ErrDisabled: the right password for an account an operator disabled
	// (users.status != 1). Only someone who knows the password learns it,
	// and it does not count towards lockout.
	ErrDisabled = errors.New("auth: account disabled")
)

// LockedError says the account is locked out; RetryAfter is the time left.
type LockedError struct{ RetryAfter time.Duration }

func (e *LockedError) Error() string { return "auth: account locked" }

// Authenticator checks a request's credentials for the user named in its
// path and returns that user's row. pathUser is as it appears in the URL;
// comparison is case-insensitive, as the legacy server lower-cased both.
type Authenticator interface {
	Authenticate(r *http.Request, pathUser string) (store.User, error)
}

package weave

import (
	"errors"
	"time"
)

// Authentication failures, as the wire answers them (Renderer.Classify).
// They live here, not in native/auth, so that the wire package depends on
// no authenticator: native/auth reports these (it re-exports them under
// its own names), and so may any other authenticator.
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

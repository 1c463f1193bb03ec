// Package weave holds what the Weave protocol says on the wire that every
// native handler shares: the numeric error codes, and the Error value that
// carries a failure to the one place where it is rendered.
package weave

import (
	"errors"
	"fmt"
)

// Code is a Weave error code (respcodes): the bare number a client reads
// from an error body.
type Code int

const (
	CodeIllegalMethod     Code = 1
	CodeCaptcha           Code = 2
	CodeInvalidUsername   Code = 3
	CodeInvalidWrite      Code = 4 // also: missing X-Confirm-Delete; PHP's 412 body
	CodeUserMismatch      Code = 5
	CodeJSONParse         Code = 6
	CodeMissingPassword   Code = 7
	CodeInvalidWBO        Code = 8
	CodeWeakPassword      Code = 9
	CodeInvalidResetCode  Code = 10
	CodeUnsupported       Code = 11
	CodeNoEmail           Code = 12
	CodeInvalidCollection Code = 13
	CodeOverQuota         Code = 14
	CodeEmailMismatch     Code = 15
)

// Error is a failure on its way to the client. Handlers return it (wrapped
// or not); the renderer finds it with errors.As and writes Status with the
// JSON body: Code as a bare number, or Message as a JSON string when Code is
// zero (PHP's "record not found", "Authentication failed", ...).
type Error struct {
	Status  int
	Code    Code
	Message string
	// Header holds extra response headers (Retry-After, WWW-Authenticate,
	// X-Weave-Backoff ...).
	Header map[string]string
	// Err is the cause, for logs; never shown to the client.
	Err error
}

func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("weave: %d code %d: %v", e.Status, e.Code, e.Err)
	}
	return fmt.Sprintf("weave: %d %q: %v", e.Status, e.Message, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a coded 4xx/5xx error with a cause.
func Errorf(status int, code Code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Err: fmt.Errorf(format, args...)}
}

// AsError finds the *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var we *Error
	ok := errors.As(err, &we)
	return we, ok
}

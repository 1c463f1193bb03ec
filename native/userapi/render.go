package userapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

var errNotFound = &weave.Error{Status: http.StatusNotFound, Message: "Not found", Err: errors.New("no such resource")}

func codeErr(status int, code weave.Code, format string, args ...any) *weave.Error {
	return weave.Errorf(status, code, format, args...)
}

func msgErr(status int, msg string, cause error) *weave.Error {
	return &weave.Error{Status: status, Message: msg, Err: cause}
}

// text writes a successful plain-text body. PHP sent text/html; this API
// echoes user-supplied text (names, addresses), which must never be served
// as HTML, and clients never looked at the type.
func text(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(body))
}

// fail renders err the one way this API renders failures: a bare Weave
// code or a JSON string, as application/json.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	we := h.toWeave(r, err)
	for k, v := range we.Header {
		w.Header().Set(k, v)
	}
	var body []byte
	if we.Code != 0 {
		body = []byte(strconv.Itoa(int(we.Code)))
	} else {
		body, _ = json.Marshal(we.Message)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(we.Status)
	w.Write(body)
}

// toWeave maps every failure a handler can meet to its wire form.
func (h *Handler) toWeave(r *http.Request, err error) *weave.Error {
	if we, ok := weave.AsError(err); ok {
		return we
	}
	basic := map[string]string{"WWW-Authenticate": `Basic realm="Weave"`}
	var locked *auth.LockedError
	switch {
	case errors.As(err, &locked):
		secs := int(locked.RetryAfter.Seconds() + 0.999)
		return &weave.Error{Status: 401, Message: "Account locked", Err: err,
			Header: map[string]string{"Retry-After": strconv.Itoa(max(secs, 1))}}
	case errors.Is(err, auth.ErrDisabled):
		return &weave.Error{Status: http.StatusForbidden, Message: weave.MsgDisabled, Err: err}
	case errors.Is(err, auth.ErrMismatch):
		return &weave.Error{Status: 401, Code: weave.CodeUserMismatch, Header: basic, Err: err}
	case errors.Is(err, auth.ErrNoCredentials), errors.Is(err, auth.ErrBadCredentials):
		return &weave.Error{Status: 401, Message: "Authentication failed", Header: basic, Err: err}
	}
	h.log.ErrorContext(r.Context(), "user api: backend failure",
		"method", r.Method, "path", r.URL.Path, "err", err)
	return msgErr(http.StatusServiceUnavailable, "Database unavailable", err)
}

// backend wraps an unexpected store error for fail.
func backend(op string, err error) error { return fmt.Errorf("userapi: %s: %w", op, err) }

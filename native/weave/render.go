package weave

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// DefaultRetryAfter is what a 503 tells clients to wait, as both reference
// servers did (retry_after = 1800, WEAVE backoff 1800).
const DefaultRetryAfter = 1800 * time.Second

// Messages the legacy server sent as JSON strings instead of codes.
const (
	MsgAuthFailed  = "Authentication failed"
	MsgLocked      = "Account locked"
	MsgDisabled    = "Account disabled"
	MsgNotFound    = "record not found"
	MsgUnavailable = "Database unavailable"
)

// authenticateHeader is the legacy challenge; the recordings show it on
// every 401, whatever the reason.
const authenticateHeader = `Basic realm="Weave"`

// Renderer is the one place where errors become responses. It is a value:
// each API configures its own backoff and logger.
type Renderer struct {
	// RetryAfter goes into Retry-After and X-Weave-Backoff of a 503;
	// zero means DefaultRetryAfter.
	RetryAfter time.Duration
	// Logger receives the causes the client never sees; nil discards.
	Logger *slog.Logger
}

// Classify maps err to the *Error that goes on the wire. It never returns
// nil for a non-nil err; an error it does not know is a 503, so that an
// unexpected failure never leaks its text and clients back off.
func (rd Renderer) Classify(err error) *Error {
	if we, ok := AsError(err); ok {
		return we
	}
	var locked *LockedError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, ErrNoCredentials), errors.Is(err, ErrMismatch):
		return &Error{Status: http.StatusUnauthorized, Code: CodeUserMismatch,
			Header: map[string]string{"WWW-Authenticate": authenticateHeader}, Err: err}
	case errors.Is(err, ErrBadCredentials):
		return &Error{Status: http.StatusUnauthorized, Message: MsgAuthFailed,
			Header: map[string]string{"WWW-Authenticate": authenticateHeader}, Err: err}
	case errors.Is(err, ErrDisabled):
		// No WWW-Authenticate: other credentials would not help.
		return &Error{Status: http.StatusForbidden, Message: MsgDisabled, Err: err}
	case errors.As(err, &locked):
		secs := int64(math.Ceil(locked.RetryAfter.Seconds()))
		return &Error{Status: http.StatusUnauthorized, Message: MsgLocked, Err: err,
			Header: map[string]string{
				"WWW-Authenticate": authenticateHeader,
				"Retry-After":      strconv.FormatInt(max(secs, 0), 10),
			}}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Message: MsgNotFound, Err: err}
	case errors.Is(err, store.ErrInvalidName):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidWBO, Err: err}
	case errors.Is(err, store.ErrCollectionFull):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidCollection, Err: err}
	case errors.Is(err, store.ErrUserExists):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidWrite, Err: err}
	case errors.Is(err, store.ErrNoResetCode):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidResetCode, Err: err}
	case errors.As(err, &tooBig):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidWBO, Err: err}
	}
	return rd.Unavailable(err)
}

// Unavailable is the 503 "Database unavailable" with the backoff headers.
func (rd Renderer) Unavailable(cause error) *Error {
	ra := rd.RetryAfter
	if ra <= 0 {
		ra = DefaultRetryAfter
	}
	secs := strconv.FormatInt(int64(math.Ceil(ra.Seconds())), 10)
	return &Error{Status: http.StatusServiceUnavailable, Message: MsgUnavailable, Err: cause,
		Header: map[string]string{"Retry-After": secs, "X-Weave-Backoff": secs}}
}

// Body is the JSON the client reads: the bare code, or the message as a
// JSON string.
func (e *Error) Body() []byte {
	if e.Code != 0 {
		return strconv.AppendInt(nil, int64(e.Code), 10)
	}
	return Legacy.AppendString(nil, e.Message)
}

// Write renders err on w as application/json, after logging what the
// client must not see. Headers already set on w (X-Weave-Timestamp) stay.
func (rd Renderer) Write(w http.ResponseWriter, r *http.Request, err error) {
	we := rd.Classify(err)
	rd.log(r, we, err)
	h := w.Header()
	for k, v := range we.Header {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(we.Status)
	_, _ = w.Write(we.Body())
}

func (rd Renderer) log(r *http.Request, we *Error, err error) {
	if rd.Logger == nil {
		return
	}
	level := slog.LevelDebug
	if we.Status >= 500 {
		level = slog.LevelError
		if errors.Is(err, context.Canceled) {
			level = slog.LevelInfo
		}
	}
	attrs := []any{"status", we.Status, "err", err}
	if r != nil {
		attrs = append(attrs, "method", r.Method, "path", r.URL.Path)
	}
	rd.Logger.Log(contextOf(r), level, "weave request failed", attrs...)
}

func contextOf(r *http.Request) context.Context {
	if r == nil {
		return context.Background()
	}
	return r.Context()
}

// BadRequest is a 400 with a Weave code and a cause for the log.
func BadRequest(code Code, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, code, format, args...)
}

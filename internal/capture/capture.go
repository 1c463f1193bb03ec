// Package capture keeps requests and answers in memory for the proxy's
// fallback and for shadow comparisons: bounded body reads that still let
// the real handler get every byte, an in-memory ResponseWriter, a tee that
// passes an answer through while keeping a copy, and running a handler with
// its panics turned into errors. One package, so the proxy and the shadow
// side cannot drift apart in how a panic or a long body is treated.
package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Response is one side's answer, kept in memory.
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte
	Truncated bool // only the start of the body was kept
	Duration  time.Duration
	Err       error // the handler panicked or its request was cancelled
}

// ReadBody reads r's body if it has at most limit bytes and gives r a
// fresh reader over the same bytes, so the handler still gets all of it.
// Otherwise body is nil, complete false, and r.Body is rewired to deliver
// the part read and then the rest as the client sends it.
func ReadBody(r *http.Request, limit int64) (body []byte, complete bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	orig := r.Body
	b, err := io.ReadAll(io.LimitReader(orig, limit+1))
	if err == nil && int64(len(b)) <= limit {
		r.Body = readCloser{bytes.NewReader(b), orig}
		return b, true
	}
	var rest io.Reader = orig
	if err != nil {
		rest = errReader{err}
	}
	r.Body = readCloser{io.MultiReader(bytes.NewReader(b), rest), orig}
	return nil, false
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Replay is a copy of r with body as its body, for a second handler.
func Replay(r *http.Request, body []byte) *http.Request {
	n := r.Clone(r.Context())
	n.ContentLength = int64(len(body))
	n.Body = http.NoBody
	if len(body) > 0 {
		n.Body = io.NopCloser(bytes.NewReader(body))
	}
	return n
}

// ErrPanic wraps a panic of a handler run by Serve or ServeDetached.
var ErrPanic = errors.New("handler panicked")

// Serve runs h for a request whose answer goes to the client, turning a
// panic into an error wrapping ErrPanic. http.ErrAbortHandler keeps its
// meaning (abort the client's connection) and is raised again.
func Serve(h http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err = fmt.Errorf("%w: %v", ErrPanic, v)
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}

// ServeDetached runs h for a request whose answer nobody receives (a
// shadow comparison, a dry run): every panic is an error, including
// http.ErrAbortHandler (then wrapped, for errors.Is), since re-raising it
// would abort a client that gets another answer, or crash the process
// from a worker goroutine.
func ServeDetached(h http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if e, ok := v.(error); ok && errors.Is(e, http.ErrAbortHandler) {
				err = fmt.Errorf("%w: %w", ErrPanic, e)
				return
			}
			err = fmt.Errorf("%w: %v", ErrPanic, v)
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}

// Record runs h detached (ServeDetached) into memory, keeping at most
// limit body bytes (<0: all). A cancelled request is an error too.
func Record(h http.Handler, r *http.Request, limit int64) *Response {
	buf := NewBuffer(limit)
	start := time.Now()
	err := ServeDetached(h, buf, r)
	if err == nil && r.Context().Err() != nil {
		err = fmt.Errorf("capture: %w", context.Cause(r.Context()))
	}
	return buf.Response(time.Since(start), err)
}

// CleanHeader copies h without the nil-valued keys the forwarder uses to
// stop net/http adding headers: they are not part of the answer.
func CleanHeader(h http.Header) http.Header {
	c := make(http.Header, len(h))
	for k, v := range h {
		if v != nil {
			c[k] = append([]string(nil), v...)
		}
	}
	return c
}

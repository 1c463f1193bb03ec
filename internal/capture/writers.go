package capture

import (
	"bytes"
	"net/http"
	"time"
)

// Buffer is an in-memory ResponseWriter keeping at most max body bytes
// (<0: all of them): the fallback decision and the shadow comparison need
// the whole answer before acting.
type Buffer struct {
	header    http.Header
	status    int
	body      bytes.Buffer
	max       int64
	truncated bool
}

// NewBuffer returns an empty Buffer keeping at most max body bytes.
func NewBuffer(max int64) *Buffer { return &Buffer{header: http.Header{}, max: max} }

func (b *Buffer) Header() http.Header { return b.header }

func (b *Buffer) WriteHeader(code int) {
	if b.status == 0 && code >= 200 {
		b.status = code
	}
}

func (b *Buffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	keep := p
	if b.max >= 0 {
		if room := b.max - int64(b.body.Len()); int64(len(keep)) > room {
			keep, b.truncated = keep[:max(room, 0)], true
		}
	}
	b.body.Write(keep)
	return len(p), nil
}

// Flush is accepted and ignored: the buffer is read when the handler is
// done.
func (b *Buffer) Flush() {}

// Status is the status written, 200 when nothing was (as net/http sends).
func (b *Buffer) Status() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

// Response is what the buffer holds. err is the handler's failure: when
// it wrote nothing, the status is 500, what net/http would have sent.
func (b *Buffer) Response(took time.Duration, err error) *Response {
	status := b.Status()
	if b.status == 0 && err != nil {
		status = http.StatusInternalServerError
	}
	return &Response{Status: status, Header: CleanHeader(b.header), Body: b.body.Bytes(),
		Truncated: b.truncated, Duration: took, Err: err}
}

// CopyTo sends the buffered answer to w.
func (b *Buffer) CopyTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	w.WriteHeader(b.Status())
	w.Write(b.body.Bytes())
}

// Tee passes an answer through to the client's ResponseWriter untouched
// and keeps a bounded copy of it, for comparison. It never fails a write
// the client's connection accepted.
type Tee struct {
	http.ResponseWriter
	buf    *Buffer
	header http.Header // snapshot when the status was written
}

// NewTee wraps w, keeping at most limit body bytes.
func NewTee(w http.ResponseWriter, limit int64) *Tee {
	return &Tee{ResponseWriter: w, buf: NewBuffer(limit)}
}

func (t *Tee) WriteHeader(code int) {
	if code >= 200 && t.header == nil {
		t.header = CleanHeader(t.ResponseWriter.Header())
		t.buf.WriteHeader(code)
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *Tee) Write(p []byte) (int, error) {
	if t.header == nil {
		t.WriteHeader(http.StatusOK)
	}
	n, err := t.ResponseWriter.Write(p)
	t.buf.Write(p[:n])
	return n, err
}

// Unwrap lets http.ResponseController reach the client's connection
// (Flush, deadlines), as the forwarder expects.
func (t *Tee) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Response is the answer as the client got it, once the handler is done;
// took is how long it took.
func (t *Tee) Response(took time.Duration) *Response {
	h := t.header
	if h == nil {
		h = CleanHeader(t.ResponseWriter.Header())
	}
	return &Response{Status: t.buf.Status(), Header: h, Body: t.buf.body.Bytes(),
		Truncated: t.buf.truncated, Duration: took}
}

package shadow

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"weaveproxy/diff"
	"weaveproxy/proxy"
)

// readBody reads r's body if it has at most limit bytes and gives r a
// fresh reader over the same bytes, so legacy still gets all of it.
// Otherwise r.Body is rewired to deliver the part read and the rest, as
// the client sends it, and complete is false: such a request is forwarded
// but not compared.
func readBody(r *http.Request, limit int64) (body []byte, complete bool) {
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

// captured is a request as the client sent it, detached from the
// client's connection: the worker replays it after the client has gone.
type captured struct {
	method string
	target string // raw request target, as on the request line
	host   string
	remote string
	header http.Header
	body   []byte
	// proto is a template for replays: URL, headers and TLS state of the
	// client's request, with no body and no context of its own.
	proto *http.Request
}

func capture(r *http.Request, body []byte) *captured {
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	proto := r.Clone(context.Background())
	proto.Body, proto.GetBody = nil, nil
	return &captured{method: r.Method, target: target, host: r.Host, remote: r.RemoteAddr,
		header: r.Header.Clone(), body: body, proto: proto}
}

// request builds a fresh request for one replay (native, dry run, or a
// second legacy read): every handler gets its own body reader and header
// map, since handlers may consume or change them.
func (c *captured) request(ctx context.Context) *http.Request {
	r := c.proto.Clone(ctx)
	r.ContentLength = int64(len(c.body))
	r.Body = http.NoBody
	if len(c.body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(c.body))
	}
	return r
}

func (c *captured) size() int64 {
	n := int64(len(c.body) + len(c.target))
	for k, vs := range c.header {
		for _, v := range vs {
			n += int64(len(k) + len(v))
		}
	}
	return n
}

func (c *captured) exchange() diff.Exchange {
	return diff.Exchange{Method: c.method, Path: c.target, Header: c.header, Body: c.body}
}

// answer is one side's response, kept in memory.
type answer struct {
	status    int
	header    http.Header
	body      []byte
	truncated bool // only the start of the body was kept
	err       error
	took      time.Duration
}

// answerOf keeps what the proxy captured of an answer (legacy's, through
// a proxy.TeeWriter).
func answerOf(c *proxy.CapturedResponse) *answer {
	return &answer{status: c.Status, header: c.Header, body: c.Body,
		truncated: c.Truncated, err: c.Err, took: c.Duration}
}

func (a *answer) diff() diff.Answer {
	return diff.Answer{Status: a.status, Header: a.header, Body: a.body}
}

func (a *answer) size() int64 {
	n := int64(len(a.body))
	for k, vs := range a.header {
		for _, v := range vs {
			n += int64(len(k) + len(v))
		}
	}
	return n
}

// buffer is an in-memory ResponseWriter keeping at most max body bytes.
type buffer struct {
	header    http.Header
	status    int
	body      bytes.Buffer
	max       int64
	truncated bool
}

func newBuffer(max int64) *buffer { return &buffer{header: http.Header{}, max: max} }

func (b *buffer) Header() http.Header { return b.header }

func (b *buffer) WriteHeader(code int) {
	if b.status == 0 && code >= 200 {
		b.status = code
	}
}

func (b *buffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	keep := p
	if room := b.max - int64(b.body.Len()); int64(len(keep)) > room {
		keep, b.truncated = keep[:max(room, 0)], true
	}
	b.body.Write(keep)
	return len(p), nil
}

// Flush is accepted and ignored: the buffer is read when the handler is
// done.
func (b *buffer) Flush() {}

func (b *buffer) answer(took time.Duration, err error) *answer {
	status := b.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http would send 200
		if err != nil {
			status = http.StatusInternalServerError
		}
	}
	return &answer{status: status, header: proxy.CleanHeader(b.header), body: b.body.Bytes(),
		truncated: b.truncated, err: err, took: took}
}

// run serves r with h into memory. A panic is recorded, not propagated:
// the client has (or will get) legacy's answer whatever native does.
func run(h http.Handler, r *http.Request, limit int64) *answer {
	buf := newBuffer(limit)
	start := time.Now()
	err := serveRecovered(h, buf, r)
	if err == nil && r.Context().Err() != nil {
		err = fmt.Errorf("shadow: %w", context.Cause(r.Context()))
	}
	return buf.answer(time.Since(start), err)
}

func serveRecovered(h http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("shadow: native handler panicked: %v", v)
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}

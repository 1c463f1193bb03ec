package forward

import (
	"io"
	"net/http"
	"sync"
)

// completingBody wraps legacy's response body and calls fn once the body
// is complete: at EOF, at a read error, on Close before the end, and, when
// the length is known, as soon as the last byte has been read, before
// ReverseProxy writes it. A client can therefore never hold the whole
// answer before fn has run.
type completingBody struct {
	io.ReadCloser
	remaining int64 // bytes still expected; <0 when the length is unknown
	once      sync.Once
	fn        func(error)
}

func (b *completingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.remaining >= 0 {
		b.remaining -= int64(n)
		if b.remaining <= 0 && err == nil {
			b.end(nil)
		}
	}
	switch {
	case err == io.EOF:
		b.end(nil)
	case err != nil:
		b.end(err)
	}
	return n, err
}

func (b *completingBody) Close() error {
	b.end(errIncomplete)
	return b.ReadCloser.Close()
}

func (b *completingBody) end(err error) { b.once.Do(func() { b.fn(err) }) }

// headerGuard stops net/http from adding headers legacy did not send: with
// no Content-Type it would sniff one from the body, with no Date it would
// add one. A key present with a nil value suppresses both.
type headerGuard struct {
	http.ResponseWriter
	wrote bool
}

func (g *headerGuard) WriteHeader(code int) {
	if code >= 200 && !g.wrote {
		g.wrote = true
		h := g.ResponseWriter.Header()
		for _, k := range []string{"Content-Type", "Date"} {
			if _, ok := h[k]; !ok {
				h[k] = nil
			}
		}
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *headerGuard) Write(p []byte) (int, error) {
	if !g.wrote {
		g.WriteHeader(http.StatusOK)
	}
	return g.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush on the real writer.
func (g *headerGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }

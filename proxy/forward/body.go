package forward

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
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
//
// It also gathers the body into larger writes. PHP behind nginx answers
// in pieces of 4 KB, without Content-Length, and for such a body
// ReverseProxy flushes after every read: a 37 KB answer left the proxy in
// a dozen writes, each a system call, a TCP segment and a wake-up of the
// client. Here the body collects in a buffer that goes out when full, when
// the handler ends, or flushDelay after the first byte nobody has sent yet,
// so an answer that legacy streams slowly still streams.
//
// The status reaches the real writer only with the first bytes that go
// out (net/http sends nothing before them either): an answer that legacy
// ended cleanly while all of it was still in the buffer leaves with a
// Content-Length instead of chunked, one system call (and one client
// read) less per forwarded GET of a few KB to 64 KB, the usual Sync read.
// An answer with trailers, a length of its own, or a body that failed
// keeps what it had.
//
// The timer may write (and so commit the header) on its own goroutine
// only while ReverseProxy is copying the body, when it touches neither the
// header nor the writer: quiesce, called as legacy's body ends, stops it
// before ReverseProxy looks at the header again (trailers).
type headerGuard struct {
	http.ResponseWriter
	wrote bool
	code  int // status not yet passed on to the real writer; 0: none

	mu      sync.Mutex
	buf     *[]byte // pooled; nil until the first body byte
	timer   *time.Timer
	pending bool // the timer is armed for bytes not sent yet
	quiet   bool // legacy's body has ended: no more timed writes
	whole   bool // legacy's body ended cleanly: the buffer may be all of it
	closed  bool // finish ran: the handler is returning
}

// flushDelay bounds how long a body byte may wait in the buffer while
// legacy is still sending.
const flushDelay = 50 * time.Millisecond

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// copyBuffers lends ReverseProxy its 32 KB copy buffers (httputil.BufferPool).
type copyBuffers struct{}

var copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte { return *copyPool.Get().(*[]byte) }

func (copyBuffers) Put(b []byte) {
	if cap(b) == 32<<10 {
		b = b[:cap(b)]
		copyPool.Put(&b)
	}
}

func (g *headerGuard) WriteHeader(code int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writeHeader(code)
}

func (g *headerGuard) writeHeader(code int) {
	if code >= 200 && !g.wrote {
		g.wrote = true
		h := g.ResponseWriter.Header()
		for _, k := range []string{"Content-Type", "Date"} {
			if _, ok := h[k]; !ok {
				h[k] = nil
			}
		}
		// ReverseProxy puts announced trailers' values in the header
		// after the body: the header must be committed before that.
		if _, trailers := h["Trailer"]; !trailers {
			g.code = code
			return
		}
	}
	g.commit()
	g.ResponseWriter.WriteHeader(code)
}

// commit passes the pending status on to the real writer.
func (g *headerGuard) commit() {
	if g.code != 0 {
		code := g.code
		g.code = 0
		g.ResponseWriter.WriteHeader(code)
	}
}

func (g *headerGuard) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.wrote {
		g.writeHeader(http.StatusOK)
	}
	if g.closed {
		g.commit()
		return g.ResponseWriter.Write(p)
	}
	if g.buf == nil {
		g.buf = bufPool.Get().(*[]byte)
	}
	if len(*g.buf)+len(p) > cap(*g.buf) {
		if err := g.drain(); err != nil {
			return 0, err
		}
		if len(p) >= cap(*g.buf) {
			g.commit()
			return g.ResponseWriter.Write(p)
		}
	}
	*g.buf = append(*g.buf, p...)
	if !g.pending && !g.quiet {
		g.pending = true
		if g.timer == nil {
			g.timer = time.AfterFunc(flushDelay, g.timedFlush)
		} else {
			g.timer.Reset(flushDelay)
		}
	}
	return len(p), nil
}

// drain writes out the buffer, the pending status first; the caller
// holds mu.
func (g *headerGuard) drain() error {
	g.commit()
	if g.buf == nil || len(*g.buf) == 0 {
		return nil
	}
	_, err := g.ResponseWriter.Write(*g.buf)
	*g.buf = (*g.buf)[:0]
	return err
}

// Flush is what ReverseProxy calls after each write: the timer or the
// end of the handler sends the bytes instead.
func (g *headerGuard) Flush() {}

func (g *headerGuard) timedFlush() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.pending || g.quiet || g.closed {
		return
	}
	g.pending = false
	if g.drain() == nil {
		http.NewResponseController(g.ResponseWriter).Flush()
	}
}

// quiesce stops timed writes: legacy's body has ended (or failed), and
// ReverseProxy is about to touch the header on the handler's goroutine.
func (g *headerGuard) quiesce() { g.bodyEnded(false) }

// bodyEnded is quiesce when legacy's body has ended; whole says it ended
// cleanly, so that a buffer holding all of it may be sent with its length.
func (g *headerGuard) bodyEnded(whole bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.quiet = true
	g.whole = g.whole || whole
	if g.timer != nil {
		g.timer.Stop()
	}
}

// finish sends what is buffered, on the handler's goroutine. It must run
// before the handler returns: writing to a ResponseWriter after that is not
// allowed.
func (g *headerGuard) finish() {
	g.quiesce()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.closed = true
	if g.code != 0 && g.whole && g.buf != nil && len(*g.buf) > 0 {
		g.setLength(len(*g.buf))
	}
	g.drain()
	if g.buf != nil {
		*g.buf = (*g.buf)[:0]
		bufPool.Put(g.buf)
		g.buf = nil
	}
}

// setLength gives an answer that is wholly in the buffer its length,
// unless it has one, or has trailers (set after the body, so net/http
// would send them in a chunked answer).
func (g *headerGuard) setLength(n int) {
	h := g.ResponseWriter.Header()
	if _, ok := h["Content-Length"]; ok {
		return
	}
	for k := range h {
		if k == "Trailer" || strings.HasPrefix(k, http.TrailerPrefix) {
			return
		}
	}
	h["Content-Length"] = []string{strconv.Itoa(n)}
}

// Unwrap lets http.ResponseController reach the real writer (full duplex).
func (g *headerGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }

package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	"weaveproxy/proxy/metrics"
	"weaveproxy/proxy/routes"
)

// serveNative answers r natively. A GET on a route with fallback is
// buffered so that a 5xx (or a panic) can still be replaced by legacy's
// answer; everything else streams. It reports whether native answered.
func (p *Proxy) serveNative(w http.ResponseWriter, r *http.Request, m routes.Match, legacy http.Handler) bool {
	if !m.Route.Fallback || r.Method != http.MethodGet {
		p.cfg.Native.ServeHTTP(w, r)
		return true
	}
	// Legacy must get the same request if native fails, body included
	// (a GET body is unusual, and kept only when small).
	body, complete := readBody(r, maxFallbackBody)
	if !complete {
		p.cfg.Native.ServeHTTP(w, r)
		return true
	}
	buf := newBufferWriter(-1)
	start := time.Now()
	if err := serveRecovered(p.cfg.Native, buf, replay(r, body)); err != nil {
		p.log.Error("native handler panicked", "route", m.Route.Match, "err", err)
		buf.status = http.StatusInternalServerError
	}
	if buf.code() >= 500 {
		p.metrics.Fallbacks.WithLabelValues(metrics.Route(m.Route.Match)).Inc()
		p.log.Warn("native failed, answering from legacy", "route", m.Route.Match,
			"status", buf.code(), "native_duration", time.Since(start))
		legacy.ServeHTTP(w, replay(r, body))
		return false
	}
	buf.copyTo(w)
	return true
}

// serveRecovered runs h, turning a panic into an error; http.ErrAbortHandler
// keeps its meaning (abort the client's connection) and is re-raised.
func serveRecovered(h http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}

// bufferWriter is an in-memory ResponseWriter: the fallback decision and
// the shadow comparison need the whole native answer before acting.
type bufferWriter struct {
	header    http.Header
	status    int
	body      bytes.Buffer
	max       int64 // body bytes kept; <0 unlimited
	truncated bool
}

func newBufferWriter(max int64) *bufferWriter {
	return &bufferWriter{header: http.Header{}, max: max}
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 && code >= 200 {
		b.status = code
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	keep := p
	if b.max >= 0 {
		room := b.max - int64(b.body.Len())
		if int64(len(keep)) > room {
			keep, b.truncated = keep[:max(room, 0)], true
		}
	}
	b.body.Write(keep)
	return len(p), nil
}

// Flush is accepted and ignored: everything is sent at the end.
func (b *bufferWriter) Flush() {}

func (b *bufferWriter) code() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

func (b *bufferWriter) copyTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	w.WriteHeader(b.code())
	w.Write(b.body.Bytes())
}

// maxFallbackBody bounds the request body kept to retry a read on legacy.
const maxFallbackBody = 64 << 10

// readBody reads r's whole body if it has at most limit bytes. Otherwise
// r.Body is rewired to still deliver everything and complete is false.
func readBody(r *http.Request, limit int64) (body []byte, complete bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err == nil && int64(len(b)) <= limit {
		return b, true
	}
	orig := r.Body
	var rest io.Reader = orig
	if err != nil {
		rest = errReader{err}
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), rest), orig}
	return b, false
}

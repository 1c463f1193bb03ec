package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"gopkg.in/yaml.v3"

	"weaveproxy/proxy/routes"
)

// Shadower serves the requests of routes in shadow mode. The shadow/diff
// package implements it; CaptureShadower is the minimal implementation.
//
// Contract:
//   - The client must get legacy's answer: ServeShadow calls call.Legacy
//     exactly once, synchronously, with w (or a writer passing everything
//     through to w) and r, or a copy of r with the same method, URL,
//     headers and body. call.Legacy handles the breaker, the byte-exact
//     forwarding and the cache invalidation after writes; the proxy reads
//     its outcome for metrics once ServeShadow returns.
//   - To compare, ServeShadow needs the request body twice, so it buffers
//     it (bounded: a body over the limit is streamed to legacy and not
//     compared).
//   - call.Native applies writes for real against the shared database:
//     run it for reads only (GET). For writes use call.NativeDryRun (nil
//     when not configured), and only when call.Route.ShadowWrites.
//   - Whatever runs after the client's answer must not hold on to w or r.
type Shadower interface {
	ServeShadow(w http.ResponseWriter, r *http.Request, call ShadowCall)
}

// ShadowCall is what a Shadower gets for one request.
type ShadowCall struct {
	// Route is the matched route: Route.Match names it, ShadowWrites and
	// Diff (the route's free-form diff: block) configure the comparison.
	Route *routes.Route
	// User is the lower-cased {user} of the path, "" when none.
	User string
	// Legacy forwards to the legacy server; its answer is the client's.
	Legacy http.Handler
	// Native is the native server; it applies writes.
	Native http.Handler
	// NativeDryRun runs a request natively as a dry run (a snapshot of
	// the database plus the request's writes in memory, nothing kept);
	// nil when the proxy has none.
	NativeDryRun http.Handler
}

// CapturedRequest is a request as the client sent it.
type CapturedRequest struct {
	Method        string
	URL           *url.URL // Path, RawPath (escaping as sent) and RawQuery
	Host          string
	Header        http.Header
	Body          []byte
	BodyTruncated bool // the body exceeded the capture limit; Body is its start
	RemoteAddr    string
	User          string // lower-cased {user} path variable
}

// CapturedResponse is one side's answer.
type CapturedResponse struct {
	Status    int
	Header    http.Header
	Body      []byte
	Truncated bool // Body is only the start of the answer
	Duration  time.Duration
	Err       error // the handler panicked, or the answer failed mid-way
}

// Pair is one request with the answers of both sides, for comparison.
type Pair struct {
	Route   string // the route's "METHOD /template"
	Request *CapturedRequest
	Legacy  *CapturedResponse // what the client got
	// Native is nil when native did not run: a write without dry run or
	// with shadow_writes: false, or a request body over the limit.
	Native *CapturedResponse
	// DryRun is true when Native answered a write as a dry run
	// (NativeDryRun), on the state before legacy applied it.
	DryRun bool
	Diff   *yaml.Node // the route's diff: block, nil when absent
	At     time.Time  // when the request arrived
}

// DefaultMaxCapture bounds the bodies a CaptureShadower keeps (the Weave
// batch limit is 1 MiB).
const DefaultMaxCapture = 4 << 20

// CaptureShadower serves legacy's answer to the client and hands the pair
// to OnPair; it compares nothing itself. Reads run natively after legacy
// answered, writes in a dry run (if configured) before legacy applies
// them, so both sides see the same prior state. Native runs synchronously:
// the client's connection is held until native is done (the answer is
// already sent when the length is known).
type CaptureShadower struct {
	OnPair     func(Pair) // nil: pairs are dropped
	MaxCapture int64      // body bytes kept per request/answer; 0: DefaultMaxCapture
}

// ServeShadow implements Shadower.
func (s *CaptureShadower) ServeShadow(w http.ResponseWriter, r *http.Request, call ShadowCall) {
	limit := s.MaxCapture
	if limit <= 0 {
		limit = DefaultMaxCapture
	}
	pair := Pair{Route: call.Route.Match, Diff: call.Route.Diff, At: time.Now()}
	req, body, complete := captureRequest(r, call.User, limit)
	pair.Request = req

	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	native := call.Native
	if write {
		native = nil
		if call.Route.ShadowWrites {
			native = call.NativeDryRun
		}
	}
	if !complete {
		native = nil
	}
	runNative := func() {
		pair.Native = record(native, replay(r, body), limit)
		pair.DryRun = write
	}
	if native != nil && write {
		runNative()
	}
	tee := NewTeeWriter(w, limit)
	start := time.Now()
	call.Legacy.ServeHTTP(tee, r)
	pair.Legacy = tee.Captured(time.Since(start))
	if native != nil && !write {
		runNative()
	}
	if s.OnPair != nil {
		s.OnPair(pair)
	}
}

// captureRequest reads up to limit bytes of r's body and rewires r.Body
// so legacy still gets all of it, as the client sends it.
func captureRequest(r *http.Request, user string, limit int64) (*CapturedRequest, []byte, bool) {
	u := *r.URL
	c := &CapturedRequest{Method: r.Method, URL: &u, Host: r.Host, Header: r.Header.Clone(),
		RemoteAddr: r.RemoteAddr, User: user}
	body, complete := readBody(r, limit)
	if complete {
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		c.Body = body
		return c, body, true
	}
	c.Body, c.BodyTruncated = body[:min(int64(len(body)), limit)], true
	return c, nil, false
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// replay is a copy of r with the captured body, for the native side.
func replay(r *http.Request, body []byte) *http.Request {
	n := r.Clone(r.Context())
	n.Body = io.NopCloser(bytes.NewReader(body))
	n.ContentLength = int64(len(body))
	if len(body) == 0 {
		n.Body = http.NoBody
	}
	return n
}

// record runs h into memory; a panic is recorded, not propagated: the
// client already has (or will get) legacy's answer.
func record(h http.Handler, r *http.Request, limit int64) *CapturedResponse {
	buf := newBufferWriter(limit)
	start := time.Now()
	err := serveRecovered(h, buf, r)
	if err != nil && buf.status == 0 {
		buf.status = http.StatusInternalServerError // what net/http would have sent
	}
	return &CapturedResponse{Status: buf.code(), Header: buf.header, Body: buf.body.Bytes(),
		Truncated: buf.truncated, Duration: time.Since(start), Err: err}
}

// TeeWriter passes an answer through to the client's ResponseWriter
// untouched and keeps a bounded copy of it, for comparison. It never fails
// a write the client's connection accepted. Shadowers wrap the writer they
// give call.Legacy in one.
type TeeWriter struct {
	http.ResponseWriter
	buf    *bufferWriter
	header http.Header // snapshot when the status was written
}

// NewTeeWriter wraps w, keeping at most limit body bytes.
func NewTeeWriter(w http.ResponseWriter, limit int64) *TeeWriter {
	return &TeeWriter{ResponseWriter: w, buf: newBufferWriter(limit)}
}

func (t *TeeWriter) WriteHeader(code int) {
	if code >= 200 && t.header == nil {
		t.header = CleanHeader(t.ResponseWriter.Header())
		t.buf.WriteHeader(code)
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *TeeWriter) Write(p []byte) (int, error) {
	if t.header == nil {
		t.WriteHeader(http.StatusOK)
	}
	n, err := t.ResponseWriter.Write(p)
	t.buf.Write(p[:n])
	return n, err
}

// Unwrap lets http.ResponseController reach the client's connection
// (Flush, deadlines), as the forwarder expects.
func (t *TeeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Captured is the answer as the client got it, once the handler is done;
// took is how long it took.
func (t *TeeWriter) Captured(took time.Duration) *CapturedResponse {
	h := t.header
	if h == nil {
		h = CleanHeader(t.ResponseWriter.Header())
	}
	return &CapturedResponse{Status: t.buf.code(), Header: h, Body: t.buf.body.Bytes(),
		Truncated: t.buf.truncated, Duration: took}
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

func (p Pair) String() string {
	ns := "not run"
	if p.Native != nil {
		ns = fmt.Sprint(p.Native.Status)
	}
	return fmt.Sprintf("%s %s: legacy %d, native %s", p.Route, p.Request.URL.RequestURI(), p.Legacy.Status, ns)
}

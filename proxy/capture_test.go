package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weaveproxy/weaveproxy/internal/capture"
)

// The Shadower of the proxy's own tests: it records pairs for the test to
// inspect; the shadow package is the real one.

// CapturedRequest is a request as the client sent it.
type CapturedRequest struct {
	Method        string
	URL           *url.URL // Path, RawPath (escaping as sent) and RawQuery
	Host          string
	Header        http.Header
	Body          []byte
	BodyTruncated bool // the body exceeded the capture limit and was not kept
	RemoteAddr    string
	User          string // the path user's key (weaveurl.UserKey)
}

// Pair is one request with the answers of both sides, for comparison.
type Pair struct {
	Route   string // the route's "METHOD /template"
	Request *CapturedRequest
	Legacy  *capture.Response // what the client got
	// Native is nil when native did not run: a write without dry run or
	// with shadow_writes: false, or a request body over the limit.
	Native *capture.Response
	// DryRun is true when Native answered a write as a dry run
	// (NativeDryRun), on the state before legacy applied it.
	DryRun bool
	Diff   *yaml.Node // the route's diff: block, nil when absent
	At     time.Time  // when the request arrived
}

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
		pair.Native = capture.Record(native, capture.Replay(r, body), limit)
		pair.DryRun = write
	}
	if native != nil && write {
		runNative()
	}
	tee := capture.NewTee(w, limit)
	start := time.Now()
	call.Legacy.ServeHTTP(tee, r)
	pair.Legacy = tee.Response(time.Since(start))
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
	body, complete := capture.ReadBody(r, limit)
	c.Body, c.BodyTruncated = body, !complete
	return c, body, complete
}

func (p Pair) String() string {
	ns := "not run"
	if p.Native != nil {
		ns = fmt.Sprint(p.Native.Status)
	}
	return fmt.Sprintf("%s %s: legacy %d, native %s", p.Route, p.Request.URL.RequestURI(), p.Legacy.Status, ns)
}

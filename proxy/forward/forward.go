// Package forward sends requests to the legacy upstream through
// net/http/httputil.ReverseProxy and one circuit breaker, changing nothing a
// Sync client reads: method, raw path, query, headers, status and body go
// through as they are, streamed both ways. The only additions are an
// appended X-Forwarded-For upstream and, when legacy cannot be reached, the
// proxy's own 503 with Retry-After and X-Weave-Backoff.
package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// ErrUnavailable is the Result.Err of a request the open (or probing)
// breaker refused without contacting legacy.
var ErrUnavailable = errors.New("forward: legacy unavailable (circuit breaker open)")

// ErrBusy is the Result.Err of a request that found every one of the
// upstream's max_connections busy for queue_timeout.
var ErrBusy = errors.New("forward: legacy busy (no free connection within queue_timeout)")

// UnavailableBody is the JSON string the proxy answers when legacy is down,
// in the style of the Python server's "server issue: ..." 503 bodies.
const UnavailableBody = `"server issue: legacy unavailable"`

// Result describes how one forwarded request ended.
type Result struct {
	Status    int   // status sent to the client
	Synthetic bool  // the proxy answered (breaker open, upstream failed), not legacy
	Err       error // transport or body error; ErrUnavailable when refused
	// Reached is false when the request certainly did not reach legacy
	// (breaker refusal, connection refused), so a write did not happen.
	Reached bool
}

// Options are the parts of an Upstream that are not in routes.yaml.
type Options struct {
	Logger *slog.Logger
	// OnStateChange is called when the breaker changes state, with the
	// gobreaker state names ("closed", "half-open", "open"). It runs under
	// the breaker's lock: keep it short.
	OnStateChange func(from, to string)
}

// Upstream forwards to one legacy server. It is safe for concurrent use.
type Upstream struct {
	cfg       routes.Upstream
	target    *url.URL
	transport *http.Transport
	rp        *httputil.ReverseProxy
	breaker   *gobreaker.TwoStepCircuitBreaker[struct{}]
	log       *slog.Logger
	backoff   string
	// slots holds one token per connection legacy may have (nil: no cap).
	slots chan struct{}
	// opened is done when the breaker opens; it is replaced by a fresh
	// one at each opening. Requests waiting on legacy then are released.
	openMu sync.Mutex
	opened context.Context
	open   context.CancelFunc
}

// New builds the transport, reverse proxy and breaker for cfg.
func New(cfg routes.Upstream, opt Options) *Upstream {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &Upstream{cfg: cfg, target: cfg.Target(), log: log,
		backoff: strconv.Itoa(cfg.Breaker.BackoffSeconds())}
	if cfg.MaxConnections > 0 {
		u.slots = make(chan struct{}, cfg.MaxConnections)
	}
	u.opened, u.open = context.WithCancel(context.Background())
	u.transport = &http.Transport{
		// Legacy is a known address: never route it through an
		// environment HTTP proxy.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   cfg.DialTimeout,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		IdleConnTimeout:       cfg.IdleConnTimeout,
		MaxConnsPerHost:       cfg.MaxConnections,
		MaxIdleConnsPerHost:   cfg.MaxIdleConnections,
		ExpectContinueTimeout: time.Second,
		// Without this the transport would ask for gzip on the client's
		// behalf and decompress, changing headers and framing.
		DisableCompression: true,
		ReadBufferSize:     transportBuffer,
		WriteBufferSize:    transportBuffer,
	}
	u.rp = &httputil.ReverseProxy{
		Rewrite:        u.rewrite,
		Transport:      u.transport,
		ModifyResponse: u.modifyResponse,
		ErrorHandler:   u.errorHandler,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		// Without a pool ReverseProxy allocates a fresh 32 KB copy
		// buffer per answer: two thirds of all the proxy allocated.
		BufferPool: copyBuffers{},
	}
	b := cfg.Breaker
	u.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        cfg.URL,
		MaxRequests: b.HalfOpenRequests,
		Interval:    b.Interval,
		Timeout:     b.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= b.Failures },
		IsExcluded:  func(err error) bool { return errors.Is(err, errClientGone) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			// Opening is news for Ops; closing is the system healing.
			lvl := slog.LevelWarn
			if to == gobreaker.StateClosed {
				lvl = slog.LevelInfo
			}
			log.Log(context.Background(), lvl, "legacy circuit breaker", "upstream", cfg.URL, "from", from.String(), "to", to.String())
			if to == gobreaker.StateOpen {
				u.releaseWaiting()
			}
			if opt.OnStateChange != nil {
				opt.OnStateChange(from.String(), to.String())
			}
		},
	})
	return u
}

// Config is the configuration the upstream was built from.
func (u *Upstream) Config() routes.Upstream { return u.cfg }

// State is the breaker's state: "closed", "half-open" or "open".
func (u *Upstream) State() string { return u.breaker.State().String() }

// Close drops idle connections; requests in flight are not affected.
func (u *Upstream) Close() { u.transport.CloseIdleConnections() }

// ServeHTTP forwards r to legacy.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.Forward(w, r, nil) }

// Forward forwards r to legacy and calls done (if not nil) once the
// outcome is known. For an answer from legacy, done runs when its body has
// been read to the end (or failed), before the client can have received
// all of it: a caller that must act after a legacy write and before the
// client sees the answer (cache invalidation) does so in done. A wrapper
// around w must offer Unwrap (see http.ResponseController): Forward
// switches the HTTP/1 connection to full duplex through it.
func (u *Upstream) Forward(w http.ResponseWriter, r *http.Request, done func(Result)) {
	st := &reqState{done: done}
	breakerDone, err := u.breaker.Allow()
	if err != nil {
		u.unavailable(w)
		st.finish(Result{Status: http.StatusServiceUnavailable, Synthetic: true, Err: ErrUnavailable})
		return
	}
	st.breakerDone = breakerDone
	// Whatever happens (a panic aborting the copy included), the breaker
	// hears about this request exactly once.
	defer st.report(errClientGone)
	opened := u.currentOpen()
	release, err := u.acquire(r.Context(), opened)
	if err != nil {
		st.report(errClientGone) // not legacy's failure: it was never asked
		if r.Context().Err() != nil {
			w.WriteHeader(499)
			st.finish(Result{Status: 499, Synthetic: true, Err: err})
			return
		}
		u.unavailable(w)
		st.finish(Result{Status: http.StatusServiceUnavailable, Synthetic: true, Err: err})
		return
	}
	defer release()
	// When the breaker opens while legacy still owes this request its
	// answer's headers, the request is released at once with the same
	// 503 and back-off as the ones the open breaker refuses, instead of
	// waiting out the response timeout.
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	stop := context.AfterFunc(opened, func() {
		if !st.answered.Load() {
			cancel(ErrUnavailable)
		}
	})
	defer stop()
	// The transport still reads r.Body after sending it (a last read to
	// check nothing follows Content-Length) while the answer already
	// streams back. By default net/http's HTTP/1 server drains and closes
	// the request body at the first response write; that late read then
	// fails, and the transport closes the legacy connection under the
	// answer being copied: php -S ends its answers by closing the socket,
	// so the copy is still waiting there and the client gets a cut body.
	// Full duplex leaves the body to us until the handler returns. HTTP/2
	// is always full duplex; there the call fails harmlessly.
	_ = http.NewResponseController(w).EnableFullDuplex()
	st.guard = &headerGuard{ResponseWriter: w}
	defer st.guard.finish()
	u.rp.ServeHTTP(st.guard, r.WithContext(context.WithValue(ctx, stateKey{}, st)))
}

var (
	errClientGone = errors.New("forward: client went away")
	errStatus     = errors.New("forward: legacy answered with a gateway error")
	errIncomplete = errors.New("forward: response body not read to the end")
)

type stateKey struct{}

// reqState carries one request's hooks from Forward into the
// ReverseProxy callbacks, which only see the outbound request.
type reqState struct {
	done        func(Result)
	breakerDone func(error)
	guard       *headerGuard // the client's writer, buffered
	reported    sync.Once
	finished    sync.Once
	answered    atomic.Bool // legacy's answer headers arrived
}

func (s *reqState) report(err error) {
	if s.breakerDone != nil {
		s.reported.Do(func() { s.breakerDone(err) })
	}
}

func (s *reqState) finish(r Result) {
	if s.done != nil {
		s.finished.Do(func() { s.done(r) })
	}
}

func stateOf(r *http.Request) *reqState {
	if s, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return s
	}
	return &reqState{} // a request that did not come through Forward
}

// rewrite routes the request to legacy while keeping what the client sent:
// SetURL would also replace the Host and ReverseProxy drops the client's
// X-Forwarded-* headers and malformed query parameters; all of that is
// put back, and the client's address appended to X-Forwarded-For.
func (u *Upstream) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(u.target)
	if u.cfg.PreserveHost {
		pr.Out.Host = pr.In.Host
	}
	if u.target.RawQuery == "" {
		pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	}
	for _, h := range []string{"Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[h]; ok {
			pr.Out.Header[h] = v
		}
	}
	xff := pr.In.Header["X-Forwarded-For"]
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if len(xff) > 0 {
			ip = strings.Join(xff, ", ") + ", " + ip
		}
		pr.Out.Header.Set("X-Forwarded-For", ip)
	} else if len(xff) > 0 {
		pr.Out.Header["X-Forwarded-For"] = xff
	}
}

func (u *Upstream) modifyResponse(res *http.Response) error {
	st := stateOf(res.Request)
	st.answered.Store(true)
	switch res.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		st.report(errStatus)
	default:
		st.report(nil)
	}
	status := res.StatusCode
	res.Body = &completingBody{ReadCloser: res.Body, remaining: res.ContentLength,
		fn: func(err error) {
			if st.guard != nil {
				st.guard.bodyEnded(err == nil)
			}
			st.finish(Result{Status: status, Err: err, Reached: true})
		}}
	return nil
}

func (u *Upstream) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r)
	if errors.Is(context.Cause(r.Context()), ErrUnavailable) {
		// Released when the breaker opened. Legacy may still apply a
		// write it had received: Reached stays true (cache invalidation).
		st.report(errClientGone)
		u.unavailable(w)
		st.finish(Result{Status: http.StatusServiceUnavailable, Synthetic: true, Err: ErrUnavailable, Reached: !isDialError(err)})
		return
	}
	if r.Context().Err() != nil {
		// The client left (or the server is shutting down): not legacy's
		// fault, and nobody reads an answer. 499 as nginx logs it.
		st.report(errClientGone)
		w.WriteHeader(499)
		st.finish(Result{Status: 499, Synthetic: true, Err: err, Reached: !isDialError(err)})
		return
	}
	st.report(err)
	u.log.Warn("legacy request failed", "method", r.Method, "path", r.URL.EscapedPath(), "err", err)
	u.unavailable(w)
	st.finish(Result{Status: http.StatusServiceUnavailable, Synthetic: true, Err: err, Reached: !isDialError(err)})
}

// currentOpen is the context that ends at the breaker's next opening.
func (u *Upstream) currentOpen() context.Context {
	u.openMu.Lock()
	defer u.openMu.Unlock()
	return u.opened
}

// releaseWaiting ends the current opening's context (releasing every
// request waiting for a connection or for legacy's answer) and starts the
// next one.
func (u *Upstream) releaseWaiting() {
	u.openMu.Lock()
	defer u.openMu.Unlock()
	u.open()
	u.opened, u.open = context.WithCancel(context.Background())
}

// acquire takes one of the upstream's connection slots, waiting at most
// queue_timeout, and gives up early when the breaker opens or the client
// leaves. release gives the slot back.
func (u *Upstream) acquire(ctx, opened context.Context) (release func(), err error) {
	if u.slots == nil {
		return func() {}, nil
	}
	select {
	case u.slots <- struct{}{}:
		return func() { <-u.slots }, nil
	default:
	}
	wait := u.cfg.QueueTimeout
	if wait <= 0 {
		wait = 10 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case u.slots <- struct{}{}:
		return func() { <-u.slots }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-opened.Done():
		return nil, ErrUnavailable
	case <-ctx.Done():
		return nil, errClientGone
	}
}

// unavailable is the answer when legacy cannot be used: Sync clients stop
// for the back-off period instead of retrying into a dead server.
func (u *Upstream) unavailable(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", u.backoff)
	h.Set("X-Weave-Backoff", u.backoff)
	h.Set("Content-Length", strconv.Itoa(len(UnavailableBody)))
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, UnavailableBody)
}

// isDialError reports whether err happened while connecting, i.e. before
// any byte of the request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Ping checks that legacy answers a GET of the configured ready path with
// a status below 500. It bypasses the breaker: readiness reports the truth
// even while the breaker still holds clients back.
func (u *Upstream) Ping(ctx context.Context) error {
	ref, err := url.Parse(u.cfg.ReadyPath)
	if err != nil {
		return fmt.Errorf("forward: ready path: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.target.ResolveReference(ref).String(), nil)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	res, err := u.transport.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("forward: legacy: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode >= 500 {
		return fmt.Errorf("forward: legacy answered %s", res.Status)
	}
	return nil
}

// transportBuffer is the size of the read and write buffer of each
// connection to legacy. With Go's 4 KB, every chunk nginx sends (4-8 KB
// pieces of PHP's output) cost its own read system call even when the
// whole answer was already waiting in the socket: a forwarded history GET
// made 13.2 reads, now 5.3. 128 KB per connection kept.
const transportBuffer = 64 << 10

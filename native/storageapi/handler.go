// Package storageapi serves the Weave storage API 1.0/1.1 natively:
// /{version}/{user}/info/..., /{version}/{user}/storage/... on any
// store.Engine. Behaviour follows the Python reference for every version;
// the wire (number formats, escaping, a few shapes and routing errors)
// follows the version's weave.Dialect, so /1.0/ answers as the legacy PHP
// server did.
package storageapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// Config configures a Handler. Zero values take the documented defaults.
type Config struct {
	Engine store.Engine
	Auth   auth.Authenticator
	Events cef.Sink     // OverQuota events; nil drops them
	Logger *slog.Logger // nil discards
	// Quota turns the per-user quota on (PY's use_quota); QuotaKB is its
	// size in KB of payload bytes (PY's quota_size; 0 leaves no room).
	Quota   bool
	QuotaKB float64
	// BatchMaxCount and BatchMaxBytes bound one POST (defaults 100 items,
	// 1048576 payload bytes); the rest fails with "retry wbo"/"retry bytes".
	BatchMaxCount int
	BatchMaxBytes int
	// MaxBodyBytes caps a request body; a larger one is refused with 400
	// code 8 (an object too large to be a valid WBO batch). 0: 16 MiB;
	// negative: no cap.
	MaxBodyBytes int64
	// RetryAfter goes into Retry-After/X-Weave-Backoff of a 503; 0: 1800 s.
	RetryAfter time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// DefaultMaxBodyBytes is the body cap when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 16 << 20

// Handler is an http.Handler for the storage API. It holds no global
// state; two Handlers on two engines are independent.
type Handler struct {
	cfg    Config
	eng    store.Engine
	events cef.Sink
	log    *slog.Logger
	render weave.Renderer
	now    func() time.Time
	// issued remembers each user's last write timestamp, so that writes of
	// one user get strictly increasing timestamps. Shared by WithEngine
	// copies: a dry-run write only makes later timestamps a little larger.
	issued *issuedStamps
	// writers order each user's writes by timestamp (shared like issued).
	writers *writeLocks
}

// New builds a Handler. cfg.Engine and cfg.Auth are required.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, eng: cfg.Engine, events: cfg.Events, log: cfg.Logger, now: cfg.Now,
		issued: newIssuedStamps(issuedCapacity), writers: new(writeLocks)}
	if h.events == nil {
		h.events = cef.Discard{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.cfg.MaxBodyBytes == 0 {
		h.cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	h.render = weave.Renderer{RetryAfter: cfg.RetryAfter, Logger: h.log}
	return h
}

// WithEngine returns a shallow copy of h serving from e (a DryRun view,
// for shadow mode). Configuration and the per-user timestamp
// memory are shared.
func (h *Handler) WithEngine(e store.Engine) *Handler {
	c := *h
	c.eng = e
	return &c
}

// Route names, used to dispatch a classified path to an endpoint.
const (
	routeInfo       = "info"
	routeStorage    = "storage"
	routeCollection = "collection"
	routeItem       = "item"
)

// shapeRoutes maps weaveurl shapes to routes. Methods are checked by the
// endpoint tables, because a wrong method answers differently per version.
var shapeRoutes = map[string]string{
	"/{version}/{user}/info/collections":          routeInfo,
	"/{version}/{user}/info/collection_counts":    routeInfo,
	"/{version}/{user}/info/quota":                routeInfo,
	"/{version}/{user}/info/collection_usage":     routeInfo,
	"/{version}/{user}/info/{other}":              routeInfo,
	"/{version}/{user}/storage":                   routeStorage,
	"/{version}/{user}/storage/{collection}":      routeCollection,
	"/{version}/{user}/storage/{collection}/{id}": routeItem,
}

// request is one request in flight.
type request struct {
	w http.ResponseWriter
	r *http.Request
	d weave.Dialect
	// ts is the request's server time: X-Weave-Timestamp, the ttl clock,
	// and for a write the timestamp it stores (raised above the user's
	// previous writes).
	ts         store.Timestamp
	user       store.User
	pathUser   string
	collection string
	id         string
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The path is classified by weaveurl, the grammar the proxy's route
	// table uses too: one trailing slash is ignored (as both reference
	// servers did), an escaped '/' stays inside its segment, and a path
	// with empty or dot segments is no route.
	c := weaveurl.Classify(r.Method, r.URL.EscapedPath())
	rq := &request{w: w, r: r, d: weave.Legacy, ts: store.FromTime(h.now())}
	if d, ok := weave.DialectFor(c.VersionSegment); ok && c.Kind.StorageAPI() {
		rq.d = d // also for answers to paths that match no route
	}
	route, ok := shapeRoutes[c.Shape]
	if !ok || !c.Kind.StorageAPI() {
		h.fail(rq, errNoRoute)
		return
	}
	rq.pathUser = c.User
	ep, err := h.endpoint(rq, route, strings.TrimPrefix(c.Shape, "/{version}/{user}/info/"))
	if err != nil {
		h.fail(rq, err)
		return
	}
	rq.user, err = h.cfg.Auth.Authenticate(r, rq.pathUser)
	if err != nil {
		h.fail(rq, err)
		return
	}
	if a := headerSafe(rq.user.Alert); a != "" {
		w.Header().Set("X-Weave-Alert", a)
	}
	if err := rq.target(c); err != nil {
		h.fail(rq, err)
		return
	}
	if err := ep(h, rq); err != nil {
		h.fail(rq, err)
	}
}

// headerSafe keeps a users.alert text on one header line.
func headerSafe(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r", " ", "\n", " ").Replace(s))
}

// errNoRoute answers paths outside the API: 404 with code 11
// (unsupported function).
var errNoRoute = &weave.Error{Status: http.StatusNotFound, Code: weave.CodeUnsupported}

func (h *Handler) fail(rq *request, err error) {
	rq.w.Header().Set("X-Weave-Timestamp", rq.d.FormatTimestamp(rq.ts))
	h.render.Write(rq.w, rq.r, err)
}

// reply writes a successful answer with the headers every response carries.
func (rq *request) reply(contentType string, body []byte) error {
	hd := rq.w.Header()
	hd.Set("X-Weave-Timestamp", rq.d.FormatTimestamp(rq.ts))
	hd.Set("Content-Type", contentType)
	// Known length: net/http sends the body as it is instead of in
	// chunks (a 37 KB page of 100 items went out chunked).
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	rq.w.WriteHeader(http.StatusOK)
	_, _ = rq.w.Write(body)
	return nil
}

func (rq *request) replyJSON(body []byte) error { return rq.reply("application/json", body) }

// WithOwnStamps returns a shallow copy of h with a timestamp memory and
// per-user write order of its own. A dry run uses it: the writes it stamps
// are never kept, so they must not push the real writes' timestamps
// forward (the collection's newest item still bounds them from below),
// and since they commit nothing they need not wait for the user's other
// writes, real or dry, nor hold them up.
func (h *Handler) WithOwnStamps() *Handler {
	c := *h
	c.issued = newIssuedStamps(issuedCapacity)
	c.writers = new(writeLocks)
	return &c
}

// WithAuth returns a shallow copy of h authenticating with a (a dry-run
// view authenticates against the same transaction it writes to).
func (h *Handler) WithAuth(a auth.Authenticator) *Handler {
	c := *h
	c.cfg.Auth = a
	return &c
}

// WithEvents returns a shallow copy of h emitting its CEF events to ev
// (cef.Discard for a dry run, whose over-quota refusals are not real).
func (h *Handler) WithEvents(ev cef.Sink) *Handler {
	c := *h
	c.events = ev
	if c.events == nil {
		c.events = cef.Discard{}
	}
	return &c
}

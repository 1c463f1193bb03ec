// Package syncapi serves the Weave storage API 1.0 and 1.1 natively:
// /<version>/<user>/info/... and /<version>/<user>/storage/... over any
// store.Engine.
//
// Behaviour (what is stored, what is refused, which timestamps are issued)
// follows the Python reference server for every version. The wire follows
// the version's weave.Dialect: number formats, string escaping, empty
// maps, the POST answer and a few routing errors, so that /1.0/ answers the
// way the legacy PHP server did and /1.1/ the way the Python one did.
// docs/compat-storage.md lists every place where /1.0/ deliberately
// differs from the legacy server.
package syncapi

import (
	"log/slog"
	"net/http"
	"time"

	"weaveproxy/native/auth"
	"weaveproxy/native/cef"
	"weaveproxy/native/store"
	"weaveproxy/native/weave"
)

// DefaultMaxBodyBytes caps a request body when Config.MaxBodyBytes is zero:
// room for a full batch (1 MiB of payloads) even when JSON escaping of the
// payload strings doubles it, plus the ids and keys around 100 items.
const DefaultMaxBodyBytes = 4 << 20

// DefaultMaxUsers bounds the per-user write state a Handler keeps.
const DefaultMaxUsers = 100_000

// Config configures a Handler. Engine and Auth are required; every other
// field has a working default.
type Config struct {
	Engine store.Engine
	Auth   auth.Authenticator
	// Events receives OverQuota events; authentication events are the
	// Authenticator's business. Nil drops them.
	Events cef.Sink
	Logger *slog.Logger // nil discards

	// QuotaKB is each user's quota in KB of payload bytes; 0 disables it.
	QuotaKB int
	// BatchMaxCount and BatchMaxBytes bound one POST (items beyond them
	// fail with "retry wbo" / "retry bytes"); ≤ 0: 100 and 1 MiB.
	BatchMaxCount int
	BatchMaxBytes int
	// MaxBodyBytes caps a request body; a larger one is refused with 400
	// code 8 before anything is written. ≤ 0: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RetryAfter goes into Retry-After and X-Weave-Backoff of a 503;
	// ≤ 0: weave.DefaultRetryAfter.
	RetryAfter time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// MaxUsers bounds the users whose last write timestamp is remembered
	// (see writers); ≤ 0: DefaultMaxUsers.
	MaxUsers int
}

// Handler is the storage API as an http.Handler for /1.0/, /1/ and /1.1/
// paths. It is safe for concurrent use.
type Handler struct {
	cfg     Config
	rd      weave.Renderer
	routes  *routes
	writers *writers
}

// New builds a Handler.
func New(cfg Config) *Handler {
	if cfg.Events == nil {
		cfg.Events = cef.Discard{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxUsers <= 0 {
		cfg.MaxUsers = DefaultMaxUsers
	}
	return &Handler{
		cfg:     cfg,
		rd:      weave.Renderer{RetryAfter: cfg.RetryAfter, Logger: cfg.Logger},
		routes:  newRoutes(),
		writers: newWriters(cfg.MaxUsers),
	}
}

// WithEngine returns a copy of h bound to e, for dry runs inside a
// transaction that is rolled back. The copy shares the routes but not the
// per-user write state: a write that is never kept must not push the
// timestamps of real writes forward.
func (h *Handler) WithEngine(e store.Engine) *Handler {
	c := *h
	c.cfg.Engine = e
	c.writers = newWriters(h.cfg.MaxUsers)
	return &c
}

// call is one request on its way through an endpoint.
type call struct {
	w   http.ResponseWriter
	r   *http.Request
	d   weave.Dialect
	now store.Timestamp // the request's one server time
	// user is the authenticated account; coll and id are the decoded
	// path segments (empty when the route has none).
	user     store.User
	coll, id string
}

// setTimestamp replaces X-Weave-Timestamp, for writes that were issued a
// later time than the request's.
func (c *call) setTimestamp(ts store.Timestamp) {
	c.w.Header().Set("X-Weave-Timestamp", c.d.FormatTimestamp(ts))
}

// reply writes a 200 with body; Content-Type is already set.
func (c *call) reply(body []byte) error {
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
	return nil
}

// replyTimestamp answers a bare timestamp, as DELETEs do.
func (c *call) replyTimestamp(ts store.Timestamp) error {
	return c.reply(c.d.AppendTimestamp(nil, ts))
}

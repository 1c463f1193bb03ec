// Package ratelimit gives each user (and each source address, for
// registrations) a request budget per route class and window, counted in a
// counter.Store so that every instance sharing a memcached enforces one
// budget (shared/spec/security.md §2).
package ratelimit

import (
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/counter"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// Route classes with a default budget. A classifier may use others; they
// are limited only if Config.Classes names them.
const (
	ClassRead     = "read"     // GET, HEAD
	ClassWrite    = "write"    // every other method
	ClassRegister = "register" // account creation, keyed by source address
)

// Budget is Limit requests per Window. Limit 0 takes the class default; a
// negative Limit means unlimited. Window 0 takes the class default.
type Budget struct {
	Limit  int64
	Window time.Duration
}

// Defaults: far above a normal Firefox sync (tens of requests a minute).
var defaults = map[string]Budget{
	ClassRead:     {Limit: 600, Window: time.Minute},
	ClassWrite:    {Limit: 300, Window: time.Minute},
	ClassRegister: {Limit: 20, Window: time.Hour},
}

// DefaultBudget returns the built-in budget of a class (zero for unknown
// classes).
func DefaultBudget(class string) Budget { return defaults[class] }

// Config sets the budgets.
type Config struct {
	Read     Budget
	Write    Budget
	Register Budget
	// Classes budgets further classes a classifier returns.
	Classes map[string]Budget
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnStoreError hears about counter store failures, after which the
	// request is let through (fail open); nil logs them.
	OnStoreError func(error)
	// Render writes a refusal; nil writes the bare JSON body with the
	// error's headers. Set it to the API's renderer to add the dialect's
	// headers (X-Weave-Timestamp).
	Render func(http.ResponseWriter, *http.Request, *weave.Error)
	// Metrics, if set, gets weaveproxy_rate_limited_total{class}: every
	// refused request, so refusals show where an operator looks.
	Metrics prometheus.Registerer
	// Logger hears of the first refusal of a subject in each window; nil
	// discards.
	Logger *slog.Logger
}

// Limiter enforces the budgets.
type Limiter struct {
	counters counter.Store
	budgets  map[string]Budget
	cfg      Config
	events   cef.Sink
	refused  *prometheus.CounterVec
}

// New returns a Limiter counting in counters; events may be nil.
func New(counters counter.Store, cfg Config, events cef.Sink) *Limiter {
	budgets := map[string]Budget{}
	for class, b := range cfg.Classes {
		budgets[class] = b
	}
	budgets[ClassRead], budgets[ClassWrite], budgets[ClassRegister] = cfg.Read, cfg.Write, cfg.Register
	for class, b := range budgets {
		d := defaults[class]
		if b.Limit == 0 {
			b.Limit = d.Limit
		}
		if b.Window <= 0 {
			b.Window = d.Window
		}
		if b.Window <= 0 {
			b.Window = time.Minute
		}
		budgets[class] = b
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnStoreError == nil {
		cfg.OnStoreError = func(err error) { log.Printf("ratelimit: failing open: %v", err) }
	}
	if cfg.Render == nil {
		cfg.Render = renderJSON
	}
	if events == nil {
		events = cef.Discard{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{counters: counters, budgets: budgets, cfg: cfg, events: events,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weaveproxy_rate_limited_total",
			Help: "Requests refused with 503 because their subject's budget was spent, by route class.",
		}, []string{"class"})}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(l.refused); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				l.refused = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	return l
}

// Budget is the effective budget of class after defaults.
func (l *Limiter) Budget(class string) Budget { return l.budgets[class] }

// Message is the body of a refusal (as a JSON string).
const Message = "server issue: rate limited"

// Check counts one request of class by key (a user name, or an address
// for registrations). Over budget it returns a *weave.Error (as error, so
// a nil never hides in an interface): 503 with
// Retry-After and X-Weave-Backoff set to the seconds until the window
// ends. An empty class or key, an unbudgeted class, and a counter store
// failure all let the request through.
func (l *Limiter) Check(r *http.Request, class, key string) error {
	b, ok := l.budgets[class]
	if class == "" || key == "" || !ok || b.Limit <= 0 {
		return nil
	}
	now := l.cfg.Now()
	idx := now.UnixNano() / int64(b.Window)
	n, err := l.counters.Incr(r.Context(), "rl:"+class+":"+key+":"+strconv.FormatInt(idx, 10), b.Window)
	if err != nil {
		l.cfg.OnStoreError(err)
		return nil
	}
	if n <= b.Limit {
		return nil
	}
	l.refused.WithLabelValues(class).Inc()
	if n == b.Limit+1 {
		l.cfg.Logger.WarnContext(r.Context(), "rate limited", "class", class, "subject", key,
			"limit", b.Limit, "window", b.Window)
		// Once per subject and window: a client hammering away must not
		// flood the security log.
		user := key
		if class == ClassRegister {
			user = ""
		}
		l.events.Emit(r, cef.RateLimited(user, class, key, b.Limit, b.Window))
	}
	end := time.Unix(0, (idx+1)*int64(b.Window))
	secs := strconv.FormatInt(max(int64((end.Sub(now)+time.Second-1)/time.Second), 1), 10)
	return &weave.Error{Status: http.StatusServiceUnavailable, Message: Message,
		Header: map[string]string{"Retry-After": secs, "X-Weave-Backoff": secs}}
}

// Wrap limits next: classify names each request's class and key (empty
// class: not limited).
func (l *Limiter) Wrap(next http.Handler, classify func(*http.Request) (class, key string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		class, key := classify(r)
		if err := l.Check(r, class, key); err != nil {
			werr, _ := weave.AsError(err)
			l.cfg.Render(w, r, werr)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func renderJSON(w http.ResponseWriter, _ *http.Request, e *weave.Error) {
	for k, v := range e.Header {
		w.Header().Set(k, v)
	}
	body, _ := json.Marshal(e.Message)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}

// MethodClass is the class of a storage request: reads for GET and HEAD,
// writes for the rest.
func MethodClass(method string) string {
	if method == http.MethodGet || method == http.MethodHead {
		return ClassRead
	}
	return ClassWrite
}

// ByUser classifies by method, keyed by the user of the Weave path
// (weaveurl's user key, so /1.1/Alice, /1.1/alice and /1.1/%61lice share
// one budget, and an e-mail spends its derived account's); requests with
// no user are not limited.
func ByUser(r *http.Request) (class, key string) {
	c := weaveurl.Classify(r.Method, r.URL.EscapedPath())
	if c.UserKey == "" {
		return "", ""
	}
	return MethodClass(r.Method), c.UserKey
}

// Weave names the budget a Weave request spends: account creation (PUT
// /user/{version}/{user}, with or without the trailing slash a real client
// sends) spends its client address's registration budget, whatever answers
// it; other requests their user's (ByUser). trustForwarded as in ByAddress.
func Weave(trustForwarded bool) func(*http.Request) (string, string) {
	return func(r *http.Request) (string, string) {
		if weaveurl.Classify(r.Method, r.URL.EscapedPath()).Route == RegisterRoute {
			return ClassRegister, cef.ClientAddr(r, trustForwarded)
		}
		return ByUser(r)
	}
}

// RegisterRoute is the route whose requests spend ClassRegister budgets.
const RegisterRoute = "PUT /user/{version}/{user}"

// ByAddress classifies every request as class, keyed by its source
// address (cef.ClientAddr): for registrations.
func ByAddress(class string, trustForwarded bool) func(*http.Request) (string, string) {
	return func(r *http.Request) (string, string) {
		return class, cef.ClientAddr(r, trustForwarded)
	}
}

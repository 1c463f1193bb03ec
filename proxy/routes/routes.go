// Package routes reads routes.yaml, the file that tells the strangler proxy
// which side (the legacy PHP server or the native Go handlers) answers each
// route of the Weave API, and matches requests against it.
//
// A Table is immutable once built: the proxy swaps whole tables on reload,
// so a request keeps the table it started with.
package routes

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
)

// Mode says who answers a route.
type Mode string

const (
	// Legacy forwards the request to the legacy upstream.
	Legacy Mode = "legacy"
	// Native serves the request with the Go handlers.
	Native Mode = "native"
	// Shadow gives the client legacy's answer and hands the request and
	// both answers to the Shadower for comparison.
	Shadow Mode = "shadow"
	// Canary sends a sticky Percent of the users to native, the rest to
	// legacy.
	Canary Mode = "canary"
)

// Modes lists the valid modes in the order error messages name them.
var Modes = []Mode{Legacy, Native, Shadow, Canary}

// Valid reports whether m is one of Modes.
func (m Mode) Valid() bool {
	for _, v := range Modes {
		if m == v {
			return true
		}
	}
	return false
}

// Side is who actually answers one request: canary resolves to a side per
// user, the other modes name theirs directly.
type Side string

const (
	SideLegacy Side = "legacy"
	SideNative Side = "native"
	SideShadow Side = "shadow"
)

// Upstream describes the legacy server and how the proxy talks to it.
// All fields are comparable so that a reload can keep the running
// upstream (its connections and its breaker) when nothing changed.
type Upstream struct {
	URL                   string        // base URL, e.g. http://127.0.0.1:8081
	DialTimeout           time.Duration // TCP connect
	ResponseHeaderTimeout time.Duration // request sent → response headers
	IdleConnTimeout       time.Duration
	MaxConnections        int // per host, 0 = unlimited
	// QueueTimeout bounds the wait for a connection when MaxConnections
	// are busy; then the proxy answers 503 with back-off.
	QueueTimeout       time.Duration
	MaxIdleConnections int    // kept alive per host
	PreserveHost       bool   // send the client's Host (PHP checks users.location against it)
	ReadyPath          string // GET target of the readiness probe
	Breaker            Breaker
}

// Target returns the parsed URL; Parse has validated it.
func (u Upstream) Target() *url.URL {
	t, err := url.Parse(u.URL)
	if err != nil {
		panic(fmt.Sprintf("routes: unvalidated upstream url %q: %v", u.URL, err))
	}
	return t
}

// Breaker configures the circuit breaker of an upstream.
type Breaker struct {
	Failures         uint32        // consecutive failures that open it
	OpenFor          time.Duration // open → half-open
	HalfOpenRequests uint32        // probes let through while half-open
	Interval         time.Duration // closed-state count reset period, 0 = never
	Backoff          time.Duration // Retry-After / X-Weave-Backoff while open; 0 = OpenFor
}

// BackoffSeconds is the back-off clients are told (Backoff, or OpenFor
// when it is not set, so the advertised wait is how long the breaker
// stays open) rounded up to whole seconds, at least 1: the unit of
// Retry-After and X-Weave-Backoff.
func (b Breaker) BackoffSeconds() int {
	d := b.Backoff
	if d <= 0 {
		d = b.OpenFor
	}
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Route is one entry of the table: a method plus a path template.
type Route struct {
	Match        string // "METHOD /template" exactly as written; the route's name
	Method       string
	Pattern      string // the route's path template, e.g. /{version}/{user}/info/quota
	Mode         Mode
	Percent      int  // canary: share of users (0–100) sent to native
	Fallback     bool // native 5xx on a read → answer from legacy instead
	ShadowWrites bool // shadow: also compare writes (natively in a dry run)
	// Diff is the route's free-form `diff:` block, untouched; the shadow
	// comparison decodes it. Nil when absent.
	Diff *yaml.Node
	Line int // line of the entry in the file; 0 for built-in routes
	// Listed is false for the built-in API routes that take the default
	// mode because the file does not list them.
	Listed bool
}

// SideFor resolves the route's mode for one user. Canary hashes the
// lower-cased user name so a user stays on one side for every request and
// every canary route with the same percentage.
func (rt *Route) SideFor(user string) Side {
	switch rt.Mode {
	case Native:
		return SideNative
	case Shadow:
		return SideShadow
	case Canary:
		if user != "" && Bucket(user) < rt.Percent {
			return SideNative
		}
	}
	return SideLegacy
}

// Bucket maps a user name to 0–99: FNV-1a of the lower-cased name mod 100.
// Raising a canary's percentage only ever moves users to native.
func Bucket(user string) int {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(user)))
	return int(h.Sum32() % 100)
}

// Table is a parsed routes file. Build one with Parse or Load.
type Table struct {
	Source   string // file it was read from ("" when parsed from bytes)
	Legacy   Upstream
	Default  Mode
	Routes   []*Route // listed routes, file order
	Builtins []*Route // built-in API routes, mode Default

	byName map[string]*Route // listed routes first, then built-ins
	hash   string            // see Hash
	parser Parser            // how the file was parsed, for reloads
}

// Parser is how t was parsed; a reload parses the new file the same way.
func (t *Table) Parser() Parser { return t.parser }

// Match is the outcome of matching one request.
type Match struct {
	Route *Route // nil: not an API route, always forwarded to legacy
	// Request is the request as the Weave URL grammar classifies it.
	Request weaveurl.Request
	User    string // the user's key (weaveurl.Request.UserKey); "" when none
}

// Name is the route's name for logs and metrics; unmatched requests share
// one name so that metric cardinality stays bounded.
func (m Match) Name() string {
	if m.Route == nil {
		return "unmatched"
	}
	return m.Route.Match
}

// Side resolves who answers this request.
func (m Match) Side() Side {
	if m.Route == nil {
		return SideLegacy
	}
	return m.Route.SideFor(m.User)
}

// Mode is the configured mode of the matched route, legacy when unmatched.
func (m Match) Mode() Mode {
	if m.Route == nil {
		return Legacy
	}
	return m.Route.Mode
}

// Match finds the route for r by its name in the Weave URL grammar: the
// listed route of that name, else the built-in one. Paths are classified
// percent-encoded, so an id such as a%2Fb is one segment, as the legacy
// server treats it.
func (t *Table) Match(r *http.Request) Match {
	c := weaveurl.Classify(r.Method, r.URL.EscapedPath())
	m := Match{Request: c, User: c.UserKey}
	if c.Route != "" {
		m.Route = t.byName[c.Route]
	}
	return m
}

// WriteUser reports whether r is a write that may change what the native
// side caches for a user (storage, account, password or e-mail changes)
// and whose user it is (its key).
func (t *Table) WriteUser(r *http.Request) (string, bool) {
	c := weaveurl.Classify(r.Method, r.URL.EscapedPath())
	return c.UserKey, c.Write && c.UserKey != ""
}

// Lookup returns the listed or built-in route named match, or nil.
func (t *Table) Lookup(match string) *Route {
	for _, rt := range t.Routes {
		if rt.Match == match {
			return rt
		}
	}
	for _, rt := range t.Builtins {
		if rt.Match == match {
			return rt
		}
	}
	return nil
}

// UsesNative reports whether any route (listed or by default) can be
// answered by the native side, so the proxy can refuse a table it cannot
// serve.
func (t *Table) UsesNative() bool {
	if t.Default != Legacy && len(t.Builtins) > 0 {
		return true
	}
	for _, rt := range t.Routes {
		if rt.Mode != Legacy {
			return true
		}
	}
	return false
}

// WithMode returns a copy of t in which route match has the given mode
// (and percent, for canary). A route the file does not list yet is added at
// the end. t itself is unchanged; the copy is validated like a parsed file.
func (t *Table) WithMode(match string, mode Mode, percent int) (*Table, error) {
	if !mode.Valid() {
		return nil, fmt.Errorf("routes: unknown mode %q", mode)
	}
	method, pattern, err := splitMatch(match)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	c := &Table{Source: t.Source, Legacy: t.Legacy, Default: t.Default, parser: t.parser}
	found := false
	for _, rt := range t.Routes {
		cp := *rt
		if cp.Match == match {
			cp.Mode, found = mode, true
			if mode == Canary {
				cp.Percent = percent
			}
		}
		c.Routes = append(c.Routes, &cp)
	}
	if !found {
		c.Routes = append(c.Routes, &Route{Match: method + " " + pattern, Method: method, Pattern: pattern,
			Mode: mode, Percent: percent, ShadowWrites: true, Listed: true})
	}
	for _, rt := range c.Routes {
		if err := rt.check(); err != nil {
			return nil, fmt.Errorf("routes: %s: %w", rt.Match, err)
		}
	}
	if err := c.build(); err != nil {
		return nil, err
	}
	return c, nil
}

// check holds the rules on a route that do not depend on the file layout,
// shared by Parse and WithMode.
func (rt *Route) check() error {
	switch {
	case rt.Mode == Canary && (rt.Percent < 0 || rt.Percent > 100):
		return fmt.Errorf("percent %d out of range 0–100", rt.Percent)
	case rt.Mode == Canary && !hasVar(rt.Pattern, "user"):
		return fmt.Errorf("canary needs a {user} variable in the path to pick a side per user")
	case rt.Fallback && rt.Method != http.MethodGet:
		return fmt.Errorf("fallback is only allowed on GET routes: a write could be applied twice")
	}
	return nil
}

func hasVar(pattern, name string) bool {
	return strings.Contains(pattern, "{"+name+"}") || strings.Contains(pattern, "{"+name+":")
}

// build indexes a table whose routes are set: listed routes by name,
// then a built-in route, in the default mode, for every other API route.
func (t *Table) build() error {
	t.byName = map[string]*Route{}
	for _, rt := range t.Routes {
		if !weaveurl.IsRoute(rt.Match) {
			return fmt.Errorf("routes: %q is not a Weave route; %s", rt.Match, knownRoutes(rt.Method))
		}
		t.byName[rt.Match] = rt
	}
	t.Builtins = nil
	for _, name := range weaveurl.Routes() {
		method, pattern, _ := strings.Cut(name, " ")
		rt := &Route{Match: name, Method: method, Pattern: pattern, Mode: t.Default, ShadowWrites: true}
		t.Builtins = append(t.Builtins, rt)
		if t.byName[name] == nil {
			t.byName[name] = rt
		}
	}
	return nil
}

func splitMatch(s string) (method, pattern string, err error) {
	method, pattern, ok := strings.Cut(strings.TrimSpace(s), " ")
	pattern = strings.TrimSpace(pattern)
	if !ok || pattern == "" {
		return "", "", fmt.Errorf("match %q: want \"METHOD /path\", e.g. \"GET /{version}/{user}/info/collections\"", s)
	}
	if !knownMethods[method] {
		return "", "", fmt.Errorf("match %q: unknown method %q (want GET, PUT, POST, DELETE, HEAD, OPTIONS or PATCH)", s, method)
	}
	if !strings.HasPrefix(pattern, "/") {
		return "", "", fmt.Errorf("match %q: the path must start with /", s)
	}
	if strings.ContainsAny(pattern, " \t") {
		return "", "", fmt.Errorf("match %q: one method and one path, separated by one space", s)
	}
	return method, pattern, nil
}

var knownMethods = map[string]bool{"GET": true, "PUT": true, "POST": true, "DELETE": true,
	"HEAD": true, "OPTIONS": true, "PATCH": true}

package routes

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
	"github.com/weaveproxy/weaveproxy/internal/yamlpos"
)

// Problem is one thing wrong with a routes file, at a line and column.
type Problem = yamlpos.Problem

// ParseError lists every problem found in a file, so that Ops fix them in
// one go rather than one reload at a time.
type ParseError = yamlpos.Error

// Defaults of the legacy upstream when the file leaves a key out.
var defaultUpstream = Upstream{
	DialTimeout:           2 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
	IdleConnTimeout:       90 * time.Second,
	// Without a cap a slow legacy gets one connection per waiting client,
	// enough to exhaust php-fpm's workers; set it to pm.max_children.
	MaxConnections:     32,
	QueueTimeout:       10 * time.Second,
	MaxIdleConnections: 64,
	PreserveHost:       true,
	ReadyPath:          "/",
	Breaker: Breaker{
		Failures:         5,
		OpenFor:          10 * time.Second,
		HalfOpenRequests: 1,
	},
}

// Parser parses routes files. The zero value checks everything but the
// contents of `diff:` blocks, which belong to the shadow side: give it
// CheckDiff (shadow.CheckDiff) so that a broken block is refused at load,
// with its line and column, like every other key.
type Parser struct {
	// CheckDiff validates one route's diff: block; nil accepts any.
	CheckDiff func(n *yaml.Node) []Problem
}

// Load reads and parses the routes file at path, without checking diff:
// blocks (Parser{}.Load).
func Load(path string) (*Table, error) { return Parser{}.Load(path) }

// Parse parses a routes file without checking diff: blocks
// (Parser{}.Parse).
func Parse(src []byte, name string) (*Table, error) { return Parser{}.Parse(src, name) }

// Load reads and parses the routes file at path.
func (ps Parser) Load(path string) (*Table, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	t, err := ps.Parse(src, path)
	if err != nil {
		return nil, err
	}
	t.Source = path
	return t, nil
}

// Parse parses a routes file; name is used in error messages only. The
// error is a *ParseError naming the line of each problem. The table
// remembers ps: reloads parse the new file the same way (Table.Parser).
func (ps Parser) Parse(src []byte, name string) (*Table, error) {
	p := &parser{err: &ParseError{File: name}, ps: ps}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("routes: %s: %w", name, err)
	}
	t := &Table{Legacy: defaultUpstream, Default: Legacy, parser: ps}
	if len(doc.Content) == 0 {
		p.add(&doc, "the file is empty: it needs at least legacy.url")
		return nil, p.err
	}
	p.table(doc.Content[0], t)
	if len(p.err.Problems) > 0 {
		return nil, p.err
	}
	if err := t.build(); err != nil {
		return nil, err
	}
	h, err := t.digest()
	if err != nil {
		return nil, err
	}
	t.hash = h
	return t, nil
}

type parser struct {
	err *ParseError
	ps  Parser
}

func (p *parser) add(n *yaml.Node, format string, args ...any) { p.err.Add(n, format, args...) }

// fields walks a mapping, calling the handler of each key; unknown and
// repeated keys are problems, since a typo must not silently mean "default".
func (p *parser) fields(n *yaml.Node, what string, handlers map[string]func(*yaml.Node)) map[string]*yaml.Node {
	seen := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		p.add(n, "%s must be a mapping of keys to values", what)
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		switch {
		case !ok:
			p.add(k, "%s: unknown key %q (known: %s)", what, k.Value, keyList(handlers))
		case seen[k.Value] != nil:
			p.add(k, "%s: key %q repeated (first on line %d)", what, k.Value, seen[k.Value].Line)
		default:
			seen[k.Value] = k
			h(v)
		}
	}
	return seen
}

func keyList(m map[string]func(*yaml.Node)) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

func (p *parser) table(n *yaml.Node, t *Table) {
	seen := p.fields(n, "top level", map[string]func(*yaml.Node){
		"legacy":  func(v *yaml.Node) { p.upstream(v, &t.Legacy) },
		"default": func(v *yaml.Node) { t.Default = p.mode(v) },
		"routes":  func(v *yaml.Node) { p.routes(v, t) },
	})
	if n.Kind == yaml.MappingNode && seen["legacy"] == nil {
		p.add(n, "legacy: missing; the legacy upstream needs at least a url")
	}
	if t.Default == Canary {
		p.add(seen["default"], "default: canary needs a percent per route; list canary routes under routes")
	}
}

func (p *parser) upstream(n *yaml.Node, u *Upstream) {
	seen := p.fields(n, "legacy", map[string]func(*yaml.Node){
		"url":                     func(v *yaml.Node) { u.URL = p.url(v) },
		"dial_timeout":            func(v *yaml.Node) { u.DialTimeout = p.duration(v, false) },
		"response_header_timeout": func(v *yaml.Node) { u.ResponseHeaderTimeout = p.duration(v, false) },
		"idle_conn_timeout":       func(v *yaml.Node) { u.IdleConnTimeout = p.duration(v, false) },
		"max_connections":         func(v *yaml.Node) { u.MaxConnections = p.integer(v, 0, 1<<20) },
		"max_idle_connections":    func(v *yaml.Node) { u.MaxIdleConnections = p.integer(v, 0, 1<<20) },
		"queue_timeout":           func(v *yaml.Node) { u.QueueTimeout = p.duration(v, false) },
		"preserve_host":           func(v *yaml.Node) { u.PreserveHost = p.boolean(v) },
		"ready_path":              func(v *yaml.Node) { u.ReadyPath = p.path(v) },
		"breaker":                 func(v *yaml.Node) { p.breaker(v, &u.Breaker) },
	})
	if n.Kind == yaml.MappingNode && seen["url"] == nil {
		p.add(n, "legacy: url missing, e.g. url: http://127.0.0.1:8081")
	}
}

func (p *parser) breaker(n *yaml.Node, b *Breaker) {
	p.fields(n, "legacy.breaker", map[string]func(*yaml.Node){
		"failures":           func(v *yaml.Node) { b.Failures = uint32(p.integer(v, 1, 1<<20)) },
		"open_for":           func(v *yaml.Node) { b.OpenFor = p.duration(v, false) },
		"half_open_requests": func(v *yaml.Node) { b.HalfOpenRequests = uint32(p.integer(v, 1, 1<<20)) },
		"interval":           func(v *yaml.Node) { b.Interval = p.duration(v, true) },
		"backoff":            func(v *yaml.Node) { b.Backoff = p.duration(v, false) },
	})
}

func (p *parser) routes(n *yaml.Node, t *Table) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "routes:" with nothing under it
	}
	if n.Kind != yaml.SequenceNode {
		p.add(n, "routes must be a list of entries, each starting with \"- match:\"")
		return
	}
	first := map[string]int{}
	for _, e := range n.Content {
		rt := p.route(e)
		if rt == nil {
			continue
		}
		if l, dup := first[rt.Match]; dup {
			p.add(e, "route %q listed twice (first on line %d)", rt.Match, l)
			continue
		}
		first[rt.Match] = e.Line
		t.Routes = append(t.Routes, rt)
	}
}

func (p *parser) route(n *yaml.Node) *Route {
	rt := &Route{ShadowWrites: true, Line: n.Line, Listed: true}
	var matchNode, modeNode *yaml.Node
	seen := p.fields(n, "route", map[string]func(*yaml.Node){
		"match":         func(v *yaml.Node) { matchNode = v; rt.Match = p.str(v) },
		"mode":          func(v *yaml.Node) { modeNode = v; rt.Mode = p.mode(v) },
		"percent":       func(v *yaml.Node) { rt.Percent = p.integer(v, 0, 100) },
		"fallback":      func(v *yaml.Node) { rt.Fallback = p.fallback(v) },
		"shadow_writes": func(v *yaml.Node) { rt.ShadowWrites = p.boolean(v) },
		"diff": func(v *yaml.Node) {
			rt.Diff = v
			if p.ps.CheckDiff != nil {
				p.err.Problems = append(p.err.Problems, p.ps.CheckDiff(v)...)
			}
		},
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	ok := true
	if matchNode == nil {
		p.add(n, "route: match missing, e.g. match: \"GET /{version}/{user}/info/collections\"")
		ok = false
	} else if m, pat, err := splitMatch(rt.Match); err != nil {
		p.add(matchNode, "%v", err)
		ok = false
	} else {
		rt.Method, rt.Pattern, rt.Match = m, pat, m+" "+pat
		if !weaveurl.IsRoute(rt.Match) {
			// A match that names no route would load, match nothing, and
			// leave its traffic in the default mode without a word.
			p.add(matchNode, "match %q names no Weave route; %s", rt.Match, knownRoutes(m))
			ok = false
		}
	}
	if modeNode == nil {
		p.add(n, "route: mode missing (legacy, native, shadow or canary)")
		ok = false
	}
	if rt.Mode == Canary && seen["percent"] == nil {
		p.add(modeNode, "mode canary needs percent: 0–100, the share of users sent to native")
		ok = false
	}
	if ok {
		if err := rt.check(); err != nil {
			p.add(n, "route %q: %v", rt.Match, err)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return rt
}

func (p *parser) scalar(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode {
		p.add(n, "expected %s, found a %s", what, yamlpos.KindName(n))
		return false
	}
	return true
}

func (p *parser) str(n *yaml.Node) string {
	if !p.scalar(n, "a string") {
		return ""
	}
	return n.Value
}

func (p *parser) mode(n *yaml.Node) Mode {
	if !p.scalar(n, "a mode") {
		return ""
	}
	m := Mode(n.Value)
	if !m.Valid() {
		p.add(n, "unknown mode %q (want legacy, native, shadow or canary)", n.Value)
	}
	return m
}

func (p *parser) fallback(n *yaml.Node) bool {
	if !p.scalar(n, "a fallback") {
		return false
	}
	switch n.Value {
	case "legacy":
		return true
	case "none", "":
		return false
	}
	p.add(n, "fallback %q: the only fallback is legacy (or none)", n.Value)
	return false
}

func (p *parser) duration(n *yaml.Node, zeroOK bool) time.Duration {
	if !p.scalar(n, "a duration") {
		return 0
	}
	d, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		p.add(n, "%q is not a duration; write e.g. 500ms, 2s or 1m", n.Value)
	case d < 0 || (d == 0 && !zeroOK):
		p.add(n, "duration %s must be positive", n.Value)
	}
	return d
}

func (p *parser) integer(n *yaml.Node, lo, hi int) int {
	if !p.scalar(n, "a number") {
		return 0
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < lo || v > hi {
		p.add(n, "%q: want a whole number from %d to %d", n.Value, lo, hi)
	}
	return v
}

func (p *parser) boolean(n *yaml.Node) bool {
	if !p.scalar(n, "true or false") {
		return false
	}
	switch n.Value {
	case "true":
		return true
	case "false":
		return false
	}
	p.add(n, "%q: want true or false", n.Value)
	return false
}

func (p *parser) url(n *yaml.Node) string {
	s := p.str(n)
	u, err := url.Parse(s)
	switch {
	case err != nil:
		p.add(n, "url %q: %v", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		p.add(n, "url %q: scheme must be http or https", s)
	case u.Host == "":
		p.add(n, "url %q: no host", s)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		p.add(n, "url %q: only scheme, host, port and a base path are allowed", s)
	}
	return s
}

func (p *parser) path(n *yaml.Node) string {
	s := p.str(n)
	if !strings.HasPrefix(s, "/") {
		p.add(n, "path %q must start with /", s)
	}
	return s
}

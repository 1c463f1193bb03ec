// Package path renders and matches field paths such as body.success[3],
// body[id=h3].modified or header.x-weave-records.
//
// A path starts with a root (status, header, body) followed by selectors:
// .name for a key made of [A-Za-z0-9_-], ["any key"] (JSON-quoted) for any
// other key, [3] for a list index, [id=h3] for the element of an unordered
// list whose id is h3, and [*] for "any element" once generalised.
//
// Patterns use the same syntax plus wildcards: .* matches one key, [*] any
// element, and ** any number of trailing segments.
package path

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Key renders the selector for an object key.
func Key(name string) string {
	if plain(name) {
		return "." + name
	}
	q, _ := json.Marshal(name)
	return "[" + string(q) + "]"
}

// Index renders the selector for a list index.
func Index(i int) string { return "[" + strconv.Itoa(i) + "]" }

// ID renders the selector for the element of an unordered list whose id
// is v (a string or a number as its JSON text).
func ID(v string) string {
	if plain(v) {
		return "[id=" + v + "]"
	}
	q, _ := json.Marshal(v)
	return "[id=" + string(q) + "]"
}

// Any is the generalised element selector.
const Any = "[*]"

func plain(s string) bool {
	if s == "" || s == "*" || s == "**" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// segKind tells key selectors from element selectors.
type segKind uint8

const (
	segKey  segKind = iota // .name or ["name"]
	segElem                // [3], [id=x], [*]
)

type seg struct {
	kind   segKind
	text   string // the key, or the element selector's inside
	quoted bool   // ["*"] is the literal key *, .* the wildcard
}

// split tokenises a path or pattern; the root is the first key segment.
func split(p string) ([]seg, error) {
	if p == "" {
		return nil, fmt.Errorf("empty path")
	}
	var out []seg
	i := 0
	for i < len(p) {
		switch {
		case p[i] == '.':
			i++
			fallthrough
		case i == 0 && p[i] != '[':
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' && p[j] != ']' {
				j++
			}
			if j == i || (j < len(p) && p[j] == ']') {
				return nil, fmt.Errorf("path %q: empty key or stray ] at %d", p, i)
			}
			out = append(out, seg{kind: segKey, text: p[i:j]})
			i = j
		case p[i] == '[':
			s, n, err := bracket(p[i:])
			if err != nil {
				return nil, fmt.Errorf("path %q: %w", p, err)
			}
			out = append(out, s)
			i += n
		default:
			return nil, fmt.Errorf("path %q: unexpected %q at %d", p, p[i], i)
		}
	}
	return out, nil
}

// bracket reads one [...] selector at the start of s.
func bracket(s string) (seg, int, error) {
	if strings.HasPrefix(s, `["`) {
		var key string
		dec := json.NewDecoder(strings.NewReader(s[1:]))
		if err := dec.Decode(&key); err != nil {
			return seg{}, 0, fmt.Errorf("bad quoted key: %w", err)
		}
		n := 1 + int(dec.InputOffset())
		if n >= len(s) || s[n] != ']' {
			return seg{}, 0, fmt.Errorf("quoted key not closed")
		}
		return seg{kind: segKey, text: key, quoted: true}, n + 1, nil
	}
	if strings.HasPrefix(s, `[id="`) {
		var id string
		dec := json.NewDecoder(strings.NewReader(s[4:]))
		if err := dec.Decode(&id); err != nil {
			return seg{}, 0, fmt.Errorf("bad quoted id: %w", err)
		}
		n := 4 + int(dec.InputOffset())
		if n >= len(s) || s[n] != ']' {
			return seg{}, 0, fmt.Errorf("quoted id not closed")
		}
		return seg{kind: segElem, text: "id=" + id}, n + 1, nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return seg{}, 0, fmt.Errorf("unclosed [")
	}
	return seg{kind: segElem, text: s[1:end]}, end + 1, nil
}

// Generalize replaces every element selector with [*], so that findings on
// different elements of one list count as one field.
func Generalize(p string) string { return Generalizer{}.Key(p) }

// Generalizer generalises paths with exceptions.
type Generalizer struct {
	// Dynamic: keys of the maps these patterns name are data (a POST
	// answer's failed ids: body.failed.*) and become .* as well.
	Dynamic []Pattern
	// Positional: the lists these patterns name are tuples whose
	// positions mean different things (info/quota's [used, quota]): their
	// indices are kept.
	Positional []Pattern
}

// Key generalises p.
func (g Generalizer) Key(p string) string {
	segs, err := split(p)
	if err != nil {
		return p
	}
	var b strings.Builder
	for i, s := range segs {
		switch {
		case s.kind == segElem:
			if matchAny(g.Positional, b.String()) && !strings.HasPrefix(s.text, "id=") {
				b.WriteString("[" + s.text + "]")
			} else {
				b.WriteString(Any)
			}
		case i == 0:
			b.WriteString(s.text)
		case matchAny(g.Dynamic, b.String()+Key(s.text)):
			b.WriteString(".*")
		default:
			b.WriteString(Key(s.text))
		}
	}
	return b.String()
}

func matchAny(ps []Pattern, p string) bool {
	for _, pt := range ps {
		if pt.Match(p) {
			return true
		}
	}
	return false
}

// Pattern is a compiled path pattern.
type Pattern struct {
	src  string
	segs []seg
}

// Compile parses a pattern.
func Compile(p string) (Pattern, error) {
	segs, err := split(p)
	if err != nil {
		return Pattern{}, err
	}
	for i, s := range segs {
		if s.kind == segKey && !s.quoted && s.text == "**" && i != len(segs)-1 {
			return Pattern{}, fmt.Errorf("pattern %q: ** must be last", p)
		}
	}
	return Pattern{src: p, segs: segs}, nil
}

// MustCompile is Compile for patterns written in the source.
func MustCompile(p string) Pattern {
	pt, err := Compile(p)
	if err != nil {
		panic(err)
	}
	return pt
}

func (pt Pattern) String() string { return pt.src }

// Match reports whether path p matches the whole pattern.
func (pt Pattern) Match(p string) bool { return pt.match(p, false) }

// MatchPrefix reports whether the pattern matches p or one of its
// ancestors: a pattern naming a subtree covers everything under it.
func (pt Pattern) MatchPrefix(p string) bool { return pt.match(p, true) }

func (pt Pattern) match(p string, prefix bool) bool {
	segs, err := split(p)
	if err != nil || len(pt.segs) == 0 {
		return false
	}
	for i, ps := range pt.segs {
		if ps.kind == segKey && !ps.quoted && ps.text == "**" {
			return true
		}
		if i >= len(segs) {
			return false
		}
		if !segMatch(ps, segs[i]) {
			return false
		}
	}
	return len(segs) == len(pt.segs) || prefix
}

func segMatch(pat, s seg) bool {
	if pat.kind != s.kind {
		return false
	}
	if pat.kind == segKey {
		return (!pat.quoted && pat.text == "*") || pat.text == s.text
	}
	return pat.text == "*" || pat.text == s.text
}

// Set is a list of patterns; the zero value matches nothing.
type Set []Pattern

// CompileSet compiles every pattern, failing on the first bad one.
func CompileSet(ps []string) (Set, error) {
	out := make(Set, 0, len(ps))
	for _, p := range ps {
		pt, err := Compile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, pt)
	}
	return out, nil
}

// Match reports whether any pattern matches p exactly.
func (s Set) Match(p string) bool {
	for _, pt := range s {
		if pt.Match(p) {
			return true
		}
	}
	return false
}

// MatchPrefix reports whether any pattern matches p or an ancestor of p.
func (s Set) MatchPrefix(p string) bool {
	for _, pt := range s {
		if pt.MatchPrefix(p) {
			return true
		}
	}
	return false
}

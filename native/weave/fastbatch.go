package weave

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// ParseBatch is DecodeJSON and SplitBatch in one pass over the body, for
// the bodies clients send: a list of objects whose keys are known WBO
// fields, each once, with strings without escapes and numbers or null as
// values. ok is false for any other body, which DecodeJSON and SplitBatch
// then take as before: so every answer, error or validation message,
// stays theirs, and a body ParseBatch takes gets exactly what they would
// give it (FuzzParseBatch checks). Decoding a POST of 100 WBOs into
// map[string]any costs about ten times what this does.
func ParseBatch(body []byte, lim BatchLimits) (kept []Item, res *BatchResult, ok bool) {
	if !utf8.Valid(body) {
		return nil, nil, false
	}
	// One copy of the body: the ids and payloads are pieces of it.
	p := scanner{b: body, s: string(body)}
	if p.skipSpace(); !p.eat('[') {
		return nil, nil, false
	}
	// Elements are counted first: the splitter sizes its list from it.
	sp := newSplitter(lim, bytes.Count(body, []byte{'{'}))
	p.skipSpace()
	if p.eat(']') {
		return p.end(sp)
	}
	for i := 0; ; i++ {
		f, good := p.object()
		if !good {
			return nil, nil, false
		}
		it, msg := buildItem(f, "")
		sp.add(i, it, msg)
		p.skipSpace()
		if p.eat(']') {
			return p.end(sp)
		}
		if !p.eat(',') {
			return nil, nil, false
		}
		p.skipSpace()
	}
}

// scanner reads the subset of JSON ParseBatch takes.
type scanner struct {
	b []byte
	s string // b as a string
	i int
}

func (p *scanner) end(sp *splitter) ([]Item, *BatchResult, bool) {
	p.skipSpace()
	if p.i != len(p.b) {
		return nil, nil, false
	}
	return sp.kept, sp.res, true
}

func (p *scanner) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *scanner) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// object reads one object of known fields.
func (p *scanner) object() (wboFields, bool) {
	var f wboFields
	if !p.eat('{') {
		return f, false
	}
	p.skipSpace()
	if p.eat('}') {
		return f, true
	}
	for {
		key, ok := p.str()
		if !ok {
			return f, false
		}
		var fl *field
		switch string(key) { // no allocation: the compiler compares in place
		case "id":
			fl = &f.id
		case "parentid":
			fl = &f.parentid
		case "predecessorid":
			fl = &f.predecessorid
		case "sortindex":
			fl = &f.sortindex
		case "ttl":
			fl = &f.ttl
		case "payload":
			fl = &f.payload
		default:
			return f, false
		}
		if fl.set { // a repeated key: the last one wins in a map
			return f, false
		}
		p.skipSpace()
		if !p.eat(':') {
			return f, false
		}
		p.skipSpace()
		if fl.v, ok = p.value(); !ok {
			return f, false
		}
		fl.set = true
		p.skipSpace()
		if p.eat('}') {
			return f, true
		}
		if !p.eat(',') {
			return f, false
		}
		p.skipSpace()
	}
}

// value reads a string, a number (kept as written) or null.
func (p *scanner) value() (any, bool) {
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		start := p.i + 1
		s, ok := p.str()
		return p.s[start : start+len(s)], ok
	case c == '-' || c >= '0' && c <= '9':
		n, ok := p.number()
		return json.Number(n), ok
	case bytes.HasPrefix(p.b[p.i:], []byte("null")):
		p.i += 4
		return nil, true
	}
	return nil, false
}

// str reads a string without escapes or control characters, which is
// then its own value.
func (p *scanner) str() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	n := bytes.IndexByte(p.b[p.i:], '"')
	if n < 0 {
		return nil, false
	}
	s := p.b[p.i : p.i+n]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return nil, false
		}
	}
	p.i += n + 1
	return s, true
}

// number reads a number of JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *scanner) number() (string, bool) {
	start := p.i
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.digits() == 0:
		return "", false
	}
	if p.eat('.') && p.digits() == 0 {
		return "", false
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			return "", false
		}
	}
	return p.s[start:p.i], true
}

func (p *scanner) digits() int {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}

package weave

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// ParseBatch is DecodeJSON and SplitBatch in one pass over the body, for
// the bodies clients send: a list of objects whose keys are known WBO
// fields, each once, with strings, numbers or null as values. ok is false for any other body, which DecodeJSON and SplitBatch
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
		switch key {
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
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		n, ok := p.number()
		return json.Number(n), ok
	case bytes.HasPrefix(p.b[p.i:], []byte("null")):
		p.i += 4
		return nil, true
	}
	return nil, false
}

// str reads a string. One without escapes is its own value, a piece of
// the body; one with escapes, as every real client's payload has (Sync
// payloads are JSON in a string: {\"ciphertext\":...}), is unescaped.
func (p *scanner) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start, escaped := p.i, false
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			if !escaped {
				return p.s[start : p.i-1], true
			}
			return unescape(p.b[start-1 : p.i])
		case c == '\\':
			escaped = true
			p.i += 2 // the escaped byte never ends the string
		case c < 0x20:
			return "", false
		default:
			p.i++
		}
	}
	return "", false
}

// unescaped is the value of each one-character escape of JSON.
var unescaped = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// unescape is the value of quoted, a JSON string with escapes and no
// control characters. The one-character escapes (the quotes and slashes
// of a payload) are replaced here; one with a \u escape is left to
// encoding/json, whose handling of surrogates is DecodeJSON's.
func unescape(quoted []byte) (string, bool) {
	in := quoted[1 : len(quoted)-1]
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i++; unescaped[in[i]] == 0 {
			var v string
			if json.Unmarshal(quoted, &v) != nil {
				return "", false
			}
			return v, true
		}
		out = append(out, unescaped[in[i]])
	}
	return string(out), true
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

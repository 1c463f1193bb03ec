package cef

import (
	"fmt"
	"strings"
)

// parsed is a CEF line taken apart by parseCEF: the seven header fields
// (version, vendor, product, device version, signature, name, severity)
// unescaped, and the extensions in order, unescaped.
type parsed struct {
	Header [7]string
	Keys   []string
	Ext    map[string]string
}

// parseCEF is a strict CEF reader written from the format's rules, not from
// Format: it refuses unknown escapes, raw line breaks, a missing header
// field, text before the first key and duplicate keys.
func parseCEF(line string) (parsed, error) {
	var p parsed
	if strings.ContainsAny(line, "\r\n") {
		return p, fmt.Errorf("raw line break in %q", line)
	}
	rest, ok := strings.CutPrefix(line, "CEF:")
	if !ok {
		return p, fmt.Errorf("no CEF: prefix")
	}
	for i := 0; i < 7; i++ {
		var b strings.Builder
		j := 0
		for ; j < len(rest) && rest[j] != '|'; j++ {
			if rest[j] == '\\' {
				if j+1 >= len(rest) || (rest[j+1] != '\\' && rest[j+1] != '|') {
					return p, fmt.Errorf("header field %d: bad escape", i)
				}
				j++
			}
			b.WriteByte(rest[j])
		}
		if j == len(rest) {
			return p, fmt.Errorf("header field %d not terminated", i)
		}
		p.Header[i] = b.String()
		rest = rest[j+1:]
	}
	ext, err := parseExtensions(rest)
	if err != nil {
		return p, err
	}
	p.Ext = map[string]string{}
	for _, kv := range ext {
		if _, dup := p.Ext[kv[0]]; dup {
			return p, fmt.Errorf("duplicate key %q", kv[0])
		}
		p.Keys = append(p.Keys, kv[0])
		p.Ext[kv[0]] = kv[1]
	}
	return p, nil
}

// char is one unescaped character of the extension part and whether it
// came from an escape sequence (an escaped '=' or ' ' is never syntax).
type char struct {
	r       rune
	escaped bool
}

func parseExtensions(s string) ([][2]string, error) {
	var cs []char
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		if rs[i] != '\\' {
			cs = append(cs, char{rs[i], false})
			continue
		}
		if i+1 >= len(rs) {
			return nil, fmt.Errorf("dangling backslash")
		}
		i++
		switch rs[i] {
		case '\\', '=':
			cs = append(cs, char{rs[i], true})
		case 'n':
			cs = append(cs, char{'\n', true})
		case 'r':
			cs = append(cs, char{'\r', true})
		default:
			return nil, fmt.Errorf("unknown escape \\%c", rs[i])
		}
	}
	// Every unescaped '=' ends a key: the word right before it.
	type keyPos struct{ start, eq int }
	var keys []keyPos
	for i, c := range cs {
		if c.r != '=' || c.escaped {
			continue
		}
		start := i
		for start > 0 && !(cs[start-1].r == ' ' && !cs[start-1].escaped) {
			start--
		}
		if start == i {
			return nil, fmt.Errorf("empty key at %d", i)
		}
		for _, k := range cs[start:i] {
			if k.escaped || !(k.r >= 'a' && k.r <= 'z' || k.r >= 'A' && k.r <= 'Z' || k.r >= '0' && k.r <= '9' || k.r == '_') {
				return nil, fmt.Errorf("bad key character %q", k.r)
			}
		}
		keys = append(keys, keyPos{start, i})
	}
	if len(cs) > 0 && (len(keys) == 0 || keys[0].start != 0) {
		return nil, fmt.Errorf("text before the first key")
	}
	var out [][2]string
	for n, k := range keys {
		end := len(cs)
		if n+1 < len(keys) {
			end = keys[n+1].start - 1 // the separating space
		}
		out = append(out, [2]string{runes(cs[k.start:k.eq]), runes(cs[k.eq+1 : end])})
	}
	return out, nil
}

func runes(cs []char) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteRune(c.r)
	}
	return b.String()
}

// Package normalize turns an HTTP answer into the structured form the
// comparison walks: the status, headers by lower-cased name, and the body
// parsed by its content type (storage.md §4): JSON with numbers kept as
// json.Number, application/newlines and application/whoisi split into
// JSON records, anything else as raw text.
package normalize

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/weaveproxy/weaveproxy/diff"
)

// Raw is a body, or a record, that is kept as text: not JSON by its
// content type, or not valid JSON although it claimed to be (a PHP
// fatal-error page under application/json).
type Raw string

// Format names how a body was read.
type Format string

const (
	FormatJSON     Format = "json"
	FormatNewlines Format = "newlines"
	FormatWhoisi   Format = "whoisi"
	FormatText     Format = "text"
	// FormatBroken: the content type promised a format the bytes do not
	// follow; the body is Raw.
	FormatBroken Format = "broken"
)

// Form is a normalised answer.
type Form struct {
	Status int
	// Header maps lower-cased names to the values joined by ", ": a
	// string, or a json.Number for the numeric Weave headers.
	Header map[string]any
	Body   any
	Format Format
}

// Options control normalisation.
type Options struct {
	// IgnoreHeader drops headers that are never compared.
	IgnoreHeader func(lowerName string) bool
	// ContentTypeParams keeps Content-Type parameters (charset); by default
	// only the lower-cased media type is kept.
	ContentTypeParams bool
}

// numericHeaders carry numbers: compared as numbers, so that
// 1795895500.7 and 1795895500.70 are the same time.
var numericHeaders = map[string]bool{
	"x-weave-timestamp":       true,
	"x-weave-records":         true,
	"x-weave-quota-remaining": true,
	"x-weave-backoff":         true,
	"retry-after":             true,
}

// Answer normalises a.
func Answer(a diff.Answer, opt Options) Form {
	f := Form{Status: a.Status, Header: make(map[string]any, len(a.Header))}
	mediaType := ""
	for name, vals := range a.Header {
		n := strings.ToLower(name)
		if opt.IgnoreHeader != nil && opt.IgnoreHeader(n) {
			continue
		}
		v := strings.Join(vals, ", ")
		if n == "content-type" {
			mt, params, err := mime.ParseMediaType(v)
			if err == nil {
				mediaType = mt
				if !opt.ContentTypeParams || len(params) == 0 {
					v = mt
				} else {
					v = mime.FormatMediaType(mt, params)
				}
			}
		}
		f.Header[n] = headerValue(n, v)
	}
	f.Body, f.Format = Body(mediaType, a.Body)
	return f
}

func headerValue(name, v string) any {
	if numericHeaders[name] {
		if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return json.Number(strings.TrimSpace(v))
		}
	}
	return v
}

// Body parses a body by its (lower-case, parameterless) media type.
func Body(mediaType string, b []byte) (any, Format) {
	switch mediaType {
	case "application/json":
		if v, err := JSON(b); err == nil {
			return v, FormatJSON
		}
	case "application/newlines":
		return Newlines(b), FormatNewlines
	case "application/whoisi":
		if recs, err := Whoisi(b); err == nil {
			return recs, FormatWhoisi
		}
	default:
		return Raw(b), FormatText
	}
	return Raw(b), FormatBroken
}

// JSON decodes one JSON value, numbers as json.Number, and rejects
// trailing data.
func JSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// Newlines splits an application/newlines body: each record is JSON
// followed by "\n". A record that is not JSON is kept Raw.
func Newlines(b []byte) []any {
	recs := []any{}
	for len(b) > 0 {
		line := b
		i := bytes.IndexByte(b, '\n')
		if i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if v, err := JSON(line); err == nil {
			recs = append(recs, v)
		} else {
			recs = append(recs, Raw(line))
		}
	}
	return recs
}

// Whoisi splits an application/whoisi body: each record is a 4-byte
// big-endian length and that many bytes of JSON.
func Whoisi(b []byte) ([]any, error) {
	recs := []any{}
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("whoisi: truncated length")
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, errors.New("whoisi: record longer than the body")
		}
		rec := b[:n]
		b = b[n:]
		if v, err := JSON(rec); err == nil {
			recs = append(recs, v)
		} else {
			recs = append(recs, Raw(rec))
		}
	}
	return recs, nil
}

// Tree is the value the comparison walks: status, header and body under
// one map, so that every field path starts with its root.
func (f Form) Tree() map[string]any {
	return map[string]any{
		"status": json.Number(strconv.Itoa(f.Status)),
		"header": f.Header,
		"body":   f.Body,
	}
}

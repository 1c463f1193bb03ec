package weave

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Format is an output format of a collection GET.
type Format uint8

const (
	FormatJSON     Format = iota // one JSON list
	FormatNewlines               // one JSON record per line
	FormatWhoisi                 // 4-byte big-endian length + JSON, per record
)

var formatTypes = [...]string{
	FormatJSON:     "application/json",
	FormatNewlines: "application/newlines",
	FormatWhoisi:   "application/whoisi",
}

// ContentType is the exact Content-Type of the format.
func (f Format) ContentType() string { return formatTypes[f] }

// NegotiateFormat picks the output format from an Accept header the way
// webob's MIMEAccept.best_match did for the Python server: quality values
// and wildcards count, offers are tried in order (json, newlines, whoisi)
// and a later offer only beats an equal quality when a more specific mask
// matched it. Anything unparseable or unmatched gives JSON.
func NegotiateFormat(accept string) Format {
	ranges := parseAccept(accept)
	best, bestQ, matchedBy := FormatJSON, -1.0, "*/*"
	for f, offer := range formatTypes {
		for _, mr := range ranges {
			if mr.q < bestQ {
				continue
			}
			if mr.q == bestQ && strings.Count(matchedBy, "*") <= strings.Count(mr.mask, "*") {
				continue
			}
			if maskMatches(mr.mask, offer) {
				best, bestQ, matchedBy = Format(f), mr.q, mr.mask
			}
		}
	}
	return best
}

type mediaRange struct {
	mask string
	q    float64
}

// parseAccept keeps the ranges with a non-zero quality. As in webob, a
// quality that is not a number counts as 1 and parameters other than q are
// ignored.
func parseAccept(accept string) []mediaRange {
	var out []mediaRange
	for part := range strings.SplitSeq(accept, ",") {
		mask, params, _ := strings.Cut(part, ";")
		mask = strings.ToLower(strings.TrimSpace(mask))
		if mask == "" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || strings.TrimSpace(k) != "q" {
				continue
			}
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f == f {
				q = min(max(f, 0), 1)
			}
		}
		if q > 0 {
			out = append(out, mediaRange{mask, q})
		}
	}
	return out
}

func maskMatches(mask, offer string) bool {
	switch {
	case mask == "*/*":
		return true
	case !strings.Contains(mask, "*"):
		return mask == offer
	case strings.HasSuffix(mask, "/*") && !strings.Contains(mask[:len(mask)-2], "*"):
		major, _, _ := strings.Cut(offer, "/")
		return mask[:len(mask)-2] == major
	}
	return false // webob raised on such masks; we ignore them
}

// AppendIDs renders the ids of items in format f.
func (d Dialect) AppendIDs(b []byte, f Format, items []store.WBO) []byte {
	return appendRecords(b, f, len(items), func(b []byte, i int) []byte {
		return d.AppendString(b, items[i].ID)
	})
}

// AppendWBOs renders full items in format f.
func (d Dialect) AppendWBOs(b []byte, f Format, items []store.WBO) []byte {
	// Room for the whole page at once (escapes aside) instead of a
	// dozen doublings of a 40 KB page.
	n := 0
	for i := range items {
		w := &items[i]
		n += len(w.ID) + len(`{"id":"","parentid":"","modified":12345678901.23,"predecessorid":"","sortindex":-1234567890,"payload":""},`)
		if w.Payload != nil {
			n += len(*w.Payload)
		}
		if w.ParentID != nil {
			n += len(*w.ParentID)
		}
		if w.PredecessorID != nil {
			n += len(*w.PredecessorID)
		}
	}
	b = slices.Grow(b, n+2)
	return appendRecords(b, f, len(items), func(b []byte, i int) []byte {
		return d.AppendWBO(b, &items[i])
	})
}

func appendRecords(b []byte, f Format, n int, rec func([]byte, int) []byte) []byte {
	switch f {
	case FormatNewlines:
		for i := range n {
			start := len(b)
			b = rec(b, i)
			// Our encoder never writes a raw newline, but the format promises
			// one record per line whatever the encoder does.
			if bytes.IndexByte(b[start:], '\n') >= 0 {
				fixed := bytes.ReplaceAll(b[start:], []byte{'\n'}, []byte(`\u000a`))
				b = append(b[:start], fixed...)
			}
			b = append(b, '\n')
		}
		return b
	case FormatWhoisi:
		for i := range n {
			start := len(b)
			b = append(b, 0, 0, 0, 0)
			b = rec(b, i)
			binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
		}
		return b
	}
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = rec(b, i)
	}
	return append(b, ']')
}

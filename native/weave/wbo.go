package weave

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Limits of a WBO, as both reference servers enforced them.
const (
	MaxIDBytes      = 64
	MaxPayloadBytes = 262144
	MaxSortIndex    = 999999999
	MaxTTL          = 31536000 // one year, in seconds
)

// Validation messages, as the Python server put them in a batch's failed map.
const (
	MsgInvalidWBO           = "invalid wbo"
	MsgInvalidID            = "invalid id"
	MsgInvalidParentID      = "invalid parentid"
	MsgInvalidPredecessorID = "invalid predecessorid"
	MsgInvalidSortIndex     = "invalid sortindex"
	MsgInvalidTTL           = "invalid ttl"
	MsgPayloadNotString     = "payload not a string"
	MsgPayloadTooLarge      = "payload too large"
)

// Item is a WBO as a client sent it, validated. WBO holds the fields to
// store (a nil pointer: not supplied); Modified and TTL are set by Stored,
// since both depend on the request's server time.
type Item struct {
	WBO store.WBO
	// HasID says the body carried an id (a PUT takes it from the URL).
	HasID bool
	// TTL is the lifetime in seconds as sent; nil: none given.
	TTL *int64
}

// Stored is the WBO to write at server time now: a payload makes the item
// modified now; a ttl becomes the absolute second it expires.
func (it Item) Stored(now store.Timestamp) store.WBO {
	w := it.WBO
	if w.Payload != nil {
		m := now
		w.Modified = &m
	}
	if it.TTL != nil {
		exp := now.Seconds() + *it.TTL
		w.TTL = &exp
	}
	return w
}

// DecodeJSON parses a request body, keeping numbers as written. A body that
// is not UTF-8 or not exactly one JSON value is a 400 with code 6.
func DecodeJSON(body []byte) (any, error) {
	if !utf8.Valid(body) {
		return nil, BadRequest(CodeJSONParse, "body is not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, BadRequest(CodeJSONParse, "bad JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, BadRequest(CodeJSONParse, "trailing data after JSON value")
	}
	return v, nil
}

// ParseWBO decodes the body of an item PUT: 400 code 6 for bad JSON, 400
// code 8 for anything that is not a valid WBO. The id in the URL wins over
// the body's, and is the one validated.
func ParseWBO(body []byte, urlID string) (Item, error) {
	v, err := DecodeJSON(body)
	if err != nil {
		return Item{}, err
	}
	it, msg := BuildItem(v, urlID)
	if msg != "" {
		return it, BadRequest(CodeInvalidWBO, "%s", msg)
	}
	return it, nil
}

// field is one known field of a decoded WBO object: set says the key was
// present (its value may still be JSON null, a nil v).
type field struct {
	v   any
	set bool
}

// wboFields are the WBO fields a client sends; every other key of the
// object is ignored, whatever its value.
type wboFields struct {
	id, parentid, predecessorid, sortindex, ttl, payload field
}

func (f *wboFields) all() [6]*field {
	return [6]*field{&f.id, &f.parentid, &f.predecessorid, &f.sortindex, &f.ttl, &f.payload}
}

func fieldsOf(obj map[string]any) wboFields {
	get := func(name string) field {
		v, ok := obj[name]
		return field{v, ok}
	}
	return wboFields{get("id"), get("parentid"), get("predecessorid"), get("sortindex"), get("ttl"), get("payload")}
}

// BuildItem turns a decoded JSON value into an Item, or a validation
// message. The value must be an object; its known fields must be scalars
// (a list or object there could not be stored as sent); then id, parentid,
// predecessorid, sortindex, ttl and payload are checked in that order and
// the first failure is reported (the Python server's rules). Other keys
// are ignored whatever they hold, as PHP and the first Python server did:
// refusing the item for them would lose data both stored. A non-empty
// urlID replaces the body's id. JSON booleans are refused in the known
// fields: PHP and Python would have stored different values ("1" and
// "True"), neither the one sent.
func BuildItem(v any, urlID string) (Item, string) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Item{}, MsgInvalidWBO
	}
	return buildItem(fieldsOf(obj), urlID)
}

func buildItem(f wboFields, urlID string) (Item, string) {
	for _, fl := range f.all() {
		switch fl.v.(type) {
		case nil, string, json.Number, bool:
		default:
			return Item{}, MsgInvalidWBO
		}
	}
	var it Item
	rawID, hasID := f.id.v, f.id.set
	if urlID != "" {
		rawID, hasID = urlID, true
	}
	if hasID && rawID != nil {
		id, good := scalarString(rawID)
		it.WBO.ID, it.HasID = id, true
		if !good || !ValidID(id) {
			return it, MsgInvalidID
		}
	}
	var msg string
	if it.WBO.ParentID, msg = optionalRef(f.parentid, MsgInvalidParentID); msg != "" {
		return it, msg
	}
	if it.WBO.PredecessorID, msg = optionalRef(f.predecessorid, MsgInvalidPredecessorID); msg != "" {
		return it, msg
	}
	if raw := f.sortindex.v; raw != nil {
		n, good := toSortIndex(raw)
		if !good {
			return it, MsgInvalidSortIndex
		}
		it.WBO.SortIndex = &n
	}
	if raw := f.ttl.v; raw != nil {
		n, good := toTTL(raw)
		if !good {
			return it, MsgInvalidTTL
		}
		it.TTL = &n
	}
	if raw := f.payload.v; raw != nil {
		p, isString := raw.(string)
		if !isString {
			return it, MsgPayloadNotString
		}
		if len(p) > MaxPayloadBytes {
			return it, MsgPayloadTooLarge
		}
		it.WBO.Payload, it.WBO.PayloadSize = &p, int64(len(p))
	}
	return it, ""
}

// ValidID says whether id can name an item: 1 to 64 bytes (the legacy
// wbo.id column) of UTF-8 (a JSON answer could not carry other bytes
// back) without control characters. Anything else goes, '/' included:
// PHP stored such ids and base64 makes them (Mozilla's own load test
// does); a URL addresses them percent-encoded (a%2Fb).
func ValidID(id string) bool {
	return id != "" && len(id) <= MaxIDBytes && utf8.ValidString(id) &&
		strings.IndexFunc(id, unicode.IsControl) < 0
}

func optionalRef(f field, msg string) (*string, string) {
	if f.v == nil {
		return nil, ""
	}
	s, good := scalarString(f.v)
	if !good || len(s) > MaxIDBytes {
		return nil, msg
	}
	return &s, ""
}

// scalarString is Python's str() of a JSON string or number; numbers keep
// the digits the client wrote.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// toSortIndex is Python's int(v), falling back to int(float(v)): floats are
// truncated toward zero, numeric strings accepted, and the result must lie
// within ±MaxSortIndex.
func toSortIndex(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false
	}
	n, ok := parseTruncated(s, true)
	return n, ok && n >= -MaxSortIndex && n <= MaxSortIndex
}

// toTTL is Python's int(v): a JSON number is truncated, a string must be
// an integer; 0 … MaxTTL.
func toTTL(v any) (int64, bool) {
	var n int64
	var ok bool
	switch x := v.(type) {
	case json.Number:
		n, ok = parseTruncated(x.String(), true)
	case string:
		n, ok = parseTruncated(strings.TrimSpace(x), false)
	}
	return n, ok && n >= 0 && n <= MaxTTL
}

// parseTruncated reads an integer, or with allowFloat a finite decimal
// truncated toward zero. Values too large for the WBO limits are refused.
func parseTruncated(s string, allowFloat bool) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) <= 1 && body != "" && allDigits(body) {
		return 0, false // an integer out of int64 range
	}
	if !allowFloat {
		return 0, false
	}
	if _, _, _, ok := splitDecimal(s); !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.Abs(f) >= 1e18 {
		return 0, false
	}
	return int64(f), true
}

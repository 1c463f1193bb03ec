package weave

import (
	"math"
	"sort"
	"strconv"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Dialect is the wire flavour of one API version. Behaviour (what is stored,
// what is refused) is the same for every version; only the rendering of
// numbers, strings and a few response shapes differs, so that a client of
// the legacy PHP server sees byte-identical answers on /1.0/ while /1.1/
// speaks like the Python reference.
type Dialect uint8

const (
	// Legacy is /1.0/: the PHP server's wire, as the recordings show it.
	Legacy Dialect = 1
	// Python is /1.1/ (and /1/): the Python reference's wire.
	Python Dialect = 2
)

// DialectFor maps the version segment of a URL to its dialect.
func DialectFor(version string) (Dialect, bool) {
	switch version {
	case "1.0":
		return Legacy, true
	case "1.1", "1":
		return Python, true
	}
	return 0, false
}

func (d Dialect) String() string {
	switch d {
	case Legacy:
		return "1.0"
	case Python:
		return "1.1"
	}
	return "dialect(" + strconv.Itoa(int(d)) + ")"
}

// FormatTimestamp renders ts as X-Weave-Timestamp and JSON numbers show it:
// PHP printed the shortest form of the float seconds (1795895500.7, and a
// whole second without a dot); Python always prints two decimals.
func (d Dialect) FormatTimestamp(ts store.Timestamp) string {
	return string(d.AppendTimestamp(nil, ts))
}

// AppendTimestamp is FormatTimestamp appending to b.
func (d Dialect) AppendTimestamp(b []byte, ts store.Timestamp) []byte {
	v := int64(ts)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	frac := v % 100
	if d == Python {
		return append(b, '.', byte('0'+frac/10), byte('0'+frac%10))
	}
	switch {
	case frac == 0:
		return b
	case frac%10 == 0:
		return append(b, '.', byte('0'+frac/10))
	default:
		return append(b, '.', byte('0'+frac/10), byte('0'+frac%10))
	}
}

// AppendFloat renders a JSON float: PHP json_encode's shortest form (no
// ".0" on whole values) or Python's repr (always a fraction or exponent).
func (d Dialect) AppendFloat(b []byte, f float64) []byte {
	if d == Python {
		return appendPythonRepr(b, f)
	}
	return appendPHPFloat(b, f)
}

// FormatHeaderFloat renders a float for a header (X-Weave-Quota-Remaining).
// Python put str(float) there, which keeps 12 significant digits.
func (d Dialect) FormatHeaderFloat(f float64) string {
	if d == Python {
		return string(appendPythonStr(nil, f))
	}
	return string(appendPHPFloat(nil, f))
}

// appendEmptyMap writes the JSON of a map without keys: PHP's json_encode
// turns an empty array into a list.
func (d Dialect) appendEmptyMap(b []byte) []byte {
	if d == Legacy {
		return append(b, "[]"...)
	}
	return append(b, "{}"...)
}

// legacyCollectionIDs are the fixed collection ids of the legacy schema.
// Maps are written in this order (then by name), which is the order the
// legacy server's GROUP BY over the collection id produced.
var legacyCollectionIDs = map[string]int{
	"clients": 1, "crypto": 2, "forms": 3, "history": 4, "keys": 5,
	"meta": 6, "bookmarks": 7, "prefs": 8, "tabs": 9, "passwords": 10,
}

// SortCollections orders collection names as the legacy server listed
// them: the fixed collections by id, then custom ones by name.
func SortCollections(names []string) {
	sort.Slice(names, func(i, j int) bool {
		a, aok := legacyCollectionIDs[names[i]]
		c, cok := legacyCollectionIDs[names[j]]
		switch {
		case aok && cok:
			return a < c
		case aok != cok:
			return aok
		}
		return names[i] < names[j]
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	SortCollections(keys)
	return keys
}

// AppendTimestampMap renders info/collections.
func (d Dialect) AppendTimestampMap(b []byte, m map[string]store.Timestamp) []byte {
	return appendMap(d, b, m, func(b []byte, v store.Timestamp) []byte {
		return d.AppendTimestamp(b, v)
	})
}

// AppendCountMap renders info/collection_counts.
func (d Dialect) AppendCountMap(b []byte, m map[string]int64) []byte {
	return appendMap(d, b, m, func(b []byte, v int64) []byte {
		return strconv.AppendInt(b, v, 10)
	})
}

// AppendUsageMap renders info/collection_usage: byte counts as KB floats.
func (d Dialect) AppendUsageMap(b []byte, m map[string]int64) []byte {
	return appendMap(d, b, m, func(b []byte, v int64) []byte {
		return d.AppendFloat(b, float64(v)/1024)
	})
}

func appendMap[V any](d Dialect, b []byte, m map[string]V, val func([]byte, V) []byte) []byte {
	if len(m) == 0 {
		return d.appendEmptyMap(b)
	}
	b = append(b, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = d.AppendString(b, k)
		b = append(b, ':')
		b = val(b, m[k])
	}
	return append(b, '}')
}

// AppendQuota renders info/quota: [used KB as a float, quota KB or null].
func (d Dialect) AppendQuota(b []byte, usedBytes int64, quotaKB float64, on bool) []byte {
	b = append(b, '[')
	b = d.AppendFloat(b, float64(usedBytes)/1024)
	b = append(b, ',')
	switch {
	case !on:
		b = append(b, "null"...)
	case quotaKB == math.Trunc(quotaKB):
		// Configured as a whole number, printed as one (PHP's 5000, PY's 5120).
		b = strconv.AppendInt(b, int64(quotaKB), 10)
	default:
		b = d.AppendFloat(b, quotaKB)
	}
	return append(b, ']')
}

// AppendWBO renders a full WBO with the legacy key order (id, parentid,
// modified, predecessorid, sortindex, payload), leaving out nulls.
func (d Dialect) AppendWBO(b []byte, w *store.WBO) []byte {
	b = append(b, `{"id":`...)
	b = d.AppendString(b, w.ID)
	if w.ParentID != nil {
		b = append(b, `,"parentid":`...)
		b = d.AppendString(b, *w.ParentID)
	}
	if w.Modified != nil {
		b = append(b, `,"modified":`...)
		b = d.AppendTimestamp(b, *w.Modified)
	}
	if w.PredecessorID != nil {
		b = append(b, `,"predecessorid":`...)
		b = d.AppendString(b, *w.PredecessorID)
	}
	if w.SortIndex != nil {
		b = append(b, `,"sortindex":`...)
		b = strconv.AppendInt(b, *w.SortIndex, 10)
	}
	if w.Payload != nil {
		b = append(b, `,"payload":`...)
		b = d.AppendString(b, *w.Payload)
	}
	return append(b, '}')
}

// AppendModified renders the answer of a PUT: the timestamp, or null when
// a metadata-only write created a row without one.
func (d Dialect) AppendModified(b []byte, ts *store.Timestamp) []byte {
	if ts == nil {
		return append(b, "null"...)
	}
	return d.AppendTimestamp(b, *ts)
}

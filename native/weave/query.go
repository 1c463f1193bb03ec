package weave

import (
	"math"
	"math/big"
	"net/url"
	"strconv"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// CollectionQuery is what the query string of a collection GET or DELETE
// asks for. Query.Now is left for the handler to fill.
type CollectionQuery struct {
	store.Query
	// Full asks for whole items instead of ids; any non-empty value of
	// "full" counts, "full=0" included, as in the Python server.
	Full bool
}

// ParseQuery reads the collection parameters with the Python server's
// rules: older/newer are decimals rounded half-even to hundredths, the
// index bounds floats, limit/offset integers (applied only when positive,
// offset only with a limit), sort one of oldest/newest/index (anything else
// ignored), ids a comma list. Unknown parameters are ignored. A value that
// is not a number is a 400 with code 1. When a parameter is repeated, the
// last value counts, as when webob's multidict became a dict.
func ParseQuery(v url.Values) (CollectionQuery, error) {
	var q CollectionQuery
	get := func(name string) (string, bool) {
		vals, ok := v[name]
		if !ok || len(vals) == 0 {
			return "", false
		}
		return vals[len(vals)-1], true
	}
	for _, name := range []string{"older", "newer"} {
		s, ok := get(name)
		if !ok {
			continue
		}
		ts, good := ParseTimestamp(s)
		if !good {
			return q, BadRequest(CodeIllegalMethod, "invalid %s %q", name, s)
		}
		if name == "older" {
			q.Older = &ts
		} else {
			q.Newer = &ts
		}
	}
	for _, name := range []string{"index_above", "index_below"} {
		s, ok := get(name)
		if !ok {
			continue
		}
		f, good := parseDecimalFloat(s)
		if !good {
			return q, BadRequest(CodeIllegalMethod, "invalid %s %q", name, s)
		}
		if name == "index_above" {
			q.IndexAbove = &f
		} else {
			q.IndexBelow = &f
		}
	}
	for _, name := range []string{"limit", "offset"} {
		s, ok := get(name)
		if !ok {
			continue
		}
		n, good := parseInt(s)
		if !good {
			return q, BadRequest(CodeIllegalMethod, "invalid %s %q", name, s)
		}
		if name == "limit" {
			q.Limit = max(n, 0)
		} else {
			q.Offset = max(n, 0)
		}
	}
	if q.Limit == 0 {
		q.Offset = 0
	}
	if s, ok := get("ids"); ok {
		q.IDs = strings.Split(s, ",")
		q.HasIDs = true
	}
	if s, ok := get("parentid"); ok {
		q.ParentID = &s
	}
	if s, ok := get("predecessorid"); ok {
		q.PredecessorID = &s
	}
	if s, _ := get("sort"); s != "" {
		q.Sort = map[string]store.Sort{"oldest": store.SortOldest,
			"newest": store.SortNewest, "index": store.SortIndex}[s]
	}
	s, _ := get("full")
	q.Full = s != ""
	return q, nil
}

// maxTimestamp bounds parsed timestamps so that arithmetic on them (the
// +1 of a strict comparison) never overflows.
const maxTimestamp = store.Timestamp(math.MaxInt64 / 4)

// ParseTimestamp reads a decimal number of seconds (older, newer,
// X-If-Unmodified-Since) as Python's round_time did: exact decimal
// arithmetic, quantized to hundredths with round-half-even. Values beyond
// any real time saturate. It reports false for anything that is not a
// finite decimal number.
func ParseTimestamp(s string) (store.Timestamp, bool) {
	neg, digits, exp, ok := splitDecimal(s)
	if !ok {
		return 0, false
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, true
	}
	// value = digits × 10^exp; hundredths = digits × 10^(exp+2).
	shift := exp + 2
	var ts store.Timestamp
	switch {
	case shift >= 0 && len(digits)+shift > 18:
		ts = maxTimestamp
	case shift >= 0:
		n, _ := strconv.ParseInt(digits+strings.Repeat("0", shift), 10, 64)
		ts = min(store.Timestamp(n), maxTimestamp)
	case -shift > len(digits)+1:
		ts = 0 // below half a hundredth
	default:
		n, _ := new(big.Int).SetString(digits, 10)
		div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-shift)), nil)
		quo, rem := new(big.Int).QuoRem(n, div, new(big.Int))
		switch new(big.Int).Lsh(rem, 1).Cmp(div) {
		case 1:
			quo.Add(quo, big.NewInt(1))
		case 0:
			if quo.Bit(0) == 1 {
				quo.Add(quo, big.NewInt(1))
			}
		}
		if quo.IsInt64() {
			ts = min(store.Timestamp(quo.Int64()), maxTimestamp)
		} else {
			ts = maxTimestamp
		}
	}
	if neg {
		ts = -ts
	}
	return ts, true
}

// splitDecimal parses [+-]digits[.digits][(e|E)[+-]digits] with optional
// surrounding white space, the finite forms Python's Decimal and float
// accept. It returns the significant digits and the power of ten to apply.
func splitDecimal(s string) (neg bool, digits string, exp int, ok bool) {
	s = strings.TrimSpace(s)
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, fracPart, _ := strings.Cut(mant, ".")
	if intPart == "" && fracPart == "" || !allDigits(intPart) || !allDigits(fracPart) {
		return false, "", 0, false
	}
	if hasExp {
		e, good := parseExponent(expPart)
		if !good {
			return false, "", 0, false
		}
		exp = e
	}
	return neg, intPart + fracPart, exp - len(fracPart), true
}

// parseExponent reads an exponent, saturating far beyond any useful range
// so that "1e999999999999" neither fails nor allocates.
func parseExponent(s string) (int, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || !allDigits(s) {
		return 0, false
	}
	s = strings.TrimLeft(s, "0")
	e := 10000
	if len(s) < 5 {
		e, _ = strconv.Atoi("0" + s)
	}
	if neg {
		e = -e
	}
	return e, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseDecimalFloat reads index_above/index_below: a finite decimal, as
// Python's float() reads it (infinities and NaN are refused: a database
// cannot compare with them). Overflow saturates.
func parseDecimalFloat(s string) (float64, bool) {
	if _, _, _, ok := splitDecimal(s); !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	return max(min(f, math.MaxFloat64), -math.MaxFloat64), true
}

// parseInt reads limit/offset as Python's int(): optional white space and
// sign, decimal digits only. Huge values saturate.
func parseInt(s string) (int, bool) {
	s = strings.TrimSpace(s)
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || body == "" || !allDigits(body) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if s[0] == '-' {
			return math.MinInt32, true
		}
		return math.MaxInt32, true
	}
	return int(max(min(n, math.MaxInt32), math.MinInt32)), true
}

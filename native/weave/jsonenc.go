package weave

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString writes s as a JSON string the way both reference servers did
// by default: everything outside ASCII as \uXXXX (UTF-16, surrogate pairs
// for astral characters, lower-case hex), control characters escaped. PHP's
// json_encode also escapes '/' as "\/"; Python's encoder does not. Bytes that
// are not UTF-8 (possible in legacy VARBINARY ids) become U+FFFD, where PHP
// would have failed the whole response. DEL (0x7f) is escaped by Python only.
func (d Dialect) AppendString(b []byte, s string) []byte {
	plain, e1, e2 := d.plainBytes()
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs escaping: payloads are
		// mostly base64, and this loop writes every item of a GET.
		for i+8 <= len(s) {
			if x := load64(s, i); x&msb != 0 || hasLess(x, 0x20) || hasByte(x, '"') || hasByte(x, '\\') ||
				hasByte(x, e1) || hasByte(x, e2) {
				break
			}
			i += 8
		}
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		b = append(b, s[start:i]...)
		if c := s[i]; c < utf8.RuneSelf {
			b = appendASCIIEscape(b, c)
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			b = appendUnicodeEscape(b, r)
			i += size
		}
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainTable marks the bytes d writes as they are in a JSON string: ASCII
// from space up, but for '"' and '\\', '/' (escaped by PHP only) and DEL
// (escaped by Python only).
func plainTable(d Dialect) (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && (c != '/' || d == Python) && (c != 0x7f || d == Legacy)
	}
	return t
}

var (
	plainLegacy = plainTable(Legacy)
	plainPython = plainTable(Python)
	plainOther  = plainTable(0)
)

// plainBytes is d's table, and the one or two ASCII characters it escapes
// besides control characters, '"' and '\\' (for a test of eight bytes at
// once).
func (d Dialect) plainBytes() (t *[256]bool, e1, e2 byte) {
	switch d {
	case Legacy:
		return &plainLegacy, '/', '/'
	case Python:
		return &plainPython, 0x7f, 0x7f
	}
	return &plainOther, '/', 0x7f
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// load64 reads s[i:i+8] as a little-endian word (one load once compiled).
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// hasLess says whether a byte of x is below n (n <= 0x80), hasByte
// whether one equals c: the classic word-at-a-time tests, exact as to
// whether any byte matches.
func hasLess(x uint64, n byte) bool { return (x-lsb*uint64(n))&^x&msb != 0 }
func hasByte(x uint64, c byte) bool { return hasLess(x^(lsb*uint64(c)), 1) }

func appendASCIIEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\', '/':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return appendU(b, rune(c))
}

func appendUnicodeEscape(b []byte, r rune) []byte {
	if r > 0xFFFF {
		r -= 0x10000
		b = appendU(b, 0xD800+(r>>10))
		return appendU(b, 0xDC00+(r&0x3FF))
	}
	return appendU(b, r)
}

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u',
		hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// shortest splits |f| into its shortest round-trip decimal digits and the
// position of the decimal point relative to them (0.0123 → "123", -1).
func shortest(f float64) (digits string, decpt int) {
	s := strconv.FormatFloat(math.Abs(f), 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	e, _ := strconv.Atoi(exp)
	return strings.Replace(mant, ".", "", 1), e + 1
}

// appendFixed lays digits out without an exponent.
func appendFixed(b []byte, digits string, decpt int, wholeSuffix bool) []byte {
	switch {
	case decpt <= 0:
		b = append(b, "0."...)
		b = append(b, strings.Repeat("0", -decpt)...)
		return append(b, digits...)
	case decpt >= len(digits):
		b = append(b, digits...)
		b = append(b, strings.Repeat("0", decpt-len(digits))...)
		if wholeSuffix {
			b = append(b, ".0"...)
		}
		return b
	}
	b = append(b, digits[:decpt]...)
	b = append(b, '.')
	return append(b, digits[decpt:]...)
}

func appendExp(b []byte, digits string, exp int, minExpDigits int, phpMantissa bool) []byte {
	b = append(b, digits[0])
	if len(digits) > 1 {
		b = append(b, '.')
		b = append(b, digits[1:]...)
	} else if phpMantissa {
		b = append(b, ".0"...)
	}
	b = append(b, 'e')
	if exp < 0 {
		b = append(b, '-')
		exp = -exp
	} else {
		b = append(b, '+')
	}
	e := strconv.Itoa(exp)
	for i := len(e); i < minExpDigits; i++ {
		b = append(b, '0')
	}
	return append(b, e...)
}

// appendPHPFloat follows PHP 8's json_encode with serialize_precision -1:
// shortest digits, fixed notation for decimal exponents -4 … 17.
func appendPHPFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, '0') // json_encode would fail; never produced here
	}
	if math.Signbit(f) {
		b = append(b, '-')
	}
	digits, decpt := shortest(f)
	if decpt < -3 || decpt > 17 {
		return appendExp(b, digits, decpt-1, 1, true)
	}
	return appendFixed(b, digits, decpt, false)
}

// appendPythonRepr follows Python's float repr, which simplejson uses.
func appendPythonRepr(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	if math.Signbit(f) {
		b = append(b, '-')
	}
	digits, decpt := shortest(f)
	if decpt < -3 || decpt > 16 {
		return appendExp(b, digits, decpt-1, 2, false)
	}
	return appendFixed(b, digits, decpt, true)
}

// appendPythonStr follows Python 2's str(float): 12 significant digits.
func appendPythonStr(b []byte, f float64) []byte {
	s := strconv.FormatFloat(f, 'g', 12, 64)
	b = append(b, s...)
	if !strings.ContainsAny(s, ".eIN") {
		b = append(b, ".0"...)
	}
	return b
}

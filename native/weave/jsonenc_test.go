package weave

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// referenceString is AppendString one byte at a time, as it was written
// before the eight-byte scan: the scan must change nothing.
func referenceString(d Dialect, s string) string {
	b := []byte{'"'}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (c != '/' || d == Python) && (c != 0x7f || d == Legacy) {
				b = append(b, c)
			} else {
				b = appendASCIIEscape(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = appendUnicodeEscape(b, r)
		i += size
	}
	return string(append(b, '"'))
}

// TestAppendStringEveryPosition puts each character that needs escaping
// (or nearly does) at every offset of a plain base64 text, so that it
// falls in every lane of the eight-byte scan and in the byte-wise tail.
func TestAppendStringEveryPosition(t *testing.T) {
	specials := []string{"\"", "\\", "/", "\x7f", "\x00", "\x1f", " ", "~", "\n", "é", "✓", "😀", "\xff", "\xc3",
		"!", "#", ".", "0", "[", "]", "^", "`", "{", "}", "\x80", "\xbf"}
	base := strings.Repeat("QWxhZGRpbjpvcGVuIHNlc2FtZQ-_", 2)
	for _, d := range []Dialect{Legacy, Python, 0} {
		for _, sp := range specials {
			for n := 0; n <= 24; n++ {
				for at := 0; at <= n; at++ {
					s := base[:at] + sp + base[at:n]
					if got, want := string(d.AppendString(nil, s)), referenceString(d, s); got != want {
						t.Fatalf("%v %q:\n got %s\nwant %s", d, s, got, want)
					}
				}
			}
			// Two in one word, and a run of them.
			for _, s := range []string{base[:5] + sp + base[:1] + sp + base, strings.Repeat(sp, 17) + base[:9]} {
				if got, want := string(d.AppendString(nil, s)), referenceString(d, s); got != want {
					t.Fatalf("%v %q:\n got %s\nwant %s", d, s, got, want)
				}
			}
		}
	}
}

func TestAppendStringAppends(t *testing.T) {
	if got := string(Legacy.AppendString([]byte("x:"), "a/b")); got != `x:"a\/b"` {
		t.Errorf("got %s", got)
	}
}

package cef

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Config says how CEF lines are labelled and where they go.
type Config struct {
	Vendor  string // default "mozilla"
	Product string // default "weave"
	Version string // default "0"
	// File is the path lines are appended to. With neither File nor Syslog
	// configured, Open writes to DefaultFile in the working directory.
	File   string
	Syslog SyslogConfig
	// TrustForwardedFor takes src from the last X-Forwarded-For entry
	// (the address our own reverse proxy saw). Off, the header is ignored:
	// a client can write anything there.
	TrustForwardedFor bool
}

// DefaultFile is where CEF lines go when nothing is configured.
const DefaultFile = "cef.log"

// maxValueLen bounds one extension value, so that a huge User-Agent or
// query string cannot make a line too long for syslog receivers.
const maxValueLen = 2048

// redacted replaces the value of a query parameter that looks secret: the
// line still shows that one was sent, never what it was.
const redacted = "[redacted]"

// withDefaults fills the labels a zero Config leaves empty.
func (c Config) withDefaults() Config {
	if c.Vendor == "" {
		c.Vendor = "mozilla"
	}
	if c.Product == "" {
		c.Product = "weave"
	}
	if c.Version == "" {
		c.Version = "0"
	}
	return c
}

// Format renders ev as one CEF line (without a trailing newline). r
// supplies the fields every line carries; it may be nil for events that do
// not come from a request (an admin unlocking an account), and then only
// rt and suser are carried. Extension keys that look secret are dropped,
// and secret-looking query parameters have their value redacted.
func Format(cfg Config, r *http.Request, ev Event, now time.Time) string {
	cfg = cfg.withDefaults()
	var b strings.Builder
	b.WriteString("CEF:0|")
	for _, h := range []string{cfg.Vendor, cfg.Product, cfg.Version, ev.Signature, ev.Name} {
		b.WriteString(escapeHeader(h))
		b.WriteByte('|')
	}
	b.WriteString(strconv.Itoa(min(max(ev.Severity, 0), 10)))
	b.WriteByte('|')

	user := ev.Username
	if user == "" {
		user = "none"
	}
	ext := [][2]string{{"rt", strconv.FormatInt(now.UnixMilli(), 10)}}
	if r != nil {
		ext = append(ext,
			[2]string{"cs1Label", "requestClientApplication"},
			[2]string{"cs1", r.UserAgent()},
			[2]string{"requestMethod", r.Method},
			[2]string{"request", requestTarget(r)},
			[2]string{"src", ClientAddr(r, cfg.TrustForwardedFor)},
			[2]string{"dest", r.Host},
		)
	}
	ext = append(ext, [2]string{"suser", user})
	seen := make(map[string]bool, len(ext)+len(ev.Extensions))
	for _, kv := range ext {
		seen[kv[0]] = true
	}
	for _, kv := range ev.Extensions {
		k := sanitizeKey(kv[0])
		if k == "" || seen[k] || looksSecret(k) {
			continue
		}
		seen[k] = true
		ext = append(ext, [2]string{k, kv[1]})
	}
	for i, kv := range ext {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(escapeValue(kv[1]))
	}
	return b.String()
}

// escapeHeader escapes a header field. Line breaks and other control
// characters have no escape in a CEF header; they become spaces.
func escapeHeader(s string) string {
	s = clean(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		switch c {
		case '\\', '|':
			b.WriteByte('\\')
			b.WriteRune(c)
		case '\r', '\n':
			b.WriteByte(' ')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// escapeValue escapes an extension value: \ and = with a backslash, line
// breaks as \r and \n, so that a line never breaks.
func escapeValue(s string) string {
	s = clean(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		switch c {
		case '\\', '=':
			b.WriteByte('\\')
			b.WriteRune(c)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// clean makes s valid UTF-8 of bounded length and turns control characters
// other than CR and LF (which the escapers handle) into spaces, so nothing
// in a log line can drive a terminal or confuse a receiver.
func clean(s string) string {
	if len(s) > maxValueLen {
		cut := maxValueLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(c rune) rune {
		if c == '\r' || c == '\n' {
			return c
		}
		if c < 0x20 || (c >= 0x7f && c < 0xa0) {
			return ' '
		}
		return c
	}, s)
}

// sanitizeKey keeps the ASCII letters, digits and underscores of k: CEF
// keys are plain words, and anything else in one would break parsing.
func sanitizeKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// secretWords are substrings of a (lower-cased) key that mark its value as
// something a log must never hold.
var secretWords = []string{"pass", "pwd", "secret", "token", "auth", "key", "code", "captcha", "cookie", "session"}

// looksSecret reports whether a parameter or extension named k may hold a
// credential. It errs on the side of hiding.
func looksSecret(k string) bool {
	k = strings.ToLower(k)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// requestTarget is the path and query of r with secret-looking query
// values redacted. The rest of the query is kept byte for byte.
func requestTarget(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	path := r.URL.EscapedPath()
	if r.URL.RawQuery == "" {
		return path
	}
	parts := strings.Split(r.URL.RawQuery, "&")
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		k := name
		if uk, err := url.QueryUnescape(name); err == nil {
			k = uk
		}
		if hasValue && looksSecret(k) {
			parts[i] = name + "=" + redacted
		}
	}
	return path + "?" + strings.Join(parts, "&")
}

// ClientAddr is the address a request came from: the host part of
// RemoteAddr, or, when trustForwarded is set and the header is present, the
// last X-Forwarded-For entry (appended by our own proxy, so not forgeable
// by the client; earlier entries are).
func ClientAddr(r *http.Request, trustForwarded bool) string {
	if trustForwarded {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if last = strings.TrimSpace(last); last != "" {
				return last
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

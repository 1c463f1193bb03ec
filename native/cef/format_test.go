package cef

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 30, 45, 123_000_000, time.UTC)

func newReq(method, target, ua string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "192.0.2.7:51234"
	r.Host = "sync.example.org"
	if ua != "" {
		r.Header.Set("User-Agent", ua)
	}
	return r
}

func TestFormatFields(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		req    *http.Request
		ev     Event
		header [7]string
		ext    map[string]string
		keys   []string
	}{{
		name:   "defaults and always-carried fields",
		req:    newReq("GET", "/1.0/alice/storage/bookmarks?full=1&newer=12.5", "Firefox/3.6 (Weave 1.0)"),
		ev:     AuthFail("alice", ReasonAuthFailed),
		header: [7]string{"0", "mozilla", "weave", "0", "AuthFail", "User Authentication Failed", "5"},
		keys:   []string{"rt", "cs1Label", "cs1", "requestMethod", "request", "src", "dest", "suser"},
		ext: map[string]string{
			"rt": "1772368245123", "cs1Label": "requestClientApplication", "cs1": "Firefox/3.6 (Weave 1.0)",
			"requestMethod": "GET", "request": "/1.0/alice/storage/bookmarks?full=1&newer=12.5",
			"src": "192.0.2.7", "dest": "sync.example.org", "suser": "alice",
		},
	}, {
		name:   "header escaping of pipe and backslash, line breaks flattened",
		cfg:    Config{Vendor: `moz|illa\`, Product: "we|ave", Version: "1.2\\3"},
		req:    newReq("PUT", "/1.0/bob", ""),
		ev:     Event{Signature: `Sig|X\Y`, Name: "two\nlines\r|end", Severity: 42, Username: ""},
		header: [7]string{"0", `moz|illa\`, "we|ave", `1.2\3`, `Sig|X\Y`, "two lines |end", "10"},
		keys:   []string{"rt", "cs1Label", "cs1", "requestMethod", "request", "src", "dest", "suser"},
		ext: map[string]string{
			"rt": "1772368245123", "cs1Label": "requestClientApplication", "cs1": "",
			"requestMethod": "PUT", "request": "/1.0/bob", "src": "192.0.2.7", "dest": "sync.example.org",
			"suser": "none",
		},
	}, {
		name: "extension escaping of = \\ newlines and pipes, unicode user",
		req:  newReq("POST", "/1.0/j%C3%BCrgen/storage/tabs?a=b%3Dc", "UA=evil\\path\r\nsrc=10.0.0.1 | x"),
		ev: Event{Signature: "CrossUserAccess", Name: "n", Severity: -3, Username: "jürgen-ßø名前",
			Extensions: [][2]string{{"cs2Label", "requestedUser"}, {"cs2", "a=b\\c\nd"}, {"bad name!", "k=v"}}},
		header: [7]string{"0", "mozilla", "weave", "0", "CrossUserAccess", "n", "0"},
		keys:   []string{"rt", "cs1Label", "cs1", "requestMethod", "request", "src", "dest", "suser", "cs2Label", "cs2", "badname"},
		ext: map[string]string{
			"rt": "1772368245123", "cs1Label": "requestClientApplication", "cs1": "UA=evil\\path\r\nsrc=10.0.0.1 | x",
			"requestMethod": "POST", "request": "/1.0/j%C3%BCrgen/storage/tabs?a=b%3Dc", "src": "192.0.2.7",
			"dest": "sync.example.org", "suser": "jürgen-ßø名前", "cs2Label": "requestedUser", "cs2": "a=b\\c\nd",
			"badname": "k=v",
		},
	}, {
		name:   "no request: only rt and suser, duplicates of carried keys dropped",
		ev:     Event{Signature: "AccountUnlocked", Name: "Account unlocked", Severity: 5, Username: "carol", Extensions: [][2]string{{"suser", "mallory"}, {"rt", "0"}, {"msg", "by admin"}}},
		header: [7]string{"0", "mozilla", "weave", "0", "AccountUnlocked", "Account unlocked", "5"},
		keys:   []string{"rt", "suser", "msg"},
		ext:    map[string]string{"rt": "1772368245123", "suser": "carol", "msg": "by admin"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := Format(tt.cfg, tt.req, tt.ev, t0)
			p, err := parseCEF(line)
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			if diff := cmp.Diff(tt.header, p.Header); diff != "" {
				t.Errorf("header (-want +got):\n%s\nline: %s", diff, line)
			}
			if diff := cmp.Diff(tt.keys, p.Keys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ext, p.Ext); diff != "" {
				t.Errorf("extensions (-want +got):\n%s\nline: %s", diff, line)
			}
		})
	}
}

// TestFormatExactBytes pins the escaping itself, independent of the parser.
func TestFormatExactBytes(t *testing.T) {
	r := newReq("GET", "/1.0/u/info/collections", `a=b\c`+"\n")
	ev := Event{Signature: "S|1", Name: `N\2`, Severity: 7, Username: "ü=|"}
	got := Format(Config{Version: "9"}, r, ev, t0)
	want := `CEF:0|mozilla|weave|9|S\|1|N\\2|7|rt=1772368245123 cs1Label=requestClientApplication ` +
		`cs1=a\=b\\c\n requestMethod=GET request=/1.0/u/info/collections src=192.0.2.7 dest=sync.example.org suser=ü\=|`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	r := newReq("GET", "/weave-password-reset?username=dave&key=s3cr3tKey&Password=hunter2&reset%5Fcode=C0DE1&ids=a,b&token", "ua")
	r.Header.Set("Authorization", "Basic ZGF2ZTpodW50ZXIy")
	r.Header.Set("Cookie", "session=abc")
	ev := Event{Signature: "InvalidResetCode", Name: "x", Severity: 5, Username: "dave", Extensions: [][2]string{
		{"password", "hunter2"}, {"resetCode", "C0DE1"}, {"Authorization", "Basic ZGF2ZTpodW50ZXIy"},
		{"submitedtoken", "t0kVal"}, {"apikey", "ap1K3yVal"}, {"outcome", "rejected"},
	}}
	line := Format(Config{}, r, ev, t0)
	for _, secret := range []string{"hunter2", "s3cr3tKey", "C0DE1", "ZGF2ZTpodW50ZXIy", "t0kVal", "ap1K3yVal", "session=abc"} {
		if strings.Contains(line, secret) {
			t.Errorf("line contains secret %q: %s", secret, line)
		}
	}
	p, err := parseCEF(line)
	if err != nil {
		t.Fatal(err)
	}
	wantReq := "/weave-password-reset?username=dave&key=[redacted]&Password=[redacted]&reset%5Fcode=[redacted]&ids=a,b&token"
	if p.Ext["request"] != wantReq {
		t.Errorf("request = %q, want %q", p.Ext["request"], wantReq)
	}
	if p.Ext["outcome"] != "rejected" {
		t.Errorf("harmless extension lost: %v", p.Ext)
	}
	for _, k := range []string{"password", "resetCode", "Authorization", "submitedtoken", "apikey"} {
		if _, ok := p.Ext[k]; ok {
			t.Errorf("secret-looking extension %q kept", k)
		}
	}
}

func TestCleanValues(t *testing.T) {
	// 'a' then 2-byte runes: byte maxValueLen is inside a rune, so the cut
	// must step back to a rune boundary.
	long := "a" + strings.Repeat("é", maxValueLen)
	r := newReq("GET", "/x", long)
	ev := Event{Signature: "S", Name: "n\x00\x1b[31m", Severity: 1, Username: "bad\xffutf8\ttab\x7f"}
	line := Format(Config{}, r, ev, t0)
	p, err := parseCEF(line)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Ext["cs1"]; len(got) > maxValueLen || got != "a"+strings.Repeat("é", maxValueLen/2-1) {
		t.Errorf("long value: %d bytes", len(got))
	}
	if got, want := p.Ext["suser"], "bad\uFFFDutf8 tab "; got != want {
		t.Errorf("suser = %q, want %q", got, want)
	}
	if got, want := p.Header[5], "n  [31m"; got != want {
		t.Errorf("name = %q, want %q", got, want)
	}
}

func TestClientAddr(t *testing.T) {
	tests := []struct {
		remote string
		xff    []string
		trust  bool
		want   string
	}{
		{"192.0.2.1:1234", nil, false, "192.0.2.1"},
		{"[2001:db8::1]:443", nil, false, "2001:db8::1"},
		{"192.0.2.1:1234", []string{"203.0.113.9"}, false, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"1.1.1.1, 203.0.113.9"}, true, "203.0.113.9"},
		{"192.0.2.1:1234", []string{"1.1.1.1", "203.0.113.10 "}, true, "203.0.113.10"},
		{"192.0.2.1:1234", []string{" "}, true, "192.0.2.1"},
		{"@unix", nil, false, "@unix"},
	}
	for _, tt := range tests {
		r := newReq("GET", "/", "")
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientAddr(r, tt.trust); got != tt.want {
			t.Errorf("ClientAddr(%q, %q, %v) = %q, want %q", tt.remote, tt.xff, tt.trust, got, tt.want)
		}
	}
	r := newReq("GET", "/", "")
	r.Header.Set("X-Forwarded-For", "198.51.100.3")
	p, err := parseCEF(Format(Config{TrustForwardedFor: true}, r, AuthFail("", ReasonNoAuthHeader), t0))
	if err != nil || p.Ext["src"] != "198.51.100.3" {
		t.Errorf("trusted src = %q (%v)", p.Ext["src"], err)
	}
}

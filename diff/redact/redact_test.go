package redact

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/redact/redacttest"
)

func TestPairRedactsEverySecret(t *testing.T) {
	for _, p := range redacttest.Pairs(func(m, t string) string { return m + " " + t }) {
		r := Pair(p)
		dump := fmt.Sprintf("%s %v %q %v %q %v %q", r.Request.Path, r.Request.Header, r.Request.Body,
			r.Legacy.Header, r.Legacy.Body, r.Native.Header, r.Native.Body)
		if r.Legacy2 != nil {
			dump += fmt.Sprintf(" %v %q", r.Legacy2.Header, r.Legacy2.Body)
		}
		for _, s := range redacttest.Secrets {
			if strings.Contains(dump, s) {
				t.Errorf("%s %s: secret %q survived: %s", p.Request.Method, p.Request.Path, s, dump)
			}
		}
		if !strings.Contains(dump, Mark) {
			t.Errorf("%s %s: nothing marked: %s", p.Request.Method, p.Request.Path, dump)
		}
	}
}

func TestPairDoesNotTouchTheOriginal(t *testing.T) {
	p := redacttest.Pairs(func(m, t string) string { return m + " " + t })[0]
	before := string(p.Request.Body) + p.Request.Header.Get("Authorization")
	Pair(p)
	if after := string(p.Request.Body) + p.Request.Header.Get("Authorization"); after != before {
		t.Errorf("the caller's pair changed: %q → %q", before, after)
	}
}

func TestStorageDataKept(t *testing.T) {
	body := `{"id": "item1", "payload": "hello", "sortindex": 5}`
	p := diff.Pair{
		Request: diff.Exchange{Method: "PUT", Path: "/1.0/alice/storage/bookmarks/item1",
			Header: http.Header{"Authorization": {redacttest.BasicAuth}, "Content-Type": {"application/json"}},
			Body:   []byte(body)},
		Legacy: diff.Answer{Status: 200, Header: http.Header{"X-Weave-Timestamp": {"1795895500.46"}}, Body: []byte("1795895500.46")},
		Native: diff.Answer{Status: 200, Body: []byte("1795895500.46")},
	}
	r := Pair(p)
	if string(r.Request.Body) != body || string(r.Legacy.Body) != "1795895500.46" {
		t.Errorf("storage bodies must stay byte-exact: %q %q", r.Request.Body, r.Legacy.Body)
	}
	if r.Request.Header.Get("Authorization") != Mark || r.Legacy.Header.Get("X-Weave-Timestamp") != "1795895500.46" {
		t.Errorf("headers: %v %v", r.Request.Header, r.Legacy.Header)
	}
}

func TestTarget(t *testing.T) {
	tests := map[string]string{
		"/1.0/alice/storage/history?ids=a,b&full=1":                                        "/1.0/alice/storage/history?ids=a,b&full=1",
		"/weave-password-reset?username=alice&key=" + redacttest.ResetCode:                 "/weave-password-reset?username=alice&key=[redacted]",
		"/user/1.0/alice/password_reset?captcha-response=" + redacttest.Captcha + "&x=%2F": "/user/1.0/alice/password_reset?captcha-response=[redacted]&x=%2F",
		"/x/" + redacttest.ResetCode:                                                       "/x/" + Mark,
	}
	for in, want := range tests {
		if got := Target(in); got != want {
			t.Errorf("Target(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindings(t *testing.T) {
	fs := Findings([]diff.Finding{
		{Path: "body.password", Legacy: `"` + redacttest.Password + `"`, Native: `"x"`},
		{Path: "body", Legacy: "raw: key " + redacttest.ResetCode, Native: ""},
		{Path: "body.success[0]", Legacy: `"a"`, Native: `"b"`},
		{Path: "header.set-cookie", Legacy: "sid=1", Native: ""},
	})
	if fs[0].Legacy != Mark || fs[0].Native != Mark || strings.Contains(fs[1].Legacy, redacttest.ResetCode) || fs[1].Native != "" {
		t.Errorf("secrets in findings: %+v", fs)
	}
	if fs[3].Legacy != Mark {
		t.Errorf("secret headers in findings: %+v", fs[3])
	}
	if fs[2].Legacy != `"a"` || fs[2].Native != `"b"` {
		t.Errorf("ordinary findings must be kept: %+v", fs[2])
	}
}

// Paths are classified by weaveurl: a trailing slash is the same route, and
// a path outside the grammar is not storage (a server that cleans paths
// could route it to the User API), so its body is not kept.
func TestBodiesByRoute(t *testing.T) {
	const pw = `"correct horse battery"`
	for _, tc := range []struct {
		path string
		kept bool
	}{
		{"/user/1.0/alice/password", false},
		{"/user/1/alice/password/", false},
		{"/1.1/alice/storage/%2e%2e/%2e%2e/%2e%2e/user/1.0/alice/password", false},
		{"/1.1/alice/storage//password", false},
		{"/1.1/alice/storage/password", true},
	} {
		r := Pair(diff.Pair{Request: diff.Exchange{Method: "POST", Path: tc.path,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(pw)}})
		if kept := string(r.Request.Body) == pw; kept != tc.kept {
			t.Errorf("POST %s: body %q, kept %v, want %v", tc.path, r.Request.Body, kept, tc.kept)
		}
	}
}

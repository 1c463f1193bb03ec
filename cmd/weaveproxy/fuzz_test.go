package main

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHandler drives the whole Sync handler of the embedded server (the
// guard, the native storage and User APIs, the pages) with arbitrary
// method, path, headers and body (issue 10). Whatever a stranger sends
// must get an answer, never a panic or a 500.
func FuzzHandler(f *testing.F) {
	for _, seed := range []struct{ method, path, hdr, body string }{
		{"GET", "/1.1/alice/info/collections", "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:correct horse battery")), ""},
		{"PUT", "/user/1.0/alice", "", `{"password":"correct horse battery"}`},
		{"POST", "/1.1/alice/storage/bookmarks", "Content-Type: application/json", `[{"id":"a","payload":"x"}]`},
		{"PUT", "/1.0/alice/storage/tabs/%2e%2e", "X-If-Unmodified-Since: 1e999", `{"payload":"\u0000"}`},
		{"DELETE", "/1.0/alice/storage?ids=a,b,,&older=-1", "Authorization: Basic !!", ""},
		{"POST", "/weave-password-reset", "Content-Type: application/x-www-form-urlencoded", "username=alice&key=x%zz"},
		{"GET", "/1/../user/1/alice/node/weave", "X-Forwarded-For: ::1, garbage", ""},
		{"OPTIONS", "/misc/1.0/captcha_html", "Accept: */*;q=x", ""},
	} {
		f.Add(seed.method, seed.path, seed.hdr, []byte(seed.body))
	}
	a := buildApp(f, "--rate-reads", "-1", "--rate-writes", "-1", "--rate-register", "-1", "--lockout-max-failures", "-1")
	// One real account, so that authenticated paths are reached too.
	put(f, a.handler, "/user/1.0/alice", `{"password":"correct horse battery"}`)
	f.Fuzz(func(t *testing.T, method, path string, hdr string, body []byte) {
		if method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") || len(method) > 16 {
			return // net/http refuses such a request line before any handler
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n#") {
			return
		}
		r, err := http.NewRequest(method, "http://127.0.0.1:8080"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		r.RemoteAddr = "192.0.2.1:1234"
		for _, line := range strings.Split(hdr, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && k != "" && !strings.ContainsAny(k, " \t\r:") {
				r.Header.Add(k, strings.TrimSpace(v))
			}
		}
		w := httptest.NewRecorder()
		a.handler.ServeHTTP(w, r)
		if w.Code == http.StatusInternalServerError || w.Code < 100 || w.Code > 599 {
			t.Fatalf("%s %s (%q, %q): %d %q", method, path, hdr, body, w.Code, w.Body)
		}
	})
}

// Package redacttest provides pairs full of planted secrets, for the tests
// of every package that must prove none of them is ever stored.
package redacttest

import (
	"net/http"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
)

// The planted secrets.
const (
	Password    = "correct horse 1"
	NewPassword = "new password 2"
	ResetCode   = "ABCD-EF12-GH34-IJ56"
	Captcha     = "captcha-answer-xyzzy"
	Secret      = "shared-secret-42"
	BasicAuth   = "Basic ZGFsaWNlcTRiMjk2OmNvcnJlY3QgaG9yc2UgMQ=="
	SessionID   = "session-cookie-77"
)

// Secrets lists every planted secret; BasicAuth's token part stands for
// the password it encodes.
var Secrets = []string{Password, NewPassword, ResetCode, Captcha, Secret,
	"ZGFsaWNlcTRiMjk2OmNvcnJlY3QgaG9yc2UgMQ==", SessionID}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func text(status int, body string) diff.Answer {
	return diff.Answer{Status: status, Header: hdr("Content-Type", "text/html; charset=UTF-8"), Body: []byte(body)}
}

// Pairs returns one pair per way a secret reaches the proxy. Each pair's
// answers differ, so that a store keeps samples of it.
func Pairs(route func(method, target string) string) []diff.Pair {
	at := time.Date(2026, 11, 28, 19, 51, 40, 0, time.UTC)
	mk := func(method, target string, h http.Header, body string, legacy, native diff.Answer) diff.Pair {
		return diff.Pair{Route: route(method, target), At: at,
			Request: diff.Exchange{Method: method, Path: target, Header: h, Body: []byte(body)},
			Legacy:  legacy, Native: native}
	}
	legacy2 := text(200, "1")
	pairs := []diff.Pair{
		mk("PUT", "/user/1.0/alice", hdr("Content-Type", "application/json", "X-Weave-Secret", Secret),
			`{"password": "`+Password+`", "email": "alice@example.com", "captcha-challenge": "c1", "captcha-response": "`+Captcha+`"}`,
			text(200, `"alice"`), text(400, "2")),
		mk("PUT", "/user/1.0/bob", hdr(), `{"password": "`+Password+`", "email": "bob@`,
			text(400, "6"), text(400, "7")),
		mk("POST", "/user/1.0/alice/password", hdr("Authorization", BasicAuth), NewPassword,
			text(200, "1"), text(200, "success")),
		mk("POST", "/user/1.0/alice/password", hdr("X-Weave-Password-Reset", ResetCode), NewPassword,
			text(200, "1"), text(400, "10")),
		mk("GET", "/user/1.0/alice/password_reset?captcha-challenge=c&captcha-response="+Captcha, hdr(), "",
			text(400, "1"), text(200, "success")),
		mk("GET", "/weave-password-reset?username=alice&key="+ResetCode, hdr("Cookie", "sid="+SessionID), "",
			text(200, `<form><input type="hidden" name="key" value="`+ResetCode+`"></form>`),
			text(200, `<form><input name="key" type="hidden" value="`+ResetCode+`"></form>`)),
		mk("POST", "/weave-password-reset", hdr("Content-Type", "application/x-www-form-urlencoded"),
			"username=alice&key="+ResetCode+"&password=x"+Password+"&confirm=x"+Password,
			text(200, "password changed"), text(200, "Password changed")),
		mk("GET", "/1.0/alice/info/collections", hdr("Authorization", BasicAuth), "",
			diff.Answer{Status: 200, Header: hdr("Content-Type", "application/json", "Set-Cookie", "sid="+SessionID), Body: []byte(`[]`)},
			diff.Answer{Status: 200, Header: hdr("Content-Type", "application/json"), Body: []byte(`{}`)}),
	}
	pairs[2].Legacy2 = &legacy2
	return pairs
}

// Package redact removes user secrets from a pair before anything about it
// is stored: credentials and reset codes in headers, passwords and captcha
// answers in User API bodies and query strings, reset codes anywhere
// outside storage data. The store calls it on every write, so a caller
// cannot forget it.
package redact

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
)

// Mark replaces every secret.
const Mark = "[redacted]"

// secretHeaders are request and answer headers whose whole value is a
// secret (user.md §2, §3; security.md §3).
var secretHeaders = map[string]bool{
	"authorization":          true,
	"proxy-authorization":    true,
	"cookie":                 true,
	"set-cookie":             true,
	"x-weave-password-reset": true,
	"x-weave-secret":         true,
}

// secretFields are JSON keys, form fields and query parameters holding
// passwords, reset codes or captcha answers.
var secretFields = map[string]bool{
	"password": true, "new_password": true, "old_password": true, "confirm": true,
	"key": true, "reset": true, "reset_code": true, "code": true, "secret": true, "token": true,
	"captcha-response": true, "captcha-challenge": true,
	"recaptcha_response_field": true, "recaptcha_challenge_field": true,
}

// resetCode is the reset code format: four groups of four A–Z0–9.
var resetCode = regexp.MustCompile(`[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}`)

// Pair returns a copy of p with every secret replaced by Mark.
func Pair(p diff.Pair) diff.Pair {
	c := weaveurl.Classify(p.Request.Method, p.Request.Path)
	// Storage bodies are user data, kept for diagnosis; anything else (the
	// User API, pages, and any path not well formed, which a server that
	// cleans paths could route elsewhere) is scrubbed.
	storage := c.Kind.StorageAPI() && c.Shape != ""
	out := p
	out.Request = diff.Exchange{
		Method: p.Request.Method,
		Path:   Target(p.Request.Path),
		Header: headers(p.Request.Header),
		Body:   requestBody(p.Request, c, storage),
	}
	out.Legacy = answer(p.Legacy, storage)
	out.Native = answer(p.Native, storage)
	if p.Legacy2 != nil {
		l2 := answer(*p.Legacy2, storage)
		out.Legacy2 = &l2
	}
	return out
}

// Findings scrubs the values shown in findings.
func Findings(fs []diff.Finding) []diff.Finding {
	out := make([]diff.Finding, len(fs))
	for i, f := range fs {
		if secretLeaf(f.Path) {
			if f.Legacy != "" {
				f.Legacy = Mark
			}
			if f.Native != "" {
				f.Native = Mark
			}
		}
		f.Legacy, f.Native = Text(f.Legacy), Text(f.Native)
		out[i] = f
	}
	return out
}

// Text scrubs reset codes out of free text.
func Text(s string) string { return resetCode.ReplaceAllString(s, Mark) }

func secretLeaf(p string) bool {
	if name, ok := strings.CutPrefix(p, "header."); ok {
		return secretHeaders[name] || strings.Contains(name, "password") || strings.Contains(name, "secret")
	}
	i := strings.LastIndexAny(p, ".[")
	leaf := strings.Trim(p[i+1:], `"]`)
	return secretFields[strings.ToLower(leaf)]
}

func headers(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		cp := make([]string, len(vs))
		for i, v := range vs {
			if secretHeaders[lk] || strings.Contains(lk, "password") || strings.Contains(lk, "secret") {
				cp[i] = Mark
			} else {
				cp[i] = Text(v)
			}
		}
		out[k] = cp
	}
	return out
}

// Target redacts secret query parameters, keeping every other byte of the
// raw target as it was.
func Target(target string) string {
	p, q, ok := strings.Cut(target, "?")
	p = Text(p)
	if !ok {
		return p
	}
	return p + "?" + query(q)
}

func query(q string) string {
	parts := strings.Split(q, "&")
	for i, part := range parts {
		name, _, hasValue := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil && secretFields[strings.ToLower(n)] && hasValue {
			parts[i] = name + "=" + Mark
		} else {
			parts[i] = Text(part)
		}
	}
	return strings.Join(parts, "&")
}

func requestBody(r diff.Exchange, c weaveurl.Request, storage bool) []byte {
	if len(r.Body) == 0 || storage {
		return cloneBytes(r.Body)
	}
	// POST /user/1.0/<u>/password: the body is the new password. A path
	// outside the grammar (dot or empty segments) might reach that too on a
	// server that cleans paths: keep none of its body either.
	if c.Shape == "" || c.Action == "password" {
		return []byte(Mark)
	}
	out, parsed := body(r.Header.Get("Content-Type"), r.Body)
	if !parsed && c.Action != "email" {
		// A request body we cannot take apart may be a password in any
		// shape (PUT /user/1.0/<u> with broken JSON): keep none of it.
		// Only the e-mail change sends plain text that is not a secret.
		return []byte(Mark)
	}
	return out
}

func answer(a diff.Answer, storage bool) diff.Answer {
	out := diff.Answer{Status: a.Status, Header: headers(a.Header), Body: cloneBytes(a.Body)}
	if !storage {
		out.Body, _ = body(a.Header.Get("Content-Type"), a.Body)
	}
	return out
}

// body redacts a non-storage body: JSON by key, forms by field, and
// reset codes in any text. parsed says whether the body was taken apart
// (JSON or form) rather than scrubbed as text.
func body(contentType string, b []byte) (out []byte, parsed bool) {
	if len(b) == 0 {
		return cloneBytes(b), true
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		return []byte(query(string(b))), true
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			if out, err := json.Marshal(scrubJSON(v)); err == nil {
				return out, true
			}
		}
		// It looks like JSON but is not: it may still hold a password,
		// so none of it is kept.
		return []byte(Mark), true
	}
	if looksLikeForm(b) {
		return []byte(query(string(b))), true
	}
	return []byte(Text(string(b))), false
}

func looksLikeForm(b []byte) bool {
	s := string(b)
	if strings.ContainsAny(s, " \n<>\"") || !strings.Contains(s, "=") {
		return false
	}
	_, err := url.ParseQuery(s)
	return err == nil
}

func scrubJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if secretFields[strings.ToLower(k)] {
				t[k] = Mark
			} else {
				t[k] = scrubJSON(x)
			}
		}
	case []any:
		for i, x := range t {
			t[i] = scrubJSON(x)
		}
	case string:
		return Text(t)
	}
	return v
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

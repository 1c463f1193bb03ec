package userapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

const testToken = "operator-token-0123456789"

// withInternal starts the internal face beside the public one, on the
// same engine, serving eps (nil: all).
func (e *env) internal(eps map[string]bool) *httptest.Server {
	e.t.Helper()
	srv := httptest.NewServer(NewInternal(InternalConfig{Users: e.eng, Token: testToken, Resets: e.cfg.Resets,
		Events: e.events, Endpoints: eps}))
	e.t.Cleanup(srv.Close)
	return srv
}

// op calls the internal face with the operator token (or tok when given).
func (e *env) op(srv *httptest.Server, method, path, body string, tok ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	token := testToken
	if len(tok) > 0 {
		token = tok[0]
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, strings.TrimSpace(string(b)), res.Header}
}

func (e *env) wantAccount(r resp, status int, want map[string]any) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("got %d %s, want %d", r.status, r.body, status)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		e.t.Fatalf("body %q: %v", r.body, err)
	}
	for k, v := range want {
		if got[k] != v {
			e.t.Fatalf("%s = %v in %s, want %v", k, got[k], r.body, v)
		}
	}
	if _, ok := got["md5"]; ok {
		e.t.Fatalf("account answer carries the password hash: %s", r.body)
	}
}

func TestInternalFace(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be, withRegistration(Closed))
		in := e.internal(nil)
		const pw = "operator chosen pw"

		for _, tok := range []string{"", "wrong", testToken + "x"} {
			if r := e.op(in, "GET", "/internal/1.0/users/alice", "", tok); r.status != 401 {
				t.Fatalf("token %q: %d %s, want 401", tok, r.status, r.body)
			}
		}
		// Registration is closed on the public face; operators still create.
		e.want(e.do("PUT", "/user/1.0/alice", `{"password":"`+pw+`"}`), 403, "11")
		e.wantAccount(e.op(in, "POST", "/internal/1.0/users", `{"username":"Alice","password":"`+pw+`","email":"Alice@Example.org","node":"node1.example.org"}`),
			200, map[string]any{"username": "alice", "email": "Alice@Example.org", "node": "node1.example.org", "status": "active"})
		if r := e.op(in, "POST", "/internal/1.0/users", `{"username":"alice","password":"`+pw+`"}`); r.status != 400 || !strings.Contains(r.body, `"code":4`) {
			t.Fatalf("second create: %d %s", r.status, r.body)
		}
		if r := e.op(in, "POST", "/internal/1.0/users", `{"username":"bob","password":"short"}`); r.status != 400 || !strings.Contains(r.body, `"code":9`) {
			t.Fatalf("weak password: %d %s", r.status, r.body)
		}
		for _, body := range []string{`nope`, `{"username":"a b","password":"long enough pw"}`} {
			if r := e.op(in, "POST", "/internal/1.0/users", body); r.status != 400 {
				t.Fatalf("create %s: %d %s", body, r.status, r.body)
			}
		}
		e.want(e.do("GET", "/user/1.0/alice/node/weave", ""), 200, "https://node1.example.org/")
		e.want(e.do("GET", "/user/1.0/alice/email", "", "auth", "alice:"+pw), 200, "Alice@Example.org")

		r := e.op(in, "GET", "/internal/1.0/users?email=alice@example.ORG", "")
		if r.status != 200 || !strings.Contains(r.body, `"username":"alice"`) {
			t.Fatalf("lookup by email: %d %s", r.status, r.body)
		}
		e.want(e.op(in, "GET", "/internal/1.0/users?email=nobody@example.org", ""), 200, "[]")
		if r := e.op(in, "GET", "/internal/1.0/users/nobody", ""); r.status != 404 {
			t.Fatalf("unknown user: %d %s", r.status, r.body)
		}

		e.wantAccount(e.op(in, "PUT", "/internal/1.0/users/alice/alert", `{"alert":"maintenance tonight"}`), 200,
			map[string]any{"alert": "maintenance tonight"})
		if got := e.do("GET", "/user/1.0/alice/email", "", "auth", "alice:"+pw).header.Get("X-Weave-Alert"); got != "maintenance tonight" {
			t.Fatalf("X-Weave-Alert = %q", got)
		}
		if r := e.op(in, "PUT", "/internal/1.0/users/alice/alert", `{"alert":"two\r\nlines"}`); r.status != 400 {
			t.Fatalf("alert with a line break: %d %s", r.status, r.body)
		}
		e.wantAccount(e.op(in, "PUT", "/internal/1.0/users/alice/node", `{"node":"node2.example.org"}`), 200,
			map[string]any{"node": "node2.example.org"})
		e.want(e.do("GET", "/user/1.0/alice/node/weave", ""), 200, "https://node2.example.org/")

		// Disabled: refused everywhere, clearly, to whoever knows the password.
		e.wantAccount(e.op(in, "POST", "/internal/1.0/users/alice/disable", ""), 200, map[string]any{"status": "disabled"})
		disabled := `"Account disabled"`
		e.want(e.do("GET", "/user/1.0/alice/email", "", "auth", "alice:"+pw), 403, disabled)
		e.want(e.do("POST", "/user/1.0/alice/password", "a new long password", "auth", "alice:"+pw), 403, disabled)
		e.want(e.do("GET", "/user/1.0/alice/password_reset", ""), 403, disabled)
		e.want(e.do("POST", "/user/1.0/alice/password", "a new long password", "X-Weave-Password-Reset", "ABCD-EFGH-IJKL-MNOP"), 403, disabled)
		e.want(e.do("GET", "/user/1.0/alice/node/weave", ""), 403, disabled)
		e.want(e.do("GET", "/user/1.0/alice/email", "", "auth", "alice:wrong password"), 401, `"Authentication failed"`)
		e.want(e.do("GET", "/user/1.0/alice", ""), 200, "1")
		e.wantAccount(e.op(in, "POST", "/internal/1.0/users/alice/enable", ""), 200, map[string]any{"status": "active"})
		e.want(e.do("GET", "/user/1.0/alice/email", "", "auth", "alice:"+pw), 200, "Alice@Example.org")

		// A forced reset locks the old password out and mails a code.
		r = e.op(in, "POST", "/internal/1.0/users/alice/force-reset", "")
		if r.status != 200 || r.body != `{"mailed":true,"reset":true}` {
			t.Fatalf("force-reset: %d %s", r.status, r.body)
		}
		e.want(e.do("GET", "/user/1.0/alice/email", "", "auth", "alice:"+pw), 401, `"Authentication failed"`)
		if m := e.nextMail(); !strings.EqualFold(m.To[0], "Alice@Example.org") {
			t.Fatalf("reset mail to %v", m.To)
		}
		if !e.events.Has("PasswordResetForced", 9) || !e.events.Has("AccountDisabled", 7) {
			t.Fatalf("CEF events: %v", e.events.Signatures())
		}

		e.want(e.op(in, "DELETE", "/internal/1.0/users/alice", ""), 200, `{"deleted":true}`)
		e.want(e.do("GET", "/user/1.0/alice", ""), 200, "0")
		if r := e.op(in, "DELETE", "/internal/1.0/users/alice", ""); r.status != 404 {
			t.Fatalf("second delete: %d %s", r.status, r.body)
		}
		if r := e.op(in, "PATCH", "/internal/1.0/users/alice", ""); r.status != 404 {
			t.Fatalf("unknown route: %d %s", r.status, r.body)
		}
	})
}

func TestFacesServeTheirEndpoints(t *testing.T) {
	e := newEnv(t, storetest.SQLite(), withRegistration(Open))
	// The public face keeps only what clients need; the rest is internal.
	pub := httptest.NewServer(New(Config{Users: e.eng, Auth: e.cfg.Auth, Registration: Open,
		Endpoints: map[string]bool{EpExists: true, EpNode: true, EpPassword: true}}))
	t.Cleanup(pub.Close)
	e.srv = pub
	e.want(e.do("PUT", "/user/1.0/carol", `{"password":"a long password"}`), 403, "11")
	e.want(e.do("DELETE", "/user/1.0/carol", ""), 403, "11")
	e.want(e.do("GET", "/user/1.0/carol", ""), 200, "0")

	in := e.internal(map[string]bool{InLookup: true})
	if r := e.op(in, "POST", "/internal/1.0/users", `{"username":"carol","password":"a long password"}`); r.status != 403 {
		t.Fatalf("create on a lookup-only face: %d %s", r.status, r.body)
	}
	if r := e.op(in, "GET", "/internal/1.0/users/carol", ""); r.status != 404 {
		t.Fatalf("lookup: %d %s", r.status, r.body)
	}
}

package userapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func TestRegistrationModes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		body := `{"password":"correct horse 1"}`
		closed := newEnv(t, be, withRegistration(Closed))
		closed.want(closed.do("PUT", "/user/1.0/alice", body), 403, "11")
		closed.want(closed.do("GET", "/user/1.0/alice", ""), 200, "0")

		secret := newEnv(t, be, withRegistration(Secret("let me in")))
		secret.want(secret.do("PUT", "/user/1.0/alice", body), 403, "11")
		secret.want(secret.do("PUT", "/user/1.0/alice", body, "X-Weave-Secret", "let me"), 403, "11")
		secret.want(secret.do("PUT", "/user/1.0/alice", body, "X-Weave-Secret", "let me in"), 200, "alice")

		open := newEnv(t, be)
		open.want(open.do("PUT", "/user/1.0/alice", body), 200, "alice")
	})
}

func TestCaptcha(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		off := newEnv(t, be)
		off.want(off.do("GET", "/misc/1.0/captcha_html", ""), 404, `"Not found"`)
		off.want(off.do("PUT", "/user/1.0/alice", `{"password":"correct horse 1"}`), 200, "alice")

		on := newEnv(t, be, withCaptcha(), withRegistration(Registration{Mode: RegOpen, Secret: "bypass"}))
		on.cap.Accept("", "good-token")
		r := on.do("GET", "/misc/1.0/captcha_html", "")
		if r.status != 200 || !strings.Contains(r.body, `data-sitekey="site-key"`) || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("captcha_html: %d %q %v", r.status, r.body, r.header)
		}
		on.want(on.do("POST", "/misc/1.0/captcha_html", ""), 200, r.body)
		on.want(on.do("PUT", "/user/1.0/alice", `{"password":"correct horse 1"}`), 400, "2")
		on.want(on.do("PUT", "/user/1.0/alice", `{"password":"correct horse 1","captcha-challenge":"x","captcha-response":"bad"}`), 400, "2")
		if !on.events.Has("CaptchaFail", 5) {
			t.Error("no CaptchaFail event")
		}
		on.want(on.do("PUT", "/user/1.0/alice", `{"password":"correct horse 1","captcha-challenge":"x","captcha-response":"good-token"}`), 200, "alice")
		on.want(on.do("PUT", "/user/1.0/bob", `{"password":"correct horse 1"}`, "X-Weave-Secret", "bypass"), 200, "bob")
		if got := on.cap.Requests(); len(got) != 2 || got[1].RemoteIP != "127.0.0.1" {
			t.Errorf("verifier saw %+v", got)
		}
		// The reset request needs the captcha too, as query parameters.
		on.want(on.do("GET", "/user/1.0/alice/password_reset", ""), 400, "2")
		on.cap.Break(true)
		on.want(on.do("PUT", "/user/1.0/carol", `{"password":"correct horse 1","captcha-response":"good-token"}`), 503, `"Captcha service unavailable"`)
	})
}

func TestCrossUserRefusedEverywhere(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.create("alice", "correct horse 1", "alice@example.com")
		e.create("bob", "battery staple", "bob@example.com")
		bob := []string{"auth", "bob:battery staple"}
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/user/1.0/alice/email", ""},
			{"POST", "/user/1.0/alice/email", "evil@example.com"},
			{"POST", "/user/1.0/alice/password", "taken over now"},
			{"DELETE", "/user/1.0/alice/password_reset", ""},
			{"DELETE", "/user/1.0/alice", ""},
		} {
			e.want(e.do(c.method, c.path, c.body, bob...), 401, "5")
		}
		e.want(e.do("GET", "/user/1.0/alice/email", "", "auth", "alice:correct horse 1"), 200, "alice@example.com")
		e.want(e.do("GET", "/user/1.0/alice/email", "", "auth", "nobody:correct horse 1"), 401, "5")
		if !e.events.Has("AuthFail", 7) {
			t.Error("no AuthFail sev 7 for a mismatch with bad credentials")
		}
	})
}

func TestUnicodeNamesAndAddresses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		email := "Jösé@Bücher.example"
		name, err := auth.DeriveUsername(email)
		if err != nil {
			t.Fatal(err)
		}
		pw := "пароль ✓ 密码"
		e.want(e.do("PUT", "/user/1.0/"+name, `{"password":"`+pw+`","email":"`+email+`"}`), 200, name)
		// Firefox's form of the name (no IDN step) is accepted for the e-mail check too.
		client := auth.ClientDerivedUsername("zoë@例え.jp")
		e.want(e.do("PUT", "/user/1.0/"+client, `{"password":"`+pw+`","email":"zoë@例え.jp"}`), 200, client)
		// The e-mail address works as the Basic user name.
		e.want(e.do("GET", "/user/1.0/"+name+"/email", "", "auth", email+":"+pw), 200, email)
		e.want(e.do("GET", "/user/1.0/"+strings.ToUpper(name)+"/email", "", "auth", name+":"+pw), 200, email)
		// Unicode in a name that is not an address is no name.
		e.want(e.do("GET", "/user/1.0/jösé", ""), 400, "3")
	})
}

func TestRouting(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.create("alice", "correct horse 1", "alice@example.com")
		e.want(e.do("GET", "/user/1.0/alice/frobnicate", ""), 400, "1") // REC user.unknown-action
		e.want(e.do("POST", "/user/1.0/alice", ""), 400, "1")
		e.want(e.do("PUT", "/user/1.0/alice/email", "x"), 400, "1")
		// PHP deleted the account here; a wrong path must not.
		e.want(e.do("DELETE", "/user/1.0/alice/frob", "", "auth", "alice:correct horse 1"), 400, "1")
		e.want(e.do("GET", "/user/1.0/alice", ""), 200, "1")
		e.want(e.do("GET", "/user/1.0/alice/email/extra", ""), 404, `"Not found"`)
		e.want(e.do("GET", "/user/1.0/", ""), 400, "3")
		e.want(e.do("GET", "/user/2.0/alice", ""), 404, `"Not found"`)
		if r := e.do("HEAD", "/user/1.0/alice", ""); r.status != 400 {
			t.Errorf("HEAD: %d", r.status)
		}
	})
}

// lockedAuth is an Authenticator, the interface the handler is built on,
// that reports a locked account, to check how the lockout renders.
type lockedAuth struct{}

func (lockedAuth) Authenticate(*http.Request, string) (store.User, error) {
	return store.User{}, &auth.LockedError{RetryAfter: 90*time.Second + time.Millisecond}
}

func TestLockedAccountRendering(t *testing.T) {
	e := newEnv(t, storetest.SQLite())
	h := New(Config{Users: e.eng, Auth: lockedAuth{}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/user/1.0/alice/email", nil))
	if rec.Code != 401 || rec.Body.String() != `"Account locked"` || rec.Header().Get("Retry-After") != "91" {
		t.Fatalf("got %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
}

func TestBackendFailureIs503(t *testing.T) {
	e := newEnv(t, storetest.SQLite())
	e.eng.Close()
	e.want(e.do("GET", "/user/1.0/alice", ""), 503, `"Database unavailable"`)
}

package resetpages

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/captcha"
	"github.com/weaveproxy/weaveproxy/native/captcha/captchatest"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func contains(t *testing.T, p result, status int, want ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d\n%s", p.status, status, p.body)
	}
	for _, w := range want {
		if !strings.Contains(p.body, w) && !strings.Contains(p.body, html.EscapeString(w)) {
			t.Fatalf("page lacks %q:\n%s", w, p.body)
		}
	}
}

func TestResetFlow(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			e := newEnv(t, be)
			e.user("alice", "correct horse 1", "alice@example.com")
			contains(t, e.get(ResetPath), 200, `id="forgot"`, `name="username"`)
			key, link := e.requestKey("alice")
			u, _ := url.Parse(link)
			if u.Query().Get("username") != "alice" || u.Query().Get("key") != key {
				t.Fatalf("link %s", link)
			}
			form := e.get(strings.TrimPrefix(link, e.srv.URL))
			contains(t, form, 200, `id="reset"`, `value="`+key+`"`, `name="confirm"`)
			p := e.post(ResetPath, url.Values{"username": {"alice"}, "key": {key},
				"password": {"brand new pass"}, "confirm": {"brand new pass"}})
			contains(t, p, 200, msgChanged)
			if !e.passwordIs("alice", "brand new pass") {
				t.Fatal("password not changed in the engine")
			}
			// The key is spent.
			p = e.post(ResetPath, url.Values{"username": {"alice"}, "key": {key},
				"password": {"other new pass"}, "confirm": {"other new pass"}})
			contains(t, p, 400, msgBadKey)
			if !e.events.Has("PasswordResetCompleted", 9) || !e.events.Has("InvalidResetCode", 5) {
				t.Error("missing reset events")
			}
		})
	}
}

func TestResetFormFailures(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			e := newEnv(t, be)
			e.user("alice", "correct horse 1", "alice@example.com")
			key, _ := e.requestKey("alice")
			form := func(user, pw, confirm, k string) url.Values {
				return url.Values{"username": {user}, "key": {k}, "password": {pw}, "confirm": {confirm}}
			}
			tests := []struct {
				name string
				form url.Values
				msg  string
			}{
				{"no username", form("", "brand new pass", "brand new pass", key), msgNoUsername},
				{"unknown account", form("nobody", "brand new pass", "brand new pass", key), msgNoAccount},
				{"invalid name", form("no body!", "brand new pass", "brand new pass", key), msgNoAccount},
				{"no password", form("alice", "", "", key), msgNoPassword},
				{"mismatch", form("alice", "brand new pass", "brand new pasz", key), msgMismatch},
				{"too short", form("alice", "short", "short", key), msgWeak},
				{"same as name", form("alice", "ALICE", "ALICE", key), msgWeak},
				{"wrong key", form("alice", "brand new pass", "brand new pass", "AAAA-AAAA-AAAA-AAAA"), msgBadKey},
				{"malformed key", form("alice", "brand new pass", "brand new pass", "aaaa"), msgBadKey},
				{"empty key", form("alice", "brand new pass", "brand new pass", ""), msgBadKey},
			}
			for _, tt := range tests {
				p := e.post(ResetPath, tt.form)
				if p.status != 400 || !strings.Contains(p.body, html.EscapeString(tt.msg)) || !strings.Contains(p.body, `id="reset"`) {
					t.Errorf("%s: %d, want the form again with %q:\n%s", tt.name, p.status, tt.msg, p.body)
				}
			}
			if !e.passwordIs("alice", "correct horse 1") {
				t.Fatal("a failed attempt changed the password")
			}
			// The live key still works after all that.
			contains(t, e.post(ResetPath, form("ALICE", "brand new pass", "brand new pass", key)), 200, msgChanged)
		})
	}
}

func TestForgotFormFailures(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			e := newEnv(t, be)
			e.user("alice", "correct horse 1", "alice@example.com")
			e.user("nomail", "correct horse 1", "")
			contains(t, e.post(ResetPath, url.Values{"username": {""}}), 400, msgNoUsername, `id="forgot"`)
			contains(t, e.post(ResetPath, url.Values{"username": {"nobody"}}), 400, msgNoAccount, `id="forgot"`)
			contains(t, e.post(ResetPath, url.Values{"username": {"nomail"}}), 400, msgNoEmail)
			e.mail.Refuse(true)
			contains(t, e.post(ResetPath, url.Values{"username": {"alice"}}), 503, msgUnavailable)
			e.mail.Refuse(false)
			e.requestKey("alice")
			// Asking again while the key lives: same page, no second mail.
			contains(t, e.post(ResetPath, url.Values{"username": {"alice"}}), 200, msgKeySent)
			if _, ok := e.mail.Next(300 * time.Millisecond); ok {
				t.Fatal("a second mail went out")
			}

			off := newEnv(t, be, func(c *Config) { c.Resets = nil })
			contains(t, off.post(ResetPath, url.Values{"username": {"alice"}}), 503, msgUnavailable)
		})
	}
}

func TestForgotFormAcceptsEmail(t *testing.T) {
	e := newEnv(t, storetest.SQLite())
	name, _ := auth.DeriveUsername("Zoë@Bücher.example")
	e.user(name, "correct horse 1", "zoë@bücher.example")
	key, link := e.requestKey("Zoë@Bücher.example")
	if !strings.Contains(link, "username="+name) {
		t.Fatalf("link %s does not carry the derived name", link)
	}
	// The reset form may also be given the address.
	p := e.post(ResetPath, url.Values{"username": {"zoë@bücher.example"}, "key": {key},
		"password": {"ünïcödé pass"}, "confirm": {"ünïcödé pass"}})
	contains(t, p, 200, msgChanged)
	if !e.passwordIs(name, "ünïcödé pass") {
		t.Fatal("password not changed")
	}
}

func TestForgotFormCaptcha(t *testing.T) {
	srv := captchatest.Start(t, "priv")
	srv.Accept("", "human")
	v, err := captcha.New(captcha.Config{VerifyURL: srv.URL, PublicKey: "site", PrivateKey: "priv"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, storetest.SQLite(), func(c *Config) { c.Captcha = v })
	e.user("alice", "correct horse 1", "alice@example.com")
	p := e.get(ResetPath)
	contains(t, p, 200, `data-sitekey="site"`)
	if !strings.Contains(p.header.Get("Content-Security-Policy"), "script-src https:") {
		t.Errorf("CSP %q blocks the widget", p.header.Get("Content-Security-Policy"))
	}
	contains(t, e.post(ResetPath, url.Values{"username": {"alice"}}), 400, msgCaptcha)
	contains(t, e.post(ResetPath, url.Values{"username": {"alice"}, "g-recaptcha-response": {"robot"}}), 400, msgCaptcha)
	if !e.events.Has("CaptchaFail", 5) {
		t.Error("no CaptchaFail event")
	}
	contains(t, e.post(ResetPath, url.Values{"username": {"alice"}, "g-recaptcha-response": {"human"}}), 200, msgKeySent)
}

func TestDeleteAccountPage(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			e := newEnv(t, be)
			alice := e.user("alice", "correct horse 1", "alice@example.com")
			e.user("bob", "battery staple", "")
			ctx := context.Background()
			payload := "x"
			if _, err := e.eng.PutItems(ctx, alice.ID, "bookmarks", []store.WBO{{ID: "a", Payload: &payload}}); err != nil {
				t.Fatal(err)
			}
			contains(t, e.get(DeletePath), 200, `id="delete"`, `type="checkbox"`)
			yes := func(user, pw string) url.Values {
				return url.Values{"username": {user}, "password": {pw}, "confirm": {"yes"}}
			}
			contains(t, e.post(DeletePath, url.Values{"username": {""}, "password": {"x"}, "confirm": {"yes"}}), 400, msgNoUsername)
			contains(t, e.post(DeletePath, url.Values{"username": {"alice"}, "password": {"correct horse 1"}}), 400, msgConfirmDelete)
			contains(t, e.post(DeletePath, yes("alice", "wrong")), 401, msgBadLogin)
			contains(t, e.post(DeletePath, yes("nobody", "correct horse 1")), 401, msgBadLogin)
			contains(t, e.post(DeletePath, yes("bad name!", "correct horse 1")), 401, msgBadLogin)
			if !e.events.Has("AuthFail", 5) {
				t.Error("no AuthFail event for the wrong password")
			}
			if _, err := e.eng.UserByName(ctx, "alice"); err != nil {
				t.Fatal("a failed attempt deleted the account")
			}
			contains(t, e.post(DeletePath, yes("ALICE", "correct horse 1")), 200, msgDeleted)
			if _, err := e.eng.UserByName(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("account still there: %v", err)
			}
			items, err := e.eng.GetItems(ctx, alice.ID, "bookmarks", store.Query{})
			if err != nil || len(items) != 0 {
				t.Fatalf("storage left behind: %v %v", items, err)
			}
			if !e.events.Has("AccountDeleted", 9) {
				t.Error("no AccountDeleted event")
			}
			if _, err := e.eng.UserByName(ctx, "bob"); err != nil {
				t.Fatal("another account went too")
			}
		})
	}
}

// lockedAuth is an auth.Authenticator, the interface the page is built
// on, that reports a locked account.
type lockedAuth struct{}

func (lockedAuth) Authenticate(*http.Request, string) (store.User, error) {
	return store.User{}, &auth.LockedError{RetryAfter: time.Minute}
}

func TestDeletePageLockout(t *testing.T) {
	e := newEnv(t, storetest.SQLite(), func(c *Config) { c.Auth = lockedAuth{} })
	e.user("alice", "correct horse 1", "")
	p := e.post(DeletePath, url.Values{"username": {"alice"}, "password": {"correct horse 1"}, "confirm": {"yes"}})
	if p.status != 429 || p.header.Get("Retry-After") != "60" {
		t.Fatalf("locked: %d %v", p.status, p.header)
	}
	if _, err := e.eng.UserByName(context.Background(), "alice"); err != nil {
		t.Fatal("a locked account was deleted")
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t, storetest.SQLite())
	e.user("alice", "correct horse 1", "alice@example.com")
	form := url.Values{"username": {"alice"}, "password": {"correct horse 1"}, "confirm": {"yes"}}
	contains(t, e.post(DeletePath, form, "Origin", "https://evil.example"), 403, msgForbidden)
	contains(t, e.post(DeletePath, form, "Sec-Fetch-Site", "cross-site"), 403, msgForbidden)
	contains(t, e.post(ResetPath, url.Values{"username": {"alice"}}, "Origin", "https://evil.example"), 403, msgForbidden)
	if e.mail.Pending() != 0 {
		t.Fatal("a cross-origin POST sent mail")
	}
	if _, err := e.eng.UserByName(context.Background(), "alice"); err != nil {
		t.Fatal("a cross-origin POST deleted the account")
	}
	// Trusted origins pass.
	tr := newEnv(t, storetest.SQLite(), func(c *Config) { c.TrustedOrigins = []string{"https://accounts.example.org"} })
	tr.user("bob", "battery staple", "")
	contains(t, tr.post(DeletePath, url.Values{"username": {"bob"}, "password": {"battery staple"}, "confirm": {"yes"}},
		"Origin", "https://accounts.example.org"), 200, msgDeleted)
	if _, err := New(Config{TrustedOrigins: []string{"not a url"}}); err == nil {
		t.Error("invalid trusted origin accepted")
	}
}

func TestPageHeadersAndEscaping(t *testing.T) {
	e := newEnv(t, storetest.SQLite())
	p := e.get(ResetPath + "?username=%3Cscript%3Ealert(1)%3C/script%3E&key=%22%3E%3Cb%3E")
	if p.status != 200 || strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, `"><b>`) {
		t.Fatalf("unescaped input:\n%s", p.body)
	}
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
		"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff",
	} {
		if got := p.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	if got := e.send("PUT", ResetPath, nil, nil); got.status != 405 {
		t.Errorf("PUT: %d", got.status)
	}
	if got := e.get("/weave-something-else"); got.status != 404 {
		t.Errorf("unknown path: %d", got.status)
	}
}

package userapi

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

var keyRE = regexp.MustCompile(`[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}`)

func TestPasswordResetFlow(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.create("alice", "correct horse 1", "alice@example.com")
		e.want(e.do("GET", "/user/1.0/alice/password_reset", ""), 200, "success")
		m := e.nextMail()
		if m.Subject != auth.ResetSubject || len(m.To) != 1 || m.To[0] != "alice@example.com" {
			t.Fatalf("mail %q to %v", m.Subject, m.To)
		}
		code := keyRE.FindString(m.Body)
		link := "https://sync.example.org/weave-password-reset?username=alice&key=" + code
		if code == "" || !strings.Contains(m.Body, link) {
			t.Fatalf("mail body lacks code or link %q:\n%s", link, m.Body)
		}
		// A second request while the code lives sends nothing.
		e.want(e.do("GET", "/user/1.0/alice/password_reset", ""), 200, "success")
		if _, ok := e.mail.Next(300 * time.Millisecond); ok {
			t.Fatal("second request sent another mail")
		}
		// The stored value is not the code itself.
		rc, err := e.eng.GetResetCode(context.Background(), mustUser(t, e, "alice").ID)
		if err != nil || rc.Code == code || time.Until(rc.Expires) < 5*time.Hour {
			t.Fatalf("stored reset code %+v, %v", rc, err)
		}
		wrong := "AAAA-BBBB-CCCC-DDDD"
		if wrong == code {
			wrong = "AAAA-BBBB-CCCC-DDDE"
		}
		e.want(e.do("POST", "/user/1.0/alice/password", "brand new pass", "X-Weave-Password-Reset", wrong), 400, "10")
		e.want(e.do("POST", "/user/1.0/alice/password", "brand new pass", "X-Weave-Password-Reset", "not-a-code"), 400, "10")
		if !e.events.Has("InvalidResetCode", 5) {
			t.Error("no InvalidResetCode event")
		}
		for _, ev := range e.events.Events() {
			for _, x := range ev.Extensions {
				if strings.Contains(x[1], code) || strings.Contains(x[1], wrong) {
					t.Errorf("event %s carries a reset code", ev.Signature)
				}
			}
		}
		e.want(e.do("POST", "/user/1.0/alice/password", "short", "X-Weave-Password-Reset", code), 400, "9")
		e.want(e.do("POST", "/user/1.0/alice/password", "brand new pass", "X-Weave-Password-Reset", code), 200, "success")
		e.want(e.do("GET", "/user/1.0/alice/email", "", "auth", "alice:brand new pass"), 200, "alice@example.com")
		// Used once, gone.
		e.want(e.do("POST", "/user/1.0/alice/password", "another pass 4", "X-Weave-Password-Reset", code), 400, "10")
		if !e.events.Has("PasswordResetCompleted", 9) || !e.events.Has("PasswordResetRequested", 5) {
			t.Errorf("events %+v", e.events.Events())
		}
	})
}

func mustUser(t *testing.T, e *env, name string) store.User {
	t.Helper()
	u, err := e.eng.UserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPasswordResetFailures(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.create("alice", "correct horse 1", "alice@example.com")
		e.create("nomail", "correct horse 1", "")
		e.want(e.do("GET", "/user/1.0/nobody/password_reset", ""), 400, "3")
		e.want(e.do("GET", "/user/1.0/nomail/password_reset", ""), 400, "12")
		e.mail.Refuse(true)
		e.want(e.do("GET", "/user/1.0/alice/password_reset", ""), 503, `"Mail delivery failed"`)
		e.mail.Refuse(false)
		// The failed delivery left no live code behind: the retry sends.
		e.want(e.do("GET", "/user/1.0/alice/password_reset", ""), 200, "success")
		e.nextMail()

		off := newEnv(t, be, withoutMailer())
		off.create("alice", "correct horse 1", "alice@example.com")
		off.want(off.do("GET", "/user/1.0/alice/password_reset", ""), 503, `"Password reset unavailable"`)
		off.want(off.do("POST", "/user/1.0/alice/password", "brand new pass", "X-Weave-Password-Reset", "AAAA-BBBB-CCCC-DDDD"), 400, "10")
		// The user is checked before the mail service: an unknown name
		// is 400 3 even where nothing could be mailed.
		off.want(off.do("GET", "/user/1.0/nobody/password_reset", ""), 400, "3")
		off.want(off.do("POST", "/user/1.0/nobody/password", "brand new pass", "X-Weave-Password-Reset", "AAAA-BBBB-CCCC-DDDD"), 404, `"Not found"`)
	})
}

// A reset code for a user that does not exist is 404 (PY), not the 400 10
// of a wrong code, and changes nothing.
func TestPasswordResetUnknownUser(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.create("alice", "correct horse 1", "alice@example.com")
		e.want(e.do("GET", "/user/1.0/alice/password_reset", ""), 200, "success")
		code := keyRE.FindString(e.nextMail().Body)
		e.want(e.do("POST", "/user/1.0/nobody/password", "brand new pass", "X-Weave-Password-Reset", code), 404, `"Not found"`)
		e.want(e.do("POST", "/user/1.0/nobody/password", "brand new pass", "X-Weave-Password-Reset", "not-a-code"), 404, `"Not found"`)
		if !e.events.Has("InvalidResetCode", 5) {
			t.Error("no InvalidResetCode event for a code sent for an unknown user")
		}
		// Alice's code still works: the stray attempts did not spend it.
		e.want(e.do("POST", "/user/1.0/alice/password", "brand new pass", "X-Weave-Password-Reset", code), 200, "success")
	})
}

func TestPasswordResetClear(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.create("alice", "correct horse 1", "alice@example.com")
		e.want(e.do("GET", "/user/1.0/alice/password_reset", ""), 200, "success")
		code := keyRE.FindString(e.nextMail().Body)
		e.want(e.do("DELETE", "/user/1.0/alice/password_reset", ""), 401, `"Authentication failed"`)
		e.want(e.do("DELETE", "/user/1.0/alice/password_reset", "", "auth", "alice:correct horse 1"), 200, "success")
		if !e.events.Has("PasswordResetCleared", 9) {
			t.Error("no PasswordResetCleared event")
		}
		e.want(e.do("POST", "/user/1.0/alice/password", "brand new pass", "X-Weave-Password-Reset", code), 400, "10")
		// Cleared, so a new request mails a new code.
		e.want(e.do("GET", "/user/1.0/alice/password_reset", ""), 200, "success")
		if c2 := keyRE.FindString(e.nextMail().Body); c2 == "" || c2 == code {
			t.Errorf("new code %q after clear (old %q)", c2, code)
		}
	})
}

func TestPasswordChangeVoidsResetCode(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.create("alice", "correct horse 1", "alice@example.com")
		e.want(e.do("GET", "/user/1.0/alice/password_reset", ""), 200, "success")
		code := keyRE.FindString(e.nextMail().Body)
		e.want(e.do("POST", "/user/1.0/alice/password", "changed by me", "auth", "alice:correct horse 1"), 200, "success")
		e.want(e.do("POST", "/user/1.0/alice/password", "changed by thief", "X-Weave-Password-Reset", code), 400, "10")
	})
}

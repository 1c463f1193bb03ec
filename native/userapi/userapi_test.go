package userapi

import (
	"context"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// The Test* functions named after Mozilla's test_user.py reproduce those
// behaviours (shared/spec/user.md §4) on every engine.

func TestUserExists(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.want(e.do("GET", "/user/1.0/alice", ""), 200, "0")
		e.create("alice", "correct horse 1", "alice@example.com")
		e.want(e.do("GET", "/user/1.0/alice", ""), 200, "1")
		e.want(e.do("GET", "/user/1.0/ALICE", ""), 200, "1")
		e.want(e.do("GET", "/user/1/alice", ""), 200, "1")
		if ct := e.do("GET", "/user/1.0/alice", "").header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
	})
}

func TestCreateUser(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		derived, _ := auth.DeriveUsername("tarek@ziade.org")
		e.create(derived, "x"+strings.Repeat("y", 8), "tarek@ziade.org")
		tests := []struct {
			name, path, body string
			status           int
			want             string
		}{
			{"exists", derived, `{"password":"xyyyyyyyy","email":"tarek@ziade.org"}`, 400, "4"},
			{"bad json", "bob", `{"password": "x`, 400, "6"},
			{"not an object", "bob", `"password"`, 400, "6"},
			{"missing password", "bob", `{"email":"bob@example.com"}`, 400, "7"},
			{"password not a string", "bob", `{"password":12345678}`, 400, "7"},
			{"weak password", "bob", `{"password":"short"}`, 400, "9"},
			{"password is the name", "bobbybobby", `{"password":"BobbyBobby"}`, 400, "9"},
			{"bad name", "bad%20name!", `{"password":"correct horse 1"}`, 400, "3"},
			{"name too long", strings.Repeat("a", 33), `{"password":"correct horse 1"}`, 400, "3"},
			{"e-mail in path", "bob@example.com", `{"password":"correct horse 1"}`, 400, "3"},
			{"invalid e-mail", "bob", `{"password":"correct horse 1","email":"bob.example.com"}`, 400, "12"},
			{"e-mail not matching derived name", strings.Replace(derived, "m", "n", 1),
				`{"password":"correct horse 1","email":"tarek@ziade.org"}`, 400, "15"},
		}
		for _, tt := range tests {
			r := e.do("PUT", "/user/1.0/"+tt.path, tt.body)
			if r.status != tt.status || r.body != tt.want {
				t.Errorf("%s: got %d %q, want %d %q", tt.name, r.status, r.body, tt.status, tt.want)
			}
		}
		// A legacy name may come with any address (strictness only for
		// derived-looking names), and without one (REC user.create.no-email).
		e.want(e.do("PUT", "/user/1.0/Bob", `{"password":"correct horse 1","email":"someone@else.org"}`), 200, "bob")
		e.want(e.do("PUT", "/user/1/carol", `{"password":"correct horse 1"}`), 200, "carol")
		u, err := e.eng.UserByName(context.Background(), "bob")
		if err != nil || u.Email != "someone@else.org" || u.Status != 1 || u.MD5 != auth.HashPassword("correct horse 1") {
			t.Fatalf("stored row %+v, %v", u, err)
		}
		if !e.events.Has("AccountCreated", 0) {
			t.Error("no AccountCreated event")
		}
	})
}

func TestChangeEmail(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.create("alice", "correct horse 1", "alice@example.com")
		creds := []string{"auth", "alice:correct horse 1"}
		e.want(e.do("POST", "/user/1.0/alice/email", "newemail.com", creds...), 400, "12")
		e.want(e.do("POST", "/user/1.0/alice/email", "new@email.com"), 401, `"Authentication failed"`)
		e.want(e.do("POST", "/user/1.0/alice/email", "new@email.com", creds...), 200, "new@email.com")
		e.want(e.do("GET", "/user/1.0/alice/email", "", creds...), 200, "new@email.com")
		e.want(e.do("POST", "/user/1.0/alice/email", "jösé@bücher.example", creds...), 200, "jösé@bücher.example")
		e.want(e.do("GET", "/user/1.0/alice/email", "", creds...), 200, "jösé@bücher.example")
		e.want(e.do("POST", "/user/1.0/alice/email", "a@b.c\r\nBcc: x@y.z", creds...), 400, "12")
		e.want(e.do("POST", "/user/1.0/alice/email", strings.Repeat("a", 60)+"@b.cd", creds...), 400, "12")
		if !e.events.Has("EmailChanged", 5) {
			t.Error("no EmailChanged event")
		}
	})
}

func TestChangePassword(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.create("alice", "correct horse 1", "alice@example.com")
		e.want(e.do("POST", "/user/1.0/alice/password", "newpasswordhere", "auth", "alice:correct horse 1"), 200, "success")
		e.want(e.do("POST", "/user/1.0/alice/password", "another one 3", "auth", "alice:correct horse 1"), 401, `"Authentication failed"`)
		newCreds := []string{"auth", "alice:newpasswordhere"}
		if r := e.do("POST", "/user/1.0/alice/password", "short", newCreds...); r.status != 400 || r.body != "9" {
			t.Fatalf("short password: %d %q", r.status, r.body)
		}
		e.want(e.do("POST", "/user/1.0/alice/password", "", newCreds...), 400, "7")
		e.want(e.do("POST", "/user/1.0/alice/password", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", newCreds...), 400, "7")
		e.want(e.do("POST", "/user/1.0/alice/password", "correct horse 1", newCreds...), 200, "success")
		e.want(e.do("GET", "/user/1.0/alice/email", "", "auth", "alice:correct horse 1"), 200, "alice@example.com")
		if !e.events.Has("PasswordChanged", 5) {
			t.Error("no PasswordChanged event")
		}
	})
}

func TestNonASCIIPassword(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		pw := strings.Repeat("é", 9)
		e.want(e.do("PUT", "/user/1.0/tarek", `{"password":"`+pw+`","email":"tarek@ziade.org"}`), 200, "tarek")
		u, err := e.eng.UserByName(context.Background(), "tarek")
		if err != nil || u.MD5 != "ade6995ebc6a36bd44ece132f617e164" { // PHP 8.2: md5(utf8_encode(pw))
			t.Fatalf("stored md5 %q (%v), want the form PHP checks", u.MD5, err)
		}
		// The \u-escaped spelling decodes to the same password.
		e.want(e.do("PUT", "/user/1.0/tarek2", `{"password":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}`), 200, "tarek2")
		e.want(e.do("GET", "/user/1.0/tarek2/email", "", "auth", "tarek2:"+pw), 200, "")
		e.want(e.do("DELETE", "/user/1.0/tarek", "", "auth", "tarek:"+pw), 200, "1")
		e.want(e.do("GET", "/user/1.0/tarek", ""), 200, "0")
	})
}

func TestNonASCIIPasswordCreatedByPHP(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		ctx := context.Background()
		pw := "pässwörd ✓ 密码"
		// Rows as PHP writes them: the utf8_encode form (current PHP) and
		// the plain form (older PHP, or a \u-escaped JSON body).
		for name, md5 := range map[string]string{"phpnew": "daef3ea13d8d7622c48f46ba9f8e9e7d", "phpold": "8f7b6aa1d29fba1a69a06f958da61384"} {
			if _, err := e.eng.CreateUser(ctx, store.User{Username: name, MD5: md5, Email: name + "@example.com", Status: 1}); err != nil {
				t.Fatal(err)
			}
			e.want(e.do("GET", "/user/1.0/"+name+"/email", "", "auth", name+":"+pw), 200, name+"@example.com")
			e.want(e.do("GET", "/user/1.0/"+name+"/email", "", "auth", name+":"+pw+"x"), 401, `"Authentication failed"`)
		}
	})
}

func TestDeleteUser(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be)
		e.create("alice", "correct horse 1", "alice@example.com")
		e.create("bob", "battery staple", "bob@example.com")
		r := e.do("DELETE", "/user/1.0/alice", "", "auth", "bob:battery staple")
		e.want(r, 401, "5")
		if !e.events.Has("CrossUserAccess", 7) {
			t.Errorf("no CrossUserAccess event: %+v", e.events.Events())
		}
		e.want(e.do("DELETE", "/user/1.0/alice", "", "auth", "alice:wrong password"), 401, `"Authentication failed"`)
		e.want(e.do("GET", "/user/1.0/alice", ""), 200, "1")
		e.want(e.do("DELETE", "/user/1.0/alice", "", "auth", "alice:correct horse 1"), 200, "1")
		e.want(e.do("GET", "/user/1.0/alice", ""), 200, "0")
		e.want(e.do("GET", "/user/1.0/bob", ""), 200, "1")
		if !e.events.Has("AccountDeleted", 9) {
			t.Error("no AccountDeleted event")
		}
	})
}

func TestUserNode(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be, withNode("https://node1.example.org/"))
		e.create("alice", "correct horse 1", "")
		e.want(e.do("GET", "/user/1.0/alice/node/weave", ""), 200, "https://node1.example.org/")
		e.want(e.do("GET", "/user/1.0/alice/node", ""), 200, "https://node1.example.org/")
		// Without a node configured, PHP's answer (REC user.node).
		bare := newEnv(t, be)
		bare.create("alice", "correct horse 1", "")
		bare.want(bare.do("GET", "/user/1.0/alice/node/weave", ""), 404, `"No location"`)
	})
}

func TestUnknownUserNode(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be, withNode("https://node1.example.org/"))
		e.want(e.do("GET", "/user/1.0/__xx__/weave/node", ""), 404, `"Not found"`)
		e.want(e.do("GET", "/user/1.0/__xx__/node/weave", ""), 404, `"No location"`)
	})
}

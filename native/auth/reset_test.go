package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/auth/smtpsink"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func TestNewResetCode(t *testing.T) {
	shape := regexp.MustCompile(`^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$`)
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		c, err := NewResetCode()
		if err != nil || !shape.MatchString(c) || !ValidResetCodeFormat(c) || seen[c] {
			t.Fatalf("code %q, %v (seen before: %v)", c, err, seen[c])
		}
		seen[c] = true
	}
	for _, bad := range []string{"", "abcd-efgh-ijkl-mnop", "ABCD-EFGH-IJKL-MNO", "ABCD-EFGH-IJKL-MNOPQ", "ABCDEEFGHIIJKLMMNOP", "ABCD_EFGH_IJKL_MNOP"} {
		if ValidResetCodeFormat(bad) {
			t.Errorf("ValidResetCodeFormat(%q) = true", bad)
		}
	}
}

func TestResetsLifecycle(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			eng := b.Open(t)
			ctx := context.Background()
			sink := smtpsink.Start(t)
			now := time.Unix(1_800_000_000, 0)
			rs := NewResets(ResetConfig{Users: eng, PublicURL: "https://sync.example.org/",
				Mailer: NewSMTPMailer(SMTPConfig{Host: sink.Host, Port: sink.Port, From: "sync@example.org"}),
				Now:    func() time.Time { return now }})
			id, err := eng.CreateUser(ctx, store.User{Username: "alice", MD5: HashPassword("correct horse 1"), Email: "alice@example.com", Status: 1})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := eng.UserByName(ctx, "alice")
			if sent, err := rs.Request(ctx, u); !sent || err != nil {
				t.Fatalf("Request = %v, %v", sent, err)
			}
			m, _ := sink.Next(5 * time.Second)
			code := regexp.MustCompile(`[A-Z0-9]{4}(-[A-Z0-9]{4}){3}`).FindString(m.Body)
			if !strings.Contains(m.Body, "https://sync.example.org/weave-password-reset?username=alice&key="+code) ||
				!strings.Contains(m.Body, "6 hours") {
				t.Fatalf("mail body:\n%s", m.Body)
			}
			if rc, _ := eng.GetResetCode(ctx, id); rc.Code == code || len(rc.Code) != 32 {
				t.Fatalf("stored %q for code %q", rc.Code, code)
			}
			now = now.Add(DefaultResetTTL - time.Second)
			if err := rs.Verify(ctx, u, code); err != nil {
				t.Fatalf("live code refused: %v", err)
			}
			if err := rs.Verify(ctx, u, strings.ToLower(code)); !errors.Is(err, ErrInvalidResetCode) {
				t.Fatalf("lower-case code: %v", err)
			}
			now = now.Add(time.Second)
			if err := rs.Verify(ctx, u, code); !errors.Is(err, ErrInvalidResetCode) {
				t.Fatalf("expired code: %v", err)
			}
			// Expired: a new request mails a new code.
			if sent, err := rs.Request(ctx, u); !sent || err != nil {
				t.Fatalf("Request after expiry = %v, %v", sent, err)
			}
			m, _ = sink.Next(5 * time.Second)
			code2 := regexp.MustCompile(`[A-Z0-9]{4}(-[A-Z0-9]{4}){3}`).FindString(m.Body)
			if err := rs.Complete(ctx, u, code, "brand new pass"); !errors.Is(err, ErrInvalidResetCode) {
				t.Fatalf("old code completed: %v", err)
			}
			if err := rs.Complete(ctx, u, code2, "brand new pass"); err != nil {
				t.Fatal(err)
			}
			u, _ = eng.UserByName(ctx, "alice")
			if !CheckPassword(u, "brand new pass") {
				t.Fatal("password not set")
			}
			if _, err := eng.GetResetCode(ctx, id); !errors.Is(err, store.ErrNoResetCode) {
				t.Fatalf("code not cleared: %v", err)
			}
			u.Email = ""
			if _, err := rs.Request(ctx, u); !errors.Is(err, ErrNoEmail) {
				t.Fatalf("no e-mail: %v", err)
			}
			if _, err := NewResets(ResetConfig{Users: eng}).Request(ctx, u); !errors.Is(err, ErrNoMailer) {
				t.Fatalf("no mailer: %v", err)
			}
		})
	}
}

func TestPasswordRules(t *testing.T) {
	for _, c := range []struct {
		name, pw string
		want     error
	}{
		{"alice", "", ErrMissingPassword},
		{"alice", "1234567", ErrWeakPassword},
		{"alice", "12345678", nil},
		{"alicealice", " AliceAlice ", ErrWeakPassword},
		{"alice", "ééé", ErrWeakPassword}, // 6 bytes
		{"alice", "éééé", nil},            // 8 bytes
	} {
		if err := CheckPasswordStrength(c.name, c.pw); !errors.Is(err, c.want) && err != c.want {
			t.Errorf("CheckPasswordStrength(%q, %q) = %v, want %v", c.name, c.pw, err, c.want)
		}
	}
	for email, ok := range map[string]bool{
		"a@b.cd": true, "jösé@bücher.example": true, "a@b": false, "a b@c.de": false,
		"a@b.c\nBcc: x": false, "@b.cd": false, "a@@b.cd": false, strings.Repeat("a", 60) + "@b.cd": false,
	} {
		if got := ValidateEmail(email) == nil; got != ok {
			t.Errorf("ValidateEmail(%q) ok=%v", email, got)
		}
	}
}

package auth

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"

	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func login(t *testing.T, b *Basic, user, password string) error {
	t.Helper()
	r := httptest.NewRequest("GET", "/1.1/"+user+"/info/collections", nil)
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	_, err := b.Authenticate(r, user)
	return err
}

func plainMD5(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestPasswordHashes (issue 10 item 5): every account stored unsalted
// MD5, even with no PHP in sight. With bcrypt, new passwords are bcrypt in
// our own table (users.md5 is varbinary(32), a bcrypt hash 60 bytes) and
// both legacy md5 forms upgrade at the next login; with legacy nothing
// changes, because PHP still reads users.md5.
func TestPasswordHashes(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			eng := be.Open(t)
			const pw = "pässwörd ✓ long enough"
			php := storetest.AddUser(t, eng, store.User{Username: "phpform", MD5: HashPassword(pw), Status: 1})
			plain := storetest.AddUser(t, eng, store.User{Username: "plainform", MD5: plainMD5(pw), Status: 1})

			legacy := NewBasic(eng, BasicOptions{PasswordHash: HashLegacy, CredentialTTL: -1})
			if err := login(t, legacy, "phpform", pw); err != nil {
				t.Fatal(err)
			}
			if u, _ := eng.UserByName(ctx, "phpform"); u.MD5 != php.MD5 || u.PasswordHash != "" {
				t.Fatalf("legacy mode changed the stored hash: %+v", u)
			}

			bc := NewBasic(eng, BasicOptions{PasswordHash: HashBcrypt, CredentialTTL: -1})
			for _, name := range []string{php.Username, plain.Username} {
				if err := login(t, bc, name, pw); err != nil {
					t.Fatalf("%s: first login after the switch: %v", name, err)
				}
				u, err := eng.UserByName(ctx, name)
				if err != nil || u.MD5 != BcryptMarker || !strings.HasPrefix(u.PasswordHash, "$2a$") {
					t.Fatalf("%s: not upgraded: %+v %v", name, u, err)
				}
				if err := login(t, bc, name, pw); err != nil {
					t.Fatalf("%s: login on the bcrypt hash: %v", name, err)
				}
				if err := login(t, bc, name, pw+"x"); !errors.Is(err, ErrBadCredentials) {
					t.Fatalf("%s: wrong password on the bcrypt hash: %v", name, err)
				}
				// Either mode verifies an upgraded account.
				if err := login(t, legacy, name, pw); err != nil {
					t.Fatalf("%s: legacy mode, upgraded account: %v", name, err)
				}
			}

			// New accounts and password changes.
			var nu store.User
			nu.Username, nu.Status = "fresh", 1
			long := strings.Repeat("ü", 50) // 100 bytes: beyond bcrypt's 72
			if err := HashBcrypt.Apply(eng, &nu, long); err != nil {
				t.Fatal(err)
			}
			nu = storetest.AddUser(t, eng, nu)
			if err := login(t, bc, "fresh", long); err != nil {
				t.Fatalf("bcrypt account: %v", err)
			}
			if err := login(t, bc, "fresh", strings.Repeat("ü", 36)+"x"); err == nil {
				t.Fatal("a password sharing the first 72 bytes verified")
			}
			if err := HashLegacy.Set(ctx, eng, nu.ID, "back to md5 please"); err != nil {
				t.Fatal(err)
			}
			if u, _ := eng.UserByName(ctx, "fresh"); u.MD5 != HashPassword("back to md5 please") || u.PasswordHash != "" {
				t.Fatalf("legacy Set left %+v", u)
			}
			if err := HashBcrypt.Set(ctx, eng, nu.ID, "and bcrypt again"); err != nil {
				t.Fatal(err)
			}
			if err := login(t, legacy, "fresh", "and bcrypt again"); err != nil {
				t.Fatal(err)
			}
			if err := eng.DeleteUser(ctx, nu.ID); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCachedCredentialsFollowTheStoredHash: the verified-password cache
// never outlives a password change or the account.
func TestCachedCredentialsFollowTheStoredHash(t *testing.T) {
	ctx := context.Background()
	eng := storetest.SQLite().Open(t)
	u := storetest.AddUser(t, eng, store.User{Username: "cachy", MD5: HashPassword("first password"), Status: 1})
	b := NewBasic(eng, BasicOptions{PasswordHash: HashBcrypt, RecentTTL: -1})
	for i := 0; i < 2; i++ {
		if err := login(t, b, "cachy", "first password"); err != nil {
			t.Fatal(err)
		}
	}
	if err := HashBcrypt.Set(ctx, eng, u.ID, "second password"); err != nil {
		t.Fatal(err)
	}
	if err := login(t, b, "cachy", "first password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password after a change: %v", err)
	}
	if err := login(t, b, "cachy", "second password"); err != nil {
		t.Fatal(err)
	}
	if err := eng.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := login(t, b, "cachy", "second password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("deleted account: %v", err)
	}
}

// TestRecentLogins: a login is answered from memory for RecentTTL, until
// Forget (the guard calls it before an account change) or the TTL ends.
func TestRecentLogins(t *testing.T) {
	ctx := context.Background()
	eng := storetest.SQLite().Open(t)
	u := storetest.AddUser(t, eng, store.User{Username: "recent", MD5: HashPassword("first password"), Status: 1})
	clk := testenv.NewClock(time.Now())
	b := NewBasic(eng, BasicOptions{Now: clk.Now, RecentTTL: DefaultRecentTTL})
	if err := login(t, b, "recent", "first password"); err != nil {
		t.Fatal(err)
	}
	if err := HashLegacy.Set(ctx, eng, u.ID, "second password"); err != nil {
		t.Fatal(err)
	}
	if err := login(t, b, "recent", "first password"); err != nil {
		t.Fatalf("within RecentTTL, changed elsewhere: %v", err)
	}
	clk.Advance(DefaultRecentTTL)
	if err := login(t, b, "recent", "first password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("after RecentTTL: %v", err)
	}
	if err := login(t, b, "recent", "second password"); err != nil {
		t.Fatal(err)
	}
	b.Forget("recent")
	if err := eng.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := login(t, b, "recent", "second password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("deleted after Forget: %v", err)
	}
}

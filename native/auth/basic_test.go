package auth

import (
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestBasicAuthenticate(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { testBasic(t, b.Open(t)) })
	}
}

func testBasic(t *testing.T, eng *sqlstore.Engine) {
	emailName, _ := DeriveUsername("Zoë@Bücher.example")
	for _, u := range []store.User{
		{Username: "alice", MD5: HashPassword("correct horse 1"), Status: 1},
		{Username: "bob", MD5: HashPassword("pässwörd ✓ 密码"), Status: 1, Location: "Node1.example.org"},
		{Username: "off", MD5: HashPassword("correct horse 1"), Status: 2},
		{Username: emailName, MD5: HashPassword("zoë's password"), Status: 1},
	} {
		storetest.AddUser(t, eng, u)
	}
	tests := []struct {
		name, header, path, host string
		checkLocation            bool
		want                     error
		sig                      string
		sev                      int
	}{
		{name: "ok", header: "alice:correct horse 1", path: "alice", want: nil},
		{name: "path upper case", header: "alice:correct horse 1", path: "ALICE", want: nil},
		{name: "header upper case", header: "ALICE:correct horse 1", path: "alice", want: nil},
		{name: "wrong password", header: "alice:correct horse 2", path: "alice", want: ErrBadCredentials, sig: "AuthFail", sev: 5},
		{name: "unknown user", header: "nobody:correct horse 1", path: "nobody", want: ErrBadCredentials, sig: "AuthFail", sev: 5},
		{name: "disabled", header: "off:correct horse 1", path: "off", want: ErrDisabled, sig: "AuthFail", sev: 5},
		// Only the right password learns that the account is disabled.
		{name: "disabled, wrong password", header: "off:correct horse 2", path: "off", want: ErrBadCredentials, sig: "AuthFail", sev: 5},
		{name: "no header", path: "alice", want: ErrNoCredentials, sig: "AuthFail", sev: 5},
		{name: "mismatch, valid creds", header: "alice:correct horse 1", path: "bob", want: ErrMismatch, sig: "CrossUserAccess", sev: 7},
		{name: "mismatch, bad creds", header: "alice:nope", path: "bob", want: ErrMismatch, sig: "AuthFail", sev: 7},
		{name: "invalid header name", header: "al ice:correct horse 1", path: "alice", want: ErrBadCredentials, sig: "AuthFail", sev: 7},
		{name: "utf8 password", header: "bob:pässwörd ✓ 密码", path: "bob", want: nil},
		{name: "latin1 password", header: "bob:p\xe4ssw\xf6rd", path: "bob", want: ErrBadCredentials, sig: "AuthFail", sev: 7},
		{name: "location ignored", header: "bob:pässwörd ✓ 密码", path: "bob", host: "other.example.org", want: nil},
		{name: "location right", header: "bob:pässwörd ✓ 密码", path: "bob", host: "node1.example.org", checkLocation: true, want: nil},
		{name: "location wrong", header: "bob:pässwörd ✓ 密码", path: "bob", host: "node2.example.org", checkLocation: true,
			want: ErrBadCredentials, sig: "AuthFail", sev: 7},
		{name: "no location set", header: "alice:correct horse 1", path: "alice", host: "anything", checkLocation: true, want: nil},
		{name: "e-mail in header", header: "zoë@bücher.example:zoë's password", path: emailName, want: nil},
		{name: "e-mail in both", header: "ZOË@BÜCHER.EXAMPLE:zoë's password", path: "Zoë@Bücher.example", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &ceftest.Recorder{}
			b := NewBasic(eng, BasicOptions{Events: ev, CheckLocation: tt.checkLocation})
			r := httptest.NewRequest("GET", "/1.0/x/info/collections", nil)
			if tt.host != "" {
				r.Host = tt.host
			}
			if tt.header != "" {
				r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(tt.header)))
			}
			u, err := b.Authenticate(r, tt.path)
			if tt.want == nil {
				if err != nil || u.ID == 0 {
					t.Fatalf("Authenticate = %+v, %v", u, err)
				}
			} else if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			got := ev.Take()
			if tt.sig == "" {
				if len(got) != 0 {
					t.Fatalf("events on success: %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Signature != tt.sig || got[0].Severity != tt.sev {
				t.Fatalf("events %+v, want one %s sev %d", got, tt.sig, tt.sev)
			}
			_, pw, _ := strings.Cut(tt.header, ":")
			for _, x := range append(got[0].Extensions, [2]string{got[0].Name, got[0].Username}) {
				if pw != "" && (strings.Contains(x[0], pw) || strings.Contains(x[1], pw)) {
					t.Errorf("event carries the password: %+v", got[0])
				}
			}
		})
	}
}

func TestBasicBackendErrorIsNotACredentialError(t *testing.T) {
	eng := storetest.SQLite().Open(t)
	eng.Close()
	b := NewBasic(eng, BasicOptions{})
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("alice", "correct horse 1")
	_, err := b.Authenticate(r, "alice")
	if err == nil || errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrNoCredentials) {
		t.Fatalf("err = %v: a dead database must not read as bad credentials", err)
	}
}

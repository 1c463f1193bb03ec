package auth

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestParseBasic(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, header string
		user, pass   string
		wantErr      error
	}{
		{"plain", "Basic " + b64("alice:secret"), "alice", "secret", nil},
		{"scheme case", "bAsIc " + b64("alice:secret"), "alice", "secret", nil},
		{"colon in password", "Basic " + b64("alice:a:b:c"), "alice", "a:b:c", nil},
		{"empty password", "Basic " + b64("alice:"), "alice", "", nil},
		{"utf8 password", "Basic " + b64("alice:pässwörd ✓"), "alice", "pässwörd ✓", nil},
		{"missing", "", "", "", ErrNoCredentials},
		{"digest", "Digest abc", "", "", ErrNoCredentials},
		{"garbage", "Basic !!!notbase64", "", "", ErrNoCredentials},
		{"no colon", "Basic " + b64("alice"), "", "", ErrNoCredentials},
		{"empty user", "Basic " + b64(":pw"), "", "", ErrNoCredentials},
		{"latin1 password", "Basic " + b64("alice:p\xe4ss"), "alice", "", ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			u, p, err := ParseBasic(r)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "p\xe4ss") {
					t.Errorf("error text carries the password: %v", err)
				}
				return
			}
			if err != nil || u != tt.user || p != tt.pass {
				t.Fatalf("got %q %q %v, want %q %q", u, p, err, tt.user, tt.pass)
			}
		})
	}
}

// testdata/php-md5.jsonl holds [password, md5(utf8_encode(p)), md5(p)] as
// computed by PHP 8.2 itself.
func phpVectors(t *testing.T) [][3]string {
	t.Helper()
	f, err := os.Open("testdata/php-md5.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][3]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v [3]string
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatal("no vectors")
	}
	return out
}

func TestHashPasswordMatchesPHP(t *testing.T) {
	for _, v := range phpVectors(t) {
		if got := HashPassword(v[0]); got != v[1] {
			t.Errorf("HashPassword(%q) = %s, PHP utf8_encode form %s", v[0], got, v[1])
		}
	}
}

// The same check against the php binary of this machine, so the golden file
// cannot drift from what PHP really computes.
func TestHashPasswordMatchesLivePHP(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		t.Skip("php not installed")
	}
	for _, pw := range []string{"pässwörd ✓ 密码", strings.Repeat("é", 9), "ascii only", "\u00ff\u0100"} {
		cmd := exec.Command(php, "-d", "error_reporting=0", "-r", `echo md5(utf8_encode(stream_get_contents(STDIN)));`)
		cmd.Stdin = strings.NewReader(pw)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("php: %v", err)
		}
		if got := HashPassword(pw); got != string(out) {
			t.Errorf("HashPassword(%q) = %s, live PHP %s", pw, got, out)
		}
	}
}

func TestCheckPasswordAcceptsBothLegacyForms(t *testing.T) {
	for _, v := range phpVectors(t) {
		for _, stored := range []string{v[1], v[2], strings.ToUpper(v[1])} {
			if !CheckPassword(store.User{MD5: stored}, v[0]) {
				t.Errorf("CheckPassword(%q) refused stored %s", v[0], stored)
			}
		}
		if CheckPassword(store.User{MD5: v[1]}, v[0]+"x") {
			t.Errorf("CheckPassword accepted a wrong password for %q", v[0])
		}
	}
	if CheckPassword(store.User{MD5: ""}, "") {
		t.Error("empty hash accepted the empty password")
	}
}

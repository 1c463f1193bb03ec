package userapi

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// TestPasswordsInteroperateWithLegacy shares one MariaDB database between
// the native User API and the legacy PHP server (the stand-in and the
// original): an account either side creates or changes with a non-ASCII
// password logs in on the other.
func TestPasswordsInteroperateWithLegacy(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		dsn := testenv.MariaDB(t)
		eng := storetest.Open(t, "mysql:"+dsn)
		db, err := legacy.DBConfigFromDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		php := srv.Start(t, db, legacy.Options{})
		e := &env{t: t, eng: eng, events: &ceftest.Recorder{}}
		e.cfg = Config{Users: eng, Auth: auth.NewBasic(eng, auth.BasicOptions{})}
		e.srv = httptest.NewServer(New(e.cfg))
		t.Cleanup(e.srv.Close)

		pw := "pässwörd ✓ 密码"
		status := func(req *http.Request) int {
			t.Helper()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode
		}
		legacyGet := func(user, password string) int {
			t.Helper()
			req, _ := http.NewRequest("GET", php.URL+"/1.0/"+user+"/info/collections", nil)
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
			return status(req)
		}
		legacyDo := func(method, path, body string) int {
			t.Helper()
			req, _ := http.NewRequest(method, php.URL+path, strings.NewReader(body))
			return status(req)
		}

		// Native creates, legacy authenticates.
		e.want(e.do("PUT", "/user/1.0/nat", `{"password":"`+pw+`"}`), 200, "nat")
		if s := legacyGet("nat", pw); s != 200 {
			t.Fatalf("legacy refused a natively created password: %d", s)
		}
		// Native changes, legacy authenticates the new one only.
		e.want(e.do("POST", "/user/1.0/nat/password", "ñew pässwörd ✓", "auth", "nat:"+pw), 200, "success")
		if legacyGet("nat", "ñew pässwörd ✓") != 200 || legacyGet("nat", pw) != 401 {
			t.Fatal("legacy does not see the natively changed password")
		}
		// Legacy creates (raw UTF-8 JSON, as Firefox sends it), native authenticates.
		if s := legacyDo("PUT", "/user/1.0/leg", `{"password":"`+pw+`","email":"leg@example.com"}`); s != 200 {
			t.Fatalf("legacy create: %d", s)
		}
		e.want(e.do("GET", "/user/1.0/leg/email", "", "auth", "leg:"+pw), 200, "leg@example.com")
		// Legacy creates from a \u-escaped body: PHP stores md5 of the plain
		// UTF-8 bytes, which PHP itself can then never match; native still can.
		esc := `{"password":"p\u00e4ssw\u00f6rd \u2713 \u5bc6\u7801","email":"esc@example.com"}`
		if s := legacyDo("PUT", "/user/1.0/esc", esc); s != 200 {
			t.Fatalf("legacy create (escaped): %d", s)
		}
		e.want(e.do("GET", "/user/1.0/esc/email", "", "auth", "esc:"+pw), 200, "esc@example.com")
	})
}

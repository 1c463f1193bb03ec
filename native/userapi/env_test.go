package userapi

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/auth/smtpsink"
	"github.com/weaveproxy/weaveproxy/native/captcha"
	"github.com/weaveproxy/weaveproxy/native/captcha/captchatest"
	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// forEachEngine runs fn as a subtest per real engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, be storetest.Backend)) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) { fn(t, be) })
	}
}

type env struct {
	t      *testing.T
	eng    *sqlstore.Engine
	srv    *httptest.Server
	events *ceftest.Recorder
	mail   *smtpsink.Server
	cap    *captchatest.Server
	cfg    Config
}

type option func(e *env, c *Config)

func withCaptcha() option {
	return func(e *env, c *Config) {
		e.cap = captchatest.Start(e.t, "private-key")
		v, err := captcha.New(captcha.Config{VerifyURL: e.cap.URL, PublicKey: "site-key", PrivateKey: "private-key"})
		if err != nil {
			e.t.Fatal(err)
		}
		c.Captcha = v
	}
}

func withRegistration(reg Registration) option {
	return func(_ *env, c *Config) { c.Registration = reg }
}

func withNode(url string) option {
	return func(_ *env, c *Config) { c.NodeURL = func(*http.Request) string { return url } }
}

func withoutMailer() option {
	return func(_ *env, c *Config) { c.Resets = nil }
}

func newEnv(t *testing.T, be storetest.Backend, opts ...option) *env {
	t.Helper()
	e := &env{t: t, eng: be.Open(t), events: &ceftest.Recorder{}}
	e.mail = smtpsink.Start(t)
	mailer := auth.NewSMTPMailer(auth.SMTPConfig{Host: e.mail.Host, Port: e.mail.Port, From: "sync@example.org"})
	e.cfg = Config{
		Users:  e.eng,
		Auth:   auth.NewBasic(e.eng, auth.BasicOptions{Events: e.events}),
		Events: e.events,
		Resets: auth.NewResets(auth.ResetConfig{Users: e.eng, Mailer: mailer, PublicURL: "https://sync.example.org"}),
	}
	for _, o := range opts {
		o(e, &e.cfg)
	}
	e.srv = httptest.NewServer(New(e.cfg))
	t.Cleanup(e.srv.Close)
	return e
}

type resp struct {
	status int
	body   string
	header http.Header
}

// do sends a request; hdr holds name/value pairs. "user:password" in the
// "auth" pseudo-header becomes a Basic Authorization of those exact bytes.
func (e *env) do(method, path, body string, hdr ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "auth" {
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(hdr[i+1])))
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, string(b), res.Header}
}

func (e *env) want(r resp, status int, body string) {
	e.t.Helper()
	if r.status != status || r.body != body {
		e.t.Fatalf("got %d %q, want %d %q", r.status, r.body, status, body)
	}
}

// create makes an account through the API.
func (e *env) create(name, password, email string) {
	e.t.Helper()
	body := `{"password":` + jsonQuote(password) + `,"email":` + jsonQuote(email) + `}`
	e.want(e.do("PUT", "/user/1.0/"+name, body, "X-Weave-Secret", e.cfg.Registration.Secret), 200, name)
}

func jsonQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (e *env) nextMail() smtpsink.Mail {
	e.t.Helper()
	m, ok := e.mail.Next(5 * time.Second)
	if !ok {
		e.t.Fatal("no mail received")
	}
	return m
}

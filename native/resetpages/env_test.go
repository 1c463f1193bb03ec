package resetpages

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/auth/smtpsink"
	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type env struct {
	t      *testing.T
	eng    *sqlstore.Engine
	srv    *httptest.Server
	mail   *smtpsink.Server
	events *ceftest.Recorder
	resets *auth.Resets
}

func newEnv(t *testing.T, be storetest.Backend, mutate ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, eng: be.Open(t), events: &ceftest.Recorder{}, mail: smtpsink.Start(t)}
	mailer := auth.NewSMTPMailer(auth.SMTPConfig{Host: e.mail.Host, Port: e.mail.Port, From: "sync@example.org"})
	// The server's own URL is the public one: the mailed link must work.
	e.srv = httptest.NewUnstartedServer(nil)
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.resets = auth.NewResets(auth.ResetConfig{Users: e.eng, Mailer: mailer, PublicURL: e.srv.URL})
	cfg := Config{
		Users:  e.eng,
		Auth:   auth.NewBasic(e.eng, auth.BasicOptions{Events: e.events}),
		Resets: e.resets,
		Events: e.events,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = h
	return e
}

func (e *env) user(name, password, email string) store.User {
	e.t.Helper()
	u := storetest.AddUser(e.t, e.eng, store.User{Username: name, MD5: auth.HashPassword(password), Email: email, Status: 1})
	return store.User{ID: u.ID, Username: name, Email: email}
}

type result struct {
	status int
	body   string
	header http.Header
}

// get and post behave as a browser on the same origin: the form POST
// carries the page's Origin.
func (e *env) get(path string) result {
	e.t.Helper()
	return e.send("GET", path, nil, nil)
}

func (e *env) post(path string, form url.Values, hdr ...string) result {
	e.t.Helper()
	h := map[string]string{"Origin": e.srv.URL, "Content-Type": "application/x-www-form-urlencoded"}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			delete(h, hdr[i])
		} else {
			h[hdr[i]] = hdr[i+1]
		}
	}
	return e.send("POST", path, strings.NewReader(form.Encode()), h)
}

func (e *env) send(method, path string, body io.Reader, hdr map[string]string) result {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return result{res.StatusCode, string(b), res.Header}
}

var keyRE = regexp.MustCompile(`[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}`)

// requestKey mails a key through the forgot form and returns it with the
// link of the mail.
func (e *env) requestKey(typed string) (key, link string) {
	e.t.Helper()
	p := e.post(ResetPath, url.Values{"username": {typed}})
	if p.status != 200 || !strings.Contains(p.body, msgKeySent) {
		e.t.Fatalf("forgot form: %d %s", p.status, p.body)
	}
	m, ok := e.mail.Next(5 * time.Second)
	if !ok {
		e.t.Fatal("no mail")
	}
	key = keyRE.FindString(m.Body)
	for _, line := range strings.Split(m.Body, "\n") {
		if strings.HasPrefix(line, e.srv.URL+ResetPath+"?") {
			link = line
		}
	}
	if key == "" || link == "" {
		e.t.Fatalf("mail without key or link:\n%s", m.Body)
	}
	return key, link
}

func (e *env) passwordIs(name, password string) bool {
	u, err := e.eng.UserByName(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return auth.CheckPassword(u, password)
}

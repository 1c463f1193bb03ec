// Package userapi serves the Weave User API 1.0 (account creation, deletion,
// password and e-mail changes, storage node lookup, password-reset codes)
// under /user/1.0/ and its alias /user/1/, plus /misc/1.0/captcha_html.
// Behaviour follows the Python reference, wire details the legacy PHP
// server where clients could notice; docs/compatibility.md lists each choice.
package userapi

import (
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"weaveproxy/native/auth"
	"weaveproxy/native/captcha"
	"weaveproxy/native/cef"
	"weaveproxy/native/store"
)

// RegistrationMode says who may create accounts.
type RegistrationMode int

const (
	RegOpen   RegistrationMode = iota // anyone (captcha applies when configured)
	RegClosed                         // nobody: PUT answers 403 11
	RegSecret                         // only requests carrying X-Weave-Secret
)

// Registration is the account-creation policy. In RegOpen mode a non-empty
// Secret lets requests carrying it skip the captcha (PY and PHP behaviour);
// in RegSecret mode the secret is required and also skips the captcha.
type Registration struct {
	Mode   RegistrationMode
	Secret string
}

// Open, Closed and Secret build the usual policies.
var (
	Open   = Registration{Mode: RegOpen}
	Closed = Registration{Mode: RegClosed}
)

// Secret is registration restricted to holders of value.
func Secret(value string) Registration { return Registration{Mode: RegSecret, Secret: value} }

// Config configures a Handler. Users and Auth are required.
type Config struct {
	Users  store.Users
	Auth   auth.Authenticator
	Events cef.Sink     // nil: events dropped
	Logger *slog.Logger // nil: discarded

	Registration Registration
	Captcha      captcha.Verifier // nil: captcha off (captcha_html answers 404)

	// NodeURL is the storage node handed to users whose users.location is
	// empty ("https://host/"); nil or "" answers 404 "No location" as PHP.
	NodeURL func(r *http.Request) string

	// Resets issues and checks reset codes; nil (or one without mailer):
	// password_reset answers 503.
	Resets *auth.Resets

	// MaxBodyBytes bounds request bodies; 64 KiB when zero.
	MaxBodyBytes int64
}

// Handler is the User API. It is safe for concurrent use.
type Handler struct {
	cfg    Config
	events cef.Sink
	log    *slog.Logger
}

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, events: cfg.Events, log: cfg.Logger}
	if h.events == nil {
		h.events = cef.Discard{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.MaxBodyBytes <= 0 {
		h.cfg.MaxBodyBytes = 64 << 10
	}
	return h
}

// ServeHTTP implements http.Handler for /user/1.0/, /user/1/ and
// /misc/1.0/captcha_html (also /misc/1/); anything else is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	p := r.URL.Path
	switch {
	case p == "/misc/1.0/captcha_html" || p == "/misc/1/captcha_html":
		h.captchaHTML(w, r)
	case strings.HasPrefix(p, "/user/1.0/"):
		h.route(w, r, strings.TrimPrefix(p, "/user/1.0/"))
	case strings.HasPrefix(p, "/user/1/"):
		h.route(w, r, strings.TrimPrefix(p, "/user/1/"))
	default:
		h.fail(w, r, errNotFound)
	}
}

// request is one parsed User API call.
type request struct {
	name   string   // normalized account name
	raw    string   // as in the path
	action []string // path segments after the name
}

func (h *Handler) route(w http.ResponseWriter, r *http.Request, rest string) {
	rest = strings.TrimSuffix(rest, "/")
	segs := strings.Split(rest, "/")
	if segs[0] == "" {
		h.fail(w, r, codeErr(400, 3, "no user name in path"))
		return
	}
	name, err := auth.NormalizeUsername(segs[0])
	if err != nil || len(name) > auth.MaxUsernameLen {
		h.fail(w, r, codeErr(400, 3, "invalid user name %q", segs[0]))
		return
	}
	req := request{name: name, raw: segs[0], action: segs[1:]}
	if fn := h.endpoint(r.Method, req.action); fn != nil {
		fn(w, r, req)
		return
	}
	if len(req.action) > 1 {
		// PY routing: no such resource (Mozilla's test_unkown_user_node).
		h.fail(w, r, errNotFound)
		return
	}
	// PHP: a method or single action it does not know is error 1 (REC).
	h.fail(w, r, codeErr(400, 1, "%s %v not supported", r.Method, req.action))
}

type endpointFunc func(http.ResponseWriter, *http.Request, request)

func (h *Handler) endpoint(method string, action []string) endpointFunc {
	key := method + " " + strings.Join(action, "/")
	switch key {
	case "GET ":
		return h.exists
	case "PUT ":
		return h.create
	case "DELETE ":
		return h.deleteUser
	case "GET node", "GET node/weave":
		return h.node
	case "GET email":
		return h.getEmail
	case "POST email":
		return h.changeEmail
	case "POST password":
		return h.changePassword
	case "GET password_reset":
		return h.requestReset
	case "DELETE password_reset":
		return h.clearReset
	}
	return nil
}

func (h *Handler) captchaHTML(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Captcha == nil || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
		h.fail(w, r, errNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(h.cfg.Captcha.HTML()))
}

// secretOK compares the X-Weave-Secret header in constant time.
func (h *Handler) secretOK(r *http.Request) bool {
	s := h.cfg.Registration.Secret
	got := r.Header.Get("X-Weave-Secret")
	return s != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s)) == 1
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) emit(r *http.Request, sig, name string, sev int, user string, ext ...[2]string) {
	h.events.Emit(r, cef.Event{Signature: sig, Name: name, Severity: sev, Username: user, Extensions: ext})
}

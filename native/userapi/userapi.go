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

	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/captcha"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
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
	// empty and who get none from Nodes ("https://host/"); nil or ""
	// answers 404 "No location" as PHP.
	NodeURL func(r *http.Request) string
	// Nodes assigns nodes to users without one; nil: none.
	Nodes *Nodes

	// Resets issues and checks reset codes; nil (or one without mailer):
	// password_reset answers 503.
	Resets *auth.Resets

	// MaxBodyBytes bounds request bodies; 64 KiB when zero.
	MaxBodyBytes int64

	// Endpoints this face serves (PublicEndpoints' names); nil: all.
	// Operators move account management to the internal face by leaving
	// names out here.
	Endpoints map[string]bool
	// PasswordHash is how new passwords are stored (zero: legacy md5).
	PasswordHash auth.PasswordHash
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
// /misc/1.0/captcha_html (also /misc/1/); anything else is 404. Paths are
// classified by internal/weaveurl, the grammar the proxy routes by.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	c := weaveurl.Classify(r.Method, r.URL.EscapedPath())
	switch {
	case c.Kind == weaveurl.Misc && c.Shape == "/misc/{version}/captcha_html":
		if h.exposed(w, r, EpCaptcha) {
			h.captchaHTML(w, r)
		}
	case c.Kind == weaveurl.User:
		h.route(w, r, c)
	default:
		h.fail(w, r, errNotFound)
	}
}

// request is one parsed User API call.
type request struct {
	name   string   // normalized account name
	raw    string   // as in the path, percent-decoded
	action []string // path segments after the name
}

func (h *Handler) route(w http.ResponseWriter, r *http.Request, c weaveurl.Request) {
	if c.User == "" {
		h.fail(w, r, codeErr(400, 3, "no user name in path"))
		return
	}
	name, err := auth.NormalizeUsername(c.User)
	if err != nil || len(name) > auth.MaxUsernameLen {
		h.fail(w, r, codeErr(400, 3, "invalid user name %q", c.User))
		return
	}
	req := request{name: name, raw: c.User}
	if c.Action != "" {
		req.action = strings.Split(c.Action, "/")
	}
	if name, fn := h.endpoint(c.Route); fn != nil {
		if h.exposed(w, r, name) {
			fn(w, r, req)
		}
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

// Public endpoint names, for Config.Endpoints.
const (
	EpExists   = "exists"   // GET /user/1.0/<u>
	EpCreate   = "create"   // PUT /user/1.0/<u>
	EpDelete   = "delete"   // DELETE /user/1.0/<u>
	EpNode     = "node"     // GET .../node/weave
	EpEmail    = "email"    // GET and POST .../email
	EpPassword = "password" // POST .../password
	EpReset    = "reset"    // GET and DELETE .../password_reset
	EpCaptcha  = "captcha"  // /misc/1.0/captcha_html
)

// PublicEndpoints are every public endpoint, the default face.
var PublicEndpoints = []string{EpExists, EpCreate, EpDelete, EpNode, EpEmail, EpPassword, EpReset, EpCaptcha}

// endpoint serves each User API route of weaveurl.Routes(), and names the
// public endpoint it belongs to.
func (h *Handler) endpoint(route string) (string, endpointFunc) {
	switch route {
	case "GET /user/{version}/{user}":
		return EpExists, h.exists
	case "PUT /user/{version}/{user}":
		return EpCreate, h.create
	case "DELETE /user/{version}/{user}":
		return EpDelete, h.deleteUser
	case "GET /user/{version}/{user}/node", "GET /user/{version}/{user}/node/weave":
		return EpNode, h.node
	case "GET /user/{version}/{user}/email":
		return EpEmail, h.getEmail
	case "POST /user/{version}/{user}/email":
		return EpEmail, h.changeEmail
	case "POST /user/{version}/{user}/password":
		return EpPassword, h.changePassword
	case "GET /user/{version}/{user}/password_reset":
		return EpReset, h.requestReset
	case "DELETE /user/{version}/{user}/password_reset":
		return EpReset, h.clearReset
	}
	return "", nil
}

// exposed reports whether this face serves endpoint name; a face without
// it answers 403 11 (unsupported function), as closed registration does.
func (h *Handler) exposed(w http.ResponseWriter, r *http.Request, name string) bool {
	if h.cfg.Endpoints == nil || h.cfg.Endpoints[name] {
		return true
	}
	h.fail(w, r, codeErr(http.StatusForbidden, weave.CodeUnsupported, "endpoint %s not served here", name))
	return false
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

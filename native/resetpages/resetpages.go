// Package resetpages serves the web pages a person uses without a Sync
// client: the password reset at /weave-password-reset (forgot form, key
// sent, reset form, result, as the Python server's pages) and the account
// deletion at /weave-delete-account.
package resetpages

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/captcha"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/store"
)

// Paths the handler serves.
const (
	ResetPath  = "/weave-password-reset"
	DeletePath = "/weave-delete-account"
)

// The sentences of the Python server's reset pages, kept word for word.
const (
	msgNoUsername = "Username not provided. Please check the link you used."
	msgNoAccount  = "We are unable to locate your account"
	msgNoPassword = "Password not provided"
	msgMismatch   = "Password and confirmation do not match"
	msgWeak       = "Password should be at least 8 characters and not the same as your username"
	msgBadKey     = "Key does not match with username. Please request a new key."
	msgChanged    = "Your password has been changed. You can now use it in Firefox Sync."

	msgNoEmail     = "We do not have an e-mail address on file for this account"
	msgKeySent     = "A reset key has been sent to the e-mail address on file for this account. Follow the link in that mail to choose a new password."
	msgUnavailable = "Password reset is not available at the moment. Please try again later."
	msgCaptcha     = "The captcha was not solved correctly. Please try again."
	msgBackend     = "The service is unavailable at the moment. Please try again later."
	msgForbidden   = "This form must be submitted from this site."

	msgConfirmDelete = "Please tick the box to confirm that your account and all its data are to be deleted."
	msgBadLogin      = "Username or password is wrong"
	msgDisabled      = "This account is disabled. Please contact the service's operators."
	msgDeleted       = "Your account and all its data have been deleted."
)

// Config configures the pages. Users, Auth and Resets are required.
type Config struct {
	Users store.Users
	// Auth checks the delete page's credentials, so lockout and AuthFail
	// events apply there exactly as on the API.
	Auth    auth.Authenticator
	Resets  *auth.Resets
	Captcha captcha.Verifier // nil: the forgot form has no captcha
	Events  cef.Sink
	Logger  *slog.Logger
	// TrustedOrigins may POST besides the page's own origin (for a site
	// that embeds the form elsewhere); e.g. "https://accounts.example.org".
	TrustedOrigins []string
}

// Handler serves both pages. It is safe for concurrent use.
type Handler struct {
	cfg    Config
	events cef.Sink
	log    *slog.Logger
	csrf   *http.CrossOriginProtection
	csp    string
}

// New returns a Handler; an invalid trusted origin is an error.
func New(cfg Config) (*Handler, error) {
	h := &Handler{cfg: cfg, events: cfg.Events, log: cfg.Logger, csrf: http.NewCrossOriginProtection()}
	if h.events == nil {
		h.events = cef.Discard{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, o := range cfg.TrustedOrigins {
		if err := h.csrf.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	h.csp = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if cfg.Captcha != nil {
		// The widget loads its script and frame from the captcha service.
		h.csp += "; script-src https:; frame-src https:; connect-src https:; img-src https:"
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	// The reset link carries the key: never leak it to another origin.
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		hd.Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := h.csrf.Check(r); err != nil {
		h.render(w, http.StatusForbidden, page{Title: "Forbidden", Message: msgForbidden})
		return
	}
	switch r.URL.Path {
	case ResetPath:
		h.reset(w, r)
	case DeletePath:
		h.deleteAccount(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) render(w http.ResponseWriter, status int, p page) {
	var b bytes.Buffer
	if err := pages.Execute(&b, p); err != nil {
		h.log.Error("reset pages: template", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (h *Handler) captchaHTML() template.HTML {
	if h.cfg.Captcha == nil {
		return ""
	}
	// The verifier's fragment is built from configuration with html/template.
	return template.HTML(h.cfg.Captcha.HTML())
}

func (h *Handler) emit(r *http.Request, sig, name string, sev int, user string) {
	h.events.Emit(r, cef.Event{Signature: sig, Name: name, Severity: sev, Username: user})
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// withBasic is r carrying the form's credentials as Basic auth, so the
// configured Authenticator (and its lockout) judges them.
func withBasic(r *http.Request, user, password string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	return r2
}

// normalize maps a typed name or address to the account name; "" if none.
func normalize(s string) string {
	n, err := auth.NormalizeUsername(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return n
}

func retryAfter(l *auth.LockedError) string {
	return strconv.Itoa(max(int(l.RetryAfter.Seconds()+0.999), 1))
}

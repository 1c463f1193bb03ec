package userapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// Internal endpoint names, for InternalConfig.Endpoints.
const (
	InCreate     = "create"      // POST /internal/1.0/users
	InLookup     = "lookup"      // GET /internal/1.0/users/<u>, GET /internal/1.0/users?email=
	InDelete     = "delete"      // DELETE /internal/1.0/users/<u>
	InStatus     = "status"      // POST .../disable, POST .../enable
	InNode       = "node"        // PUT .../node
	InAlert      = "alert"       // PUT .../alert
	InForceReset = "force-reset" // POST .../force-reset
)

// InternalEndpoints are every internal endpoint, the default face.
var InternalEndpoints = []string{InCreate, InLookup, InDelete, InStatus, InNode, InAlert, InForceReset}

// InternalConfig configures the internal User API: account management
// for operators and other services, on a listener of its own. Users must
// implement store.UserAdmin for status, node, alert and lookup by e-mail.
type InternalConfig struct {
	Users store.Users
	// Token is the bearer token every request must carry; empty refuses
	// everything (the face is never open by accident).
	Token  string
	Resets *auth.Resets // nil: force-reset sets no code and mails nothing
	Events cef.Sink
	Logger *slog.Logger
	// Endpoints served (InternalEndpoints' names); nil: all.
	Endpoints map[string]bool
}

// Internal is the internal User API handler. Answers are JSON: an account
// object, a list of them, or {"error": "..."} with the status saying why.
type Internal struct {
	cfg   InternalConfig
	token [32]byte
	// pub lends the public face's validation (names, passwords, e-mail).
	pub *Handler
}

// NewInternal returns the internal handler for cfg.
func NewInternal(cfg InternalConfig) *Internal {
	in := &Internal{cfg: cfg, token: sha256.Sum256([]byte(cfg.Token))}
	in.pub = New(Config{Users: cfg.Users, Events: cfg.Events, Logger: cfg.Logger, Resets: cfg.Resets})
	return in
}

// account is the JSON form of a user; never the password hash.
type account struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	Node     string `json:"node"`
	Status   string `json:"status"`
	Alert    string `json:"alert"`
}

func toAccount(u store.User) account {
	st := "active"
	if u.Status != 1 {
		st = "disabled"
	}
	return account{ID: u.ID, Username: u.Username, Email: u.Email, Node: u.Location, Status: st, Alert: u.Alert}
}

const internalPrefix = "/internal/1.0/users"

func (in *Internal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !in.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="weaveproxy internal"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "bearer token required"})
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, internalPrefix)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		in.fail(w, http.StatusNotFound, "no such resource")
		return
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	name, fn := in.route(r.Method, segs)
	switch {
	case fn == nil:
		in.fail(w, http.StatusNotFound, "no such resource")
	case in.cfg.Endpoints != nil && !in.cfg.Endpoints[name]:
		in.fail(w, http.StatusForbidden, "endpoint "+name+" not served here")
	default:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		fn(w, r, segs)
	}
}

// authorized compares the bearer token in constant time (hashes of both
// sides, so lengths leak nothing).
func (in *Internal) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || in.cfg.Token == "" {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], in.token[:]) == 1
}

type internalFunc func(http.ResponseWriter, *http.Request, []string)

func (in *Internal) route(method string, segs []string) (string, internalFunc) {
	switch {
	case len(segs) == 1 && segs[0] == "":
		switch method {
		case http.MethodPost:
			return InCreate, in.create
		case http.MethodGet:
			return InLookup, in.byEmail
		}
	case len(segs) == 1:
		switch method {
		case http.MethodGet:
			return InLookup, in.get
		case http.MethodDelete:
			return InDelete, in.delete
		}
	case len(segs) == 2:
		switch method + " " + segs[1] {
		case "POST disable", "POST enable":
			return InStatus, in.setStatus
		case "PUT node":
			return InNode, in.setNode
		case "PUT alert":
			return InAlert, in.setAlert
		case "POST force-reset":
			return InForceReset, in.forceReset
		}
	}
	return "", nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (in *Internal) fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// failErr answers a store or validation error with its status. A Weave
// code from the shared validation comes along as "code".
func (in *Internal) failErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		in.fail(w, http.StatusNotFound, "no such account")
	case errors.Is(err, store.ErrUserExists):
		in.fail(w, http.StatusConflict, "account exists")
	case errors.Is(err, store.ErrUnsupported):
		in.fail(w, http.StatusNotImplemented, "the accounts backend cannot do this")
	default:
		if we, ok := weave.AsError(err); ok && we.Status < 500 && we.Err != nil {
			writeJSON(w, we.Status, map[string]any{"error": we.Err.Error(), "code": we.Code})
			return
		}
		in.pub.log.ErrorContext(r.Context(), "internal user api: backend failure", "path", r.URL.Path, "err", err)
		in.fail(w, http.StatusServiceUnavailable, "backend unavailable")
	}
}

// user loads the account named in the path.
func (in *Internal) user(w http.ResponseWriter, r *http.Request, raw string) (store.User, bool) {
	name, err := auth.NormalizeUsername(raw)
	if err != nil {
		in.fail(w, http.StatusBadRequest, "invalid user name")
		return store.User{}, false
	}
	u, err := in.cfg.Users.UserByName(r.Context(), name)
	if err != nil {
		in.failErr(w, r, err)
		return u, false
	}
	return u, true
}

func (in *Internal) admin(w http.ResponseWriter) (store.UserAdmin, bool) {
	a, ok := in.cfg.Users.(store.UserAdmin)
	if !ok {
		in.fail(w, http.StatusNotImplemented, "the accounts backend cannot do this")
	}
	return a, ok
}

// reload answers the account as it is now.
func (in *Internal) reload(w http.ResponseWriter, r *http.Request, name string) {
	u, err := in.cfg.Users.UserByName(r.Context(), name)
	if err != nil {
		in.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAccount(u))
}

func (in *Internal) get(w http.ResponseWriter, r *http.Request, segs []string) {
	if u, ok := in.user(w, r, segs[0]); ok {
		writeJSON(w, http.StatusOK, toAccount(u))
	}
}

func (in *Internal) byEmail(w http.ResponseWriter, r *http.Request, _ []string) {
	email := r.URL.Query().Get("email")
	if email == "" {
		in.fail(w, http.StatusBadRequest, "email query parameter required")
		return
	}
	a, ok := in.admin(w)
	if !ok {
		return
	}
	users, err := a.UsersByEmail(r.Context(), email)
	if err != nil {
		in.failErr(w, r, err)
		return
	}
	out := make([]account, 0, len(users))
	for _, u := range users {
		out = append(out, toAccount(u))
	}
	writeJSON(w, http.StatusOK, out)
}

// createRequest is the POST body of create; the password rules and e-mail
// checks are the public face's, without registration gate or captcha.
type createRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
	Node     string `json:"node"`
}

func (in *Internal) create(w http.ResponseWriter, r *http.Request, _ []string) {
	var req createRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		in.fail(w, http.StatusBadRequest, "body is not a JSON object")
		return
	}
	name, err := auth.NormalizeUsername(req.Username)
	if err != nil || len(name) > auth.MaxUsernameLen {
		in.fail(w, http.StatusBadRequest, "invalid user name")
		return
	}
	pw, _ := json.Marshal(req.Password)
	email, _ := json.Marshal(req.Email)
	u, err := in.pub.newUser(r, name, createBody{Password: pw, Email: email})
	if err != nil {
		in.failErr(w, r, err)
		return
	}
	u.Location = req.Node
	if _, err := in.cfg.Users.CreateUser(r.Context(), u); err != nil {
		in.failErr(w, r, err)
		return
	}
	in.pub.emit(r, "AccountCreated", "Account created through the internal API", 4, name)
	in.reload(w, r, name)
}

func (in *Internal) delete(w http.ResponseWriter, r *http.Request, segs []string) {
	u, ok := in.user(w, r, segs[0])
	if !ok {
		return
	}
	if err := in.cfg.Users.DeleteUser(r.Context(), u.ID); err != nil {
		in.failErr(w, r, err)
		return
	}
	in.pub.emit(r, "AccountDeleted", "Account deleted through the internal API", 9, u.Username)
	writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
}

func (in *Internal) setStatus(w http.ResponseWriter, r *http.Request, segs []string) {
	u, ok := in.user(w, r, segs[0])
	a, aok := in.admin(w)
	if !ok || !aok {
		return
	}
	status, sig := 1, "AccountEnabled"
	if segs[1] == "disable" {
		status, sig = 0, "AccountDisabled"
	}
	if err := a.SetStatus(r.Context(), u.ID, status); err != nil {
		in.failErr(w, r, err)
		return
	}
	in.pub.emit(r, sig, "Account "+segs[1]+"d through the internal API", 7, u.Username)
	in.reload(w, r, u.Username)
}

// valueBody reads {"node": "..."} or {"alert": "..."}.
func valueBody(r *http.Request, key string) (string, error) {
	var m map[string]string
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		return "", err
	}
	v, ok := m[key]
	if !ok {
		return "", errors.New("missing " + key)
	}
	return v, nil
}

func (in *Internal) setNode(w http.ResponseWriter, r *http.Request, segs []string) {
	in.setValue(w, r, segs, "node", func(a store.UserAdmin, u store.User, v string) error {
		return a.SetLocation(r.Context(), u.ID, v)
	})
}

func (in *Internal) setAlert(w http.ResponseWriter, r *http.Request, segs []string) {
	in.setValue(w, r, segs, "alert", func(a store.UserAdmin, u store.User, v string) error {
		return a.SetAlert(r.Context(), u.ID, v)
	})
}

func (in *Internal) setValue(w http.ResponseWriter, r *http.Request, segs []string, key string,
	set func(store.UserAdmin, store.User, string) error) {
	v, err := valueBody(r, key)
	if err != nil || strings.ContainsAny(v, "\r\n") {
		in.fail(w, http.StatusBadRequest, `body must be {"`+key+`": "..."} on one line`)
		return
	}
	u, ok := in.user(w, r, segs[0])
	a, aok := in.admin(w)
	if !ok || !aok {
		return
	}
	if err := set(a, u, v); err != nil {
		in.failErr(w, r, err)
		return
	}
	in.reload(w, r, u.Username)
}

// forceReset replaces the password with a random one nobody knows, so
// every client stops authenticating, and mails a reset code when it can.
func (in *Internal) forceReset(w http.ResponseWriter, r *http.Request, segs []string) {
	u, ok := in.user(w, r, segs[0])
	if !ok {
		return
	}
	random := make([]byte, 24)
	if _, err := rand.Read(random); err != nil {
		in.failErr(w, r, err)
		return
	}
	stored, err := auth.StoredPassword(in.cfg.Users, base64.RawURLEncoding.EncodeToString(random))
	if err == nil {
		err = in.cfg.Users.SetPasswordMD5(r.Context(), u.ID, stored)
	}
	if err != nil {
		in.failErr(w, r, err)
		return
	}
	in.pub.emit(r, "PasswordResetForced", "Password reset forced through the internal API", 9, u.Username)
	mailed := false
	if in.cfg.Resets != nil && in.cfg.Resets.Enabled() && u.Email != "" && u.Status == 1 {
		if mailed, err = in.cfg.Resets.Request(r.Context(), u); err != nil {
			in.pub.log.WarnContext(r.Context(), "internal user api: forced reset mail", "user", u.Username, "err", err)
		}
	}
	writeJSON(w, http.StatusOK, map[string]bool{"reset": true, "mailed": mailed})
}

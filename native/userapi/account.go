package userapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// exists answers 1 or 0.
func (h *Handler) exists(w http.ResponseWriter, r *http.Request, req request) {
	_, err := h.cfg.Users.UserByName(r.Context(), req.name)
	switch {
	case err == nil:
		text(w, "1")
	case errors.Is(err, store.ErrNotFound):
		text(w, "0")
	default:
		h.fail(w, r, backend("exists", err))
	}
}

// createBody is the PUT document; fields are raw so a wrong JSON type
// counts as missing rather than as a parse failure.
type createBody struct {
	Password         json.RawMessage `json:"password"`
	Email            json.RawMessage `json:"email"`
	CaptchaChallenge json.RawMessage `json:"captcha-challenge"`
	CaptchaResponse  json.RawMessage `json:"captcha-response"`
}

func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// create registers an account. Checks run gate, name, JSON, captcha,
// existence, password, e-mail: the cheap and anonymous ones first, and the
// captcha before anything that tells an unknown client about accounts.
func (h *Handler) create(w http.ResponseWriter, r *http.Request, req request) {
	if err := h.registrationGate(r); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.raw != req.name && !auth.ValidLegacyName(req.raw) {
		// An e-mail address in the path: clients send the derived name.
		h.fail(w, r, codeErr(400, weave.CodeInvalidUsername, "create needs the derived name, not %q", req.raw))
		return
	}
	var body createBody
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil || json.Unmarshal(data, &body) != nil {
		h.fail(w, r, codeErr(400, weave.CodeJSONParse, "create body is not a JSON object"))
		return
	}
	if err := h.checkCaptcha(r, req.name, body.CaptchaChallenge, body.CaptchaResponse); err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.newUser(r, req.name, body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.cfg.Users.CreateUser(r.Context(), u); errors.Is(err, store.ErrUserExists) {
		h.fail(w, r, codeErr(400, weave.CodeInvalidWrite, "user %q exists", req.name))
		return
	} else if err != nil {
		h.fail(w, r, backend("create", err))
		return
	}
	h.emit(r, "AccountCreated", "Account created", 4, req.name)
	text(w, req.name)
}

// registrationGate applies the Registration policy.
func (h *Handler) registrationGate(r *http.Request) error {
	switch h.cfg.Registration.Mode {
	case RegClosed:
		return codeErr(http.StatusForbidden, weave.CodeUnsupported, "registration closed")
	case RegSecret:
		if !h.secretOK(r) {
			return codeErr(http.StatusForbidden, weave.CodeUnsupported, "registration needs X-Weave-Secret")
		}
	}
	return nil
}

// checkCaptcha verifies the captcha fields unless captcha is off or the
// request carries the shared secret.
func (h *Handler) checkCaptcha(r *http.Request, name string, challenge, response json.RawMessage) error {
	if h.cfg.Captcha == nil || h.secretOK(r) {
		return nil
	}
	c, _ := jsonString(challenge)
	s, _ := jsonString(response)
	return h.verifyCaptcha(r, name, c, s)
}

func (h *Handler) verifyCaptcha(r *http.Request, name, challenge, response string) error {
	ok, err := h.cfg.Captcha.Verify(r.Context(), challenge, response, remoteIP(r))
	if err != nil {
		return msgErr(http.StatusServiceUnavailable, "Captcha service unavailable", err)
	}
	if !ok {
		h.emit(r, "CaptchaFail", "Captcha failed", 5, name)
		return codeErr(400, weave.CodeCaptcha, "captcha refused")
	}
	return nil
}

// newUser validates the rest of the document into a users row.
func (h *Handler) newUser(r *http.Request, name string, body createBody) (store.User, error) {
	_, err := h.cfg.Users.UserByName(r.Context(), name)
	if err == nil {
		return store.User{}, codeErr(400, weave.CodeInvalidWrite, "user %q exists", name)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, backend("create lookup", err)
	}
	password, _ := jsonString(body.Password)
	if err := passwordError(name, password); err != nil {
		return store.User{}, err
	}
	email, _ := jsonString(body.Email)
	if email != "" {
		if auth.ValidateEmail(email) != nil {
			return store.User{}, codeErr(400, weave.CodeNoEmail, "invalid e-mail address")
		}
		// PY strict_usernames, applied only to names shaped like derived
		// ones: a hand-picked legacy name may come with any address.
		if auth.LooksDerived(name) && !auth.EmailMatchesName(email, name) {
			return store.User{}, codeErr(400, weave.CodeEmailMismatch, "e-mail does not match %q", name)
		}
	}
	u := store.User{Username: name, Email: email, Status: 1}
	if err := h.cfg.PasswordHash.Apply(h.cfg.Users, &u, password); err != nil {
		return store.User{}, backend("hash password", err)
	}
	return u, nil
}

// passwordError maps the strength rule to Weave codes 7 and 9.
func passwordError(name, password string) error {
	switch err := auth.CheckPasswordStrength(name, password); {
	case errors.Is(err, auth.ErrMissingPassword):
		return codeErr(400, weave.CodeMissingPassword, "missing password")
	case err != nil:
		return codeErr(400, weave.CodeWeakPassword, "weak password")
	}
	return nil
}

// deleteUser removes the account and all its storage.
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, req request) {
	u, err := h.cfg.Auth.Authenticate(r, req.raw)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.cfg.Users.DeleteUser(r.Context(), u.ID); err != nil {
		h.fail(w, r, backend("delete", err))
		return
	}
	h.emit(r, "AccountDeleted", "Account deleted", 9, u.Username)
	text(w, "1")
}

package resetpages

import (
	"errors"
	"net/http"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
)

const resetTitle = "Reset your Sync password"

// reset dispatches the four states of the reset page.
func (h *Handler) reset(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.render(w, http.StatusBadRequest, page{Title: resetTitle, Form: "forgot", Captcha: h.captchaHTML()})
		return
	}
	_, hasKey := r.Form["key"]
	switch {
	case r.Method == http.MethodGet && !hasKey:
		h.render(w, http.StatusOK, page{Title: resetTitle, Form: "forgot", Captcha: h.captchaHTML()})
	case r.Method == http.MethodGet:
		h.render(w, http.StatusOK, page{Title: resetTitle, Form: "reset",
			Username: r.Form.Get("username"), Key: r.Form.Get("key")})
	case !hasKey:
		h.sendKey(w, r)
	default:
		h.setPassword(w, r)
	}
}

// sendKey handles the forgot form: mail a key to the account's address.
func (h *Handler) sendKey(w http.ResponseWriter, r *http.Request) {
	typed := r.PostForm.Get("username")
	again := func(status int, msg string) {
		h.render(w, status, page{Title: resetTitle, Form: "forgot", Message: msg, Username: typed, Captcha: h.captchaHTML()})
	}
	if h.cfg.Resets == nil || !h.cfg.Resets.Enabled() {
		again(http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	name := normalize(typed)
	if name == "" {
		again(http.StatusBadRequest, msgNoUsername)
		return
	}
	if h.cfg.Captcha != nil {
		resp := r.PostForm.Get("g-recaptcha-response")
		if resp == "" {
			resp = r.PostForm.Get("recaptcha_response_field")
		}
		ok, err := h.cfg.Captcha.Verify(r.Context(), r.PostForm.Get("recaptcha_challenge_field"), resp, remoteIP(r))
		if err != nil || !ok {
			h.emit(r, "CaptchaFail", "Captcha failed on the reset page", 5, name)
			again(http.StatusBadRequest, msgCaptcha)
			return
		}
	}
	u, err := h.cfg.Users.UserByName(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		again(http.StatusBadRequest, msgNoAccount)
		return
	} else if err != nil {
		h.log.ErrorContext(r.Context(), "reset page: lookup", "err", err)
		again(http.StatusServiceUnavailable, msgBackend)
		return
	}
	sent, err := h.cfg.Resets.Request(r.Context(), u)
	switch {
	case errors.Is(err, auth.ErrNoEmail):
		again(http.StatusBadRequest, msgNoEmail)
		return
	case errors.Is(err, auth.ErrDisabled):
		again(http.StatusForbidden, msgDisabled)
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "reset page: request", "user", u.Username, "err", err)
		again(http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	note := "Reset code mailed from the reset page"
	if !sent {
		note = "Reset requested on the reset page while a code is live; nothing sent"
	}
	h.emit(r, "PasswordResetRequested", note, 5, u.Username)
	h.render(w, http.StatusOK, page{Title: resetTitle, Notice: msgKeySent})
}

// setPassword handles the reset form, checking in the order of the Python
// pages and re-rendering the form with the first failure.
func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	typed, key := f.Get("username"), strings.TrimSpace(f.Get("key"))
	password, confirm := f.Get("password"), f.Get("confirm")
	again := func(status int, msg string) {
		h.render(w, status, page{Title: resetTitle, Form: "reset", Message: msg, Username: typed, Key: key})
	}
	if strings.TrimSpace(typed) == "" {
		again(http.StatusBadRequest, msgNoUsername)
		return
	}
	name := normalize(typed)
	u, err := h.lookup(r, name)
	if errors.Is(err, store.ErrNotFound) {
		again(http.StatusBadRequest, msgNoAccount)
		return
	} else if err != nil {
		again(http.StatusServiceUnavailable, msgBackend)
		return
	}
	switch {
	case password == "":
		again(http.StatusBadRequest, msgNoPassword)
		return
	case password != confirm:
		again(http.StatusBadRequest, msgMismatch)
		return
	case auth.CheckPasswordStrength(u.Username, password) != nil:
		again(http.StatusBadRequest, msgWeak)
		return
	}
	if h.cfg.Resets == nil {
		again(http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	if err := h.cfg.Resets.Complete(r.Context(), u, key, password); errors.Is(err, auth.ErrInvalidResetCode) {
		h.emit(r, "InvalidResetCode", "Invalid reset code on the reset page", 5, u.Username)
		again(http.StatusBadRequest, msgBadKey)
		return
	} else if errors.Is(err, auth.ErrDisabled) {
		again(http.StatusForbidden, msgDisabled)
		return
	} else if err != nil {
		h.log.ErrorContext(r.Context(), "reset page: complete", "user", u.Username, "err", err)
		again(http.StatusServiceUnavailable, msgBackend)
		return
	}
	h.emit(r, "PasswordResetCompleted", "Password reset on the reset page", 9, u.Username)
	h.render(w, http.StatusOK, page{Title: resetTitle, Notice: msgChanged})
}

func (h *Handler) lookup(r *http.Request, name string) (store.User, error) {
	if name == "" {
		return store.User{}, store.ErrNotFound
	}
	u, err := h.cfg.Users.UserByName(r.Context(), name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.ErrorContext(r.Context(), "reset page: lookup", "err", err)
	}
	return u, err
}

const deleteTitle = "Delete your Sync account"

// deleteAccount shows the form (GET) or deletes the account (POST).
func (h *Handler) deleteAccount(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		h.render(w, http.StatusOK, page{Title: deleteTitle, Form: "delete"})
		return
	}
	if err := r.ParseForm(); err != nil {
		h.render(w, http.StatusBadRequest, page{Title: deleteTitle, Form: "delete"})
		return
	}
	typed := r.PostForm.Get("username")
	again := func(status int, msg string) {
		h.render(w, status, page{Title: deleteTitle, Form: "delete", Message: msg, Username: typed})
	}
	name := normalize(typed)
	switch {
	case strings.TrimSpace(typed) == "":
		again(http.StatusBadRequest, msgNoUsername)
		return
	case r.PostForm.Get("confirm") != "yes":
		again(http.StatusBadRequest, msgConfirmDelete)
		return
	case name == "":
		again(http.StatusUnauthorized, msgBadLogin)
		return
	}
	u, err := h.cfg.Auth.Authenticate(withBasic(r, name, r.PostForm.Get("password")), name)
	var locked *auth.LockedError
	switch {
	case errors.As(err, &locked):
		w.Header().Set("Retry-After", retryAfter(locked))
		again(http.StatusTooManyRequests, "This account is locked after too many failed attempts. Please try again later.")
		return
	case errors.Is(err, auth.ErrDisabled):
		again(http.StatusForbidden, msgDisabled)
		return
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrNoCredentials), errors.Is(err, auth.ErrMismatch):
		again(http.StatusUnauthorized, msgBadLogin)
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "delete page: auth", "err", err)
		again(http.StatusServiceUnavailable, msgBackend)
		return
	}
	if err := h.cfg.Users.DeleteUser(r.Context(), u.ID); err != nil {
		h.log.ErrorContext(r.Context(), "delete page: delete", "user", u.Username, "err", err)
		again(http.StatusServiceUnavailable, msgBackend)
		return
	}
	h.emit(r, "AccountDeleted", "Account deleted on the web page", 9, u.Username)
	h.render(w, http.StatusOK, page{Title: deleteTitle, Notice: msgDeleted})
}

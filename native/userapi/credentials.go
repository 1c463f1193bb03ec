package userapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// authed authenticates the path's user and sets X-Weave-Alert like PHP.
func (h *Handler) authed(w http.ResponseWriter, r *http.Request, req request) (store.User, bool) {
	u, err := h.cfg.Auth.Authenticate(r, req.raw)
	if err != nil {
		h.fail(w, r, err)
		return u, false
	}
	if u.Alert != "" {
		w.Header().Set("X-Weave-Alert", u.Alert)
	}
	return u, true
}

func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (string, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	return string(b), err
}

func (h *Handler) getEmail(w http.ResponseWriter, r *http.Request, req request) {
	if u, ok := h.authed(w, r, req); ok {
		text(w, u.Email)
	}
}

func (h *Handler) changeEmail(w http.ResponseWriter, r *http.Request, req request) {
	u, ok := h.authed(w, r, req)
	if !ok {
		return
	}
	email, err := h.readBody(w, r)
	if err != nil || auth.ValidateEmail(email) != nil {
		h.fail(w, r, codeErr(400, weave.CodeNoEmail, "invalid e-mail address"))
		return
	}
	if err := h.cfg.Users.SetEmail(r.Context(), u.ID, email); err != nil {
		h.fail(w, r, backend("set email", err))
		return
	}
	h.emit(r, "EmailChanged", "E-mail address changed", 5, u.Username)
	text(w, email)
}

// changePassword sets a new password, authorised by Basic credentials or
// by a reset code in X-Weave-Password-Reset (which wins when both come).
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, req request) {
	code, viaReset := r.Header.Get("X-Weave-Password-Reset"), r.Header.Get("X-Weave-Password-Reset") != ""
	var u store.User
	if viaReset {
		var err error
		if u, err = h.checkResetCode(r, req, code); err != nil {
			h.fail(w, r, err)
			return
		}
	} else {
		var ok bool
		if u, ok = h.authed(w, r, req); !ok {
			return
		}
	}
	password, err := h.readBody(w, r)
	if err != nil || !utf8.ValidString(password) {
		password = ""
	}
	if err := passwordError(u.Username, password); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.cfg.PasswordHash.Set(r.Context(), h.cfg.Users, u.ID, password); err != nil {
		h.fail(w, r, backend("set password", err))
		return
	}
	// Any pending reset code dies with the old password.
	if err := h.cfg.Users.ClearResetCode(r.Context(), u.ID); err != nil && !errors.Is(err, store.ErrNoResetCode) {
		h.log.WarnContext(r.Context(), "user api: clearing reset code", "user", u.Username, "err", err)
	}
	if viaReset {
		h.emit(r, "PasswordResetCompleted", "Password reset with a reset code", 9, u.Username)
	} else {
		h.emit(r, "PasswordChanged", "Password changed", 5, u.Username)
	}
	text(w, "success")
}

// checkResetCode finds the user and verifies code. An unknown user is 404
// (PY; whether a name exists is public anyway: GET /user/1.0/<name>);
// every failure of the code itself is 400 10, so the answer says nothing
// about which part of it was wrong.
func (h *Handler) checkResetCode(r *http.Request, req request, code string) (store.User, error) {
	bad := func(cause error) (store.User, error) {
		h.emit(r, "InvalidResetCode", "Invalid reset code submitted", 5, req.name)
		return store.User{}, &weave.Error{Status: 400, Code: weave.CodeInvalidResetCode, Err: cause}
	}
	u, err := h.cfg.Users.UserByName(r.Context(), req.name)
	if errors.Is(err, store.ErrNotFound) {
		h.emit(r, "InvalidResetCode", "Reset code submitted for an unknown user", 5, req.name)
		return u, msgErr(http.StatusNotFound, errNotFound.Message, fmt.Errorf("reset code for unknown user %q: %w", req.name, err))
	} else if err != nil {
		return u, backend("reset lookup", err)
	}
	if h.cfg.Resets == nil {
		return bad(errors.New("resets not configured"))
	}
	if err := h.cfg.Resets.Verify(r.Context(), u, code); errors.Is(err, auth.ErrInvalidResetCode) {
		return bad(err)
	} else if errors.Is(err, auth.ErrDisabled) {
		return u, err
	} else if err != nil {
		return u, backend("reset verify", err)
	}
	return u, nil
}

// requestReset mails a reset code. A second request while a code is live
// sends nothing and answers success all the same.
// The order is the client's: captcha (when on), then the user (400 3 for
// a name that does not exist, whatever the server is missing), then the
// mail service, so a client can tell a typo from a server that cannot
// mail.
func (h *Handler) requestReset(w http.ResponseWriter, r *http.Request, req request) {
	if h.cfg.Captcha != nil {
		q := r.URL.Query()
		if err := h.verifyCaptcha(r, req.name, q.Get("captcha-challenge"), q.Get("captcha-response")); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	u, err := h.cfg.Users.UserByName(r.Context(), req.name)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, codeErr(400, weave.CodeInvalidUsername, "no user %q", req.name))
		return
	} else if err != nil {
		h.fail(w, r, backend("reset lookup", err))
		return
	}
	if h.cfg.Resets == nil || !h.cfg.Resets.Enabled() {
		h.fail(w, r, msgErr(http.StatusServiceUnavailable, "Password reset unavailable", auth.ErrNoMailer))
		return
	}
	sent, err := h.cfg.Resets.Request(r.Context(), u)
	switch {
	case errors.Is(err, auth.ErrNoEmail):
		h.fail(w, r, codeErr(400, weave.CodeNoEmail, "no e-mail for %q", u.Username))
		return
	case errors.Is(err, auth.ErrDisabled):
		h.fail(w, r, err)
		return
	case errors.Is(err, auth.ErrMailFailed):
		h.log.ErrorContext(r.Context(), "user api: reset mail", "user", u.Username, "err", err)
		h.fail(w, r, msgErr(http.StatusServiceUnavailable, "Mail delivery failed", err))
		return
	case err != nil:
		h.fail(w, r, backend("reset request", err))
		return
	}
	msg := "Reset code mailed"
	if !sent {
		msg = "Reset requested while a code is live; nothing sent"
	}
	h.emit(r, "PasswordResetRequested", msg, 5, u.Username)
	text(w, "success")
}

// clearReset drops a pending code for the authenticated user.
func (h *Handler) clearReset(w http.ResponseWriter, r *http.Request, req request) {
	u, ok := h.authed(w, r, req)
	if !ok {
		return
	}
	if err := h.cfg.Users.ClearResetCode(r.Context(), u.ID); err != nil && !errors.Is(err, store.ErrNoResetCode) {
		h.fail(w, r, backend("clear reset", err))
		return
	}
	h.emit(r, "PasswordResetCleared", "Password reset code cleared", 9, u.Username)
	text(w, "success")
}

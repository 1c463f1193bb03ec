package cef

import (
	"strconv"
	"time"
)

// Signatures: the short event ids of shared/spec/security.md §4. The
// reference servers used the first six; the rest are ours.
const (
	SigAuthFail             = "AuthFail"
	SigCaptchaFail          = "CaptchaFail"
	SigInvalidResetCode     = "InvalidResetCode"
	SigPasswordResetCleared = "PasswordResetCleared"
	SigInvalidAdmin         = "InvalidAdmin"
	// SigAccountLockout is the reference's name; we emit SigAccountLocked.
	SigAccountLockout = "AccountLockout"

	SigAccountLocked          = "AccountLocked"
	SigAccountUnlocked        = "AccountUnlocked"
	SigAccountCreated         = "AccountCreated"
	SigAccountDeleted         = "AccountDeleted"
	SigPasswordChanged        = "PasswordChanged"
	SigPasswordResetRequested = "PasswordResetRequested"
	SigPasswordResetCompleted = "PasswordResetCompleted"
	SigEmailChanged           = "EmailChanged"
	SigOverQuota              = "OverQuota"
	SigRateLimited            = "RateLimited"
	SigCrossUserAccess        = "CrossUserAccess"
)

// AuthFail reasons: the sentences the reference servers logged as the
// event name. Those about a client that is not merely mistaken (a name
// that cannot be typed, an account of another node) are severity 7.
const (
	ReasonAuthFailed      = "User Authentication Failed"
	ReasonUserMismatch    = "Username Does Not Match URL"
	ReasonInvalidUsername = "Username contains invalid characters"
	ReasonPasswordNotUTF8 = "Password is not utf-8 encoded"
	ReasonWrongNode       = "User authenticated to wrong node"
	ReasonNoAuthHeader    = "No Authorization header was provided"
	ReasonUnknownProtocol = "Authorization header contains unknown protocol"
	ReasonBadlyEncoded    = "Authorization header is badly encoded"
)

// AuthFail is a failed authentication for user (as sent; may be empty).
func AuthFail(user, reason string) Event {
	sev := 5
	switch reason {
	case ReasonUserMismatch, ReasonInvalidUsername, ReasonPasswordNotUTF8, ReasonWrongNode:
		sev = 7
	}
	return Event{Signature: SigAuthFail, Name: reason, Severity: sev, Username: user}
}

// requested names the account a request reached for, when it is not the
// authenticated one.
func requested(pathUser string) [][2]string {
	return [][2]string{{"cs2Label", "requestedUser"}, {"cs2", pathUser}}
}

// UserMismatch is an AuthFail for credentials that do not name the path's
// user (and did not verify, else it is CrossUserAccess).
func UserMismatch(authUser, pathUser string) Event {
	ev := AuthFail(authUser, ReasonUserMismatch)
	ev.Extensions = requested(pathUser)
	return ev
}

// CrossUserAccess: valid credentials of authUser used on pathUser's data.
func CrossUserAccess(authUser, pathUser string) Event {
	return Event{Signature: SigCrossUserAccess, Name: "Authenticated user accessed another account",
		Severity: 7, Username: authUser, Extensions: requested(pathUser)}
}

// CaptchaFail: a missing or wrong captcha answer.
func CaptchaFail(user string) Event {
	return Event{Signature: SigCaptchaFail, Name: "Captcha failed", Severity: 5, Username: user}
}

// InvalidResetCode: a wrong password-reset code was submitted. The code
// itself is a secret and is never logged.
func InvalidResetCode(user string) Event {
	return Event{Signature: SigInvalidResetCode, Name: "Invalid reset code submitted", Severity: 5, Username: user}
}

// PasswordResetCleared: a pending reset code was cleared.
func PasswordResetCleared(user string) Event {
	return Event{Signature: SigPasswordResetCleared, Name: "Password reset code cleared", Severity: 9, Username: user}
}

// InvalidAdmin: an admin override (X-Weave-Secret and the like) failed.
func InvalidAdmin(user string) Event {
	return Event{Signature: SigInvalidAdmin, Name: "Invalid admin secret", Severity: 7, Username: user}
}

// AccountLocked: failures reached the threshold; locked until until.
func AccountLocked(user string, failures int64, until time.Time) Event {
	return Event{Signature: SigAccountLocked, Name: "Account locked after repeated authentication failures",
		Severity: 8, Username: user, Extensions: [][2]string{
			{"cn1Label", "failures"}, {"cn1", strconv.FormatInt(failures, 10)},
			{"end", strconv.FormatInt(until.UnixMilli(), 10)},
		}}
}

// AccountUnlocked: an administrator lifted a lock (or cleared the
// failure counter of an account that was not locked).
func AccountUnlocked(user string) Event {
	return Event{Signature: SigAccountUnlocked, Name: "Account unlocked", Severity: 5, Username: user}
}

// AccountCreated: a new account.
func AccountCreated(user string) Event {
	return Event{Signature: SigAccountCreated, Name: "Account created", Severity: 5, Username: user}
}

// AccountDeleted: an account and its data were deleted.
func AccountDeleted(user string) Event {
	return Event{Signature: SigAccountDeleted, Name: "Account deleted", Severity: 9, Username: user}
}

// PasswordChanged: the authenticated user changed their password.
func PasswordChanged(user string) Event {
	return Event{Signature: SigPasswordChanged, Name: "Password changed", Severity: 7, Username: user}
}

// PasswordResetRequested: a reset code was issued and mailed.
func PasswordResetRequested(user string) Event {
	return Event{Signature: SigPasswordResetRequested, Name: "Password reset requested", Severity: 5, Username: user}
}

// PasswordResetCompleted: a password was set with a valid reset code.
func PasswordResetCompleted(user string) Event {
	return Event{Signature: SigPasswordResetCompleted, Name: "Password reset completed", Severity: 9, Username: user}
}

// EmailChanged: the account's e-mail address changed.
func EmailChanged(user string) Event {
	return Event{Signature: SigEmailChanged, Name: "E-mail address changed", Severity: 5, Username: user}
}

// OverQuota: a write was refused because the user's storage is full.
func OverQuota(user string, usedKB, quotaKB int64) Event {
	return Event{Signature: SigOverQuota, Name: "Storage quota exceeded", Severity: 4, Username: user,
		Extensions: [][2]string{
			{"cn1Label", "usedKB"}, {"cn1", strconv.FormatInt(usedKB, 10)},
			{"cn2Label", "quotaKB"}, {"cn2", strconv.FormatInt(quotaKB, 10)},
		}}
}

// RateLimited: requests of class by subject (a user name, or a source
// address for registrations) went over limit within one window.
func RateLimited(user, class, subject string, limit int64, window time.Duration) Event {
	return Event{Signature: SigRateLimited, Name: "Request rate limit exceeded", Severity: 6, Username: user,
		Extensions: [][2]string{
			{"cs2Label", "rateClass"}, {"cs2", class},
			{"cs3Label", "rateSubject"}, {"cs3", subject},
			{"cn1Label", "limit"}, {"cn1", strconv.FormatInt(limit, 10)},
			{"cn2Label", "windowSeconds"}, {"cn2", strconv.FormatInt(int64(window/time.Second), 10)},
		}}
}

package cef

import (
	"testing"
	"time"
)

// TestVocabulary: every constructor gives the signature and severity the
// spec names, and a line the parser accepts.
func TestVocabulary(t *testing.T) {
	until := t0.Add(30 * time.Minute)
	tests := []struct {
		ev  Event
		sig string
		sev int
	}{
		{AuthFail("u", ReasonAuthFailed), SigAuthFail, 5},
		{AuthFail("u", ReasonNoAuthHeader), SigAuthFail, 5},
		{AuthFail("u", ReasonUnknownProtocol), SigAuthFail, 5},
		{AuthFail("u", ReasonBadlyEncoded), SigAuthFail, 5},
		{AuthFail("u", ReasonInvalidUsername), SigAuthFail, 7},
		{AuthFail("u", ReasonPasswordNotUTF8), SigAuthFail, 7},
		{AuthFail("u", ReasonWrongNode), SigAuthFail, 7},
		{UserMismatch("u", "v"), SigAuthFail, 7},
		{CrossUserAccess("u", "v"), SigCrossUserAccess, 7},
		{CaptchaFail("u"), SigCaptchaFail, 5},
		{InvalidResetCode("u"), SigInvalidResetCode, 5},
		{PasswordResetCleared("u"), SigPasswordResetCleared, 9},
		{InvalidAdmin("u"), SigInvalidAdmin, 7},
		{AccountLocked("u", 10, until), SigAccountLocked, 8},
		{AccountUnlocked("u"), SigAccountUnlocked, 5},
		{AccountCreated("u"), SigAccountCreated, 5},
		{AccountDeleted("u"), SigAccountDeleted, 9},
		{PasswordChanged("u"), SigPasswordChanged, 7},
		{PasswordResetRequested("u"), SigPasswordResetRequested, 5},
		{PasswordResetCompleted("u"), SigPasswordResetCompleted, 9},
		{EmailChanged("u"), SigEmailChanged, 5},
		{OverQuota("u", 5200, 5120), SigOverQuota, 4},
		{RateLimited("u", "read", "u", 600, time.Minute), SigRateLimited, 6},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		if tt.ev.Signature != tt.sig || tt.ev.Severity != tt.sev || tt.ev.Name == "" {
			t.Errorf("%+v: want %s/%d", tt.ev, tt.sig, tt.sev)
		}
		covered[tt.sig] = true
		p, err := parseCEF(Format(Config{}, newReq("GET", "/", "ua"), tt.ev, t0))
		if err != nil {
			t.Errorf("%s: %v", tt.sig, err)
			continue
		}
		for _, kv := range tt.ev.Extensions {
			if p.Ext[kv[0]] != kv[1] {
				t.Errorf("%s: extension %s = %q, want %q", tt.sig, kv[0], p.Ext[kv[0]], kv[1])
			}
		}
	}
	// Every signature security.md §4 asks us to emit has a constructor.
	for _, sig := range []string{"AuthFail", "CaptchaFail", "InvalidResetCode", "PasswordResetCleared", "InvalidAdmin",
		"AccountLocked", "AccountUnlocked", "AccountCreated", "AccountDeleted", "PasswordChanged",
		"PasswordResetRequested", "PasswordResetCompleted", "EmailChanged", "OverQuota", "RateLimited", "CrossUserAccess"} {
		if !covered[sig] {
			t.Errorf("no constructor tested for %s", sig)
		}
	}
}

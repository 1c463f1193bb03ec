package auth

import (
	"errors"
	"regexp"
	"strings"
)

var (
	// ErrWeakPassword: shorter than MinPasswordBytes or equal to the name.
	ErrWeakPassword = errors.New("auth: password not strong enough")
	// ErrMissingPassword: no password, or one that is not UTF-8 text.
	ErrMissingPassword = errors.New("auth: missing password")
	// ErrInvalidEmail: not a conventional local@domain address, or too
	// long for the legacy column.
	ErrInvalidEmail = errors.New("auth: invalid e-mail address")
)

// MinPasswordBytes is the Python server's rule: 8 bytes once UTF-8 encoded
// (PHP counted bytes too, with strlen).
const MinPasswordBytes = 8

// MaxEmailLen is the width of users.email (varbinary(64)).
const MaxEmailLen = 64

// CheckPasswordStrength applies the Python rule: at least MinPasswordBytes
// bytes, and not the username (compared trimmed and case-insensitively).
func CheckPasswordStrength(username, password string) error {
	if password == "" {
		return ErrMissingPassword
	}
	if len(password) < MinPasswordBytes {
		return ErrWeakPassword
	}
	if strings.EqualFold(strings.TrimSpace(password), strings.TrimSpace(username)) {
		return ErrWeakPassword
	}
	return nil
}

// emailRE is the "conventional address" check of the Python server: one
// '@', something on each side, a dot in the domain, no spaces. It is no
// RFC 5322 parser and does not try to be.
var emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// ValidateEmail checks an address before it is stored or mailed to. Control
// characters are refused so an address can never inject mail headers.
func ValidateEmail(email string) error {
	if len(email) > MaxEmailLen || !emailRE.MatchString(email) {
		return ErrInvalidEmail
	}
	for _, r := range email {
		if r < 0x20 || r == 0x7f {
			return ErrInvalidEmail
		}
	}
	return nil
}

// EmailMatchesName reports whether name is the account name derived from
// email, in the server's IDN form or the Firefox client's plain form.
func EmailMatchesName(email, name string) bool {
	name = strings.ToLower(name)
	if d, err := DeriveUsername(email); err == nil && d == name {
		return true
	}
	return ClientDerivedUsername(email) == name
}

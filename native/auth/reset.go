package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
)

var (
	// ErrNoMailer: password resets need a mailer and none is configured.
	ErrNoMailer = errors.New("auth: no mailer configured")
	// ErrNoEmail: the account has no address to send a code to.
	ErrNoEmail = errors.New("auth: no e-mail address on file")
	// ErrInvalidResetCode: malformed, unknown, expired or wrong code.
	ErrInvalidResetCode = errors.New("auth: invalid reset code")
	// ErrMailFailed: the mail server refused or could not be reached.
	ErrMailFailed = errors.New("auth: sending mail failed")
)

// DefaultResetTTL is how long a reset code lives (the Python server's 6h).
const DefaultResetTTL = 6 * time.Hour

// ResetSubject is the subject of the reset mail, as the Python server sent.
const ResetSubject = "Resetting your Services password"

const resetAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// NewResetCode returns a fresh code XXXX-XXXX-XXXX-XXXX over A–Z0–9 from
// crypto/rand (about 82 bits).
func NewResetCode() (string, error) {
	var b strings.Builder
	max := big.NewInt(int64(len(resetAlphabet)))
	for i := 0; i < 16; i++ {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("auth: reset code: %w", err)
		}
		b.WriteByte(resetAlphabet[n.Int64()])
	}
	return b.String(), nil
}

// ValidResetCodeFormat reports whether code has the shape of a reset code.
func ValidResetCodeFormat(code string) bool {
	if len(code) != 19 {
		return false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if i%5 == 4 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// storedCode is what the database keeps: SHA-256 of the code cut to 128
// bits (32 hex characters, the width of reset_codes.code), so that read
// access to that table is not a way into every pending account.
func storedCode(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:16])
}

// ResetConfig configures Resets.
type ResetConfig struct {
	Users  store.Users
	Mailer Mailer // nil: Request answers ErrNoMailer
	TTL    time.Duration
	Now    func() time.Time
	// PublicURL is the externally visible base of the reset page, e.g.
	// "https://sync.example.com". It is configuration, never the request's
	// Host header, which an attacker controls (reset-link poisoning). Empty:
	// the mail carries the code without a link.
	PublicURL string
	// PasswordHash is how the new password is stored (zero: legacy md5).
	PasswordHash PasswordHash
}

// Resets issues, checks and clears password-reset codes, shared by the
// User API and the web pages.
type Resets struct{ cfg ResetConfig }

// NewResets returns a Resets for cfg, with defaults filled in.
func NewResets(cfg ResetConfig) *Resets {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultResetTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Resets{cfg: cfg}
}

// Enabled reports whether codes can be mailed at all.
func (s *Resets) Enabled() bool { return s.cfg.Mailer != nil }

// Request mails u a new code unless a live one exists; sent says whether a
// mail went out. A failed delivery clears the new code so a retry sends.
func (s *Resets) Request(ctx context.Context, u store.User) (sent bool, err error) {
	if s.cfg.Mailer == nil {
		return false, ErrNoMailer
	}
	if u.Status != 1 {
		return false, ErrDisabled
	}
	if u.Email == "" {
		return false, ErrNoEmail
	}
	if _, err := s.live(ctx, u); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrInvalidResetCode) {
		return false, err
	}
	code, err := NewResetCode()
	if err != nil {
		return false, err
	}
	rc := store.ResetCode{Code: storedCode(code), Expires: s.cfg.Now().Add(s.cfg.TTL)}
	if err := s.cfg.Users.SetResetCode(ctx, u.ID, rc); err != nil {
		return false, fmt.Errorf("auth: storing reset code: %w", err)
	}
	if err := s.cfg.Mailer.Send(ctx, s.resetMail(u, code)); err != nil {
		if cerr := s.cfg.Users.ClearResetCode(ctx, u.ID); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return false, fmt.Errorf("%w: %w", ErrMailFailed, err)
	}
	return true, nil
}

// live returns the user's unexpired code; ErrInvalidResetCode when none.
func (s *Resets) live(ctx context.Context, u store.User) (store.ResetCode, error) {
	rc, err := s.cfg.Users.GetResetCode(ctx, u.ID)
	if errors.Is(err, store.ErrNoResetCode) {
		return rc, ErrInvalidResetCode
	}
	if err != nil {
		return rc, fmt.Errorf("auth: reading reset code: %w", err)
	}
	if !s.cfg.Now().Before(rc.Expires) {
		return rc, ErrInvalidResetCode
	}
	return rc, nil
}

// Verify checks code against u's live code in constant time. A disabled
// account is refused whatever the code (ErrDisabled).
func (s *Resets) Verify(ctx context.Context, u store.User, code string) error {
	if u.Status != 1 {
		return ErrDisabled
	}
	if !ValidResetCodeFormat(code) {
		return ErrInvalidResetCode
	}
	rc, err := s.live(ctx, u)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(rc.Code), []byte(storedCode(code))) != 1 {
		return ErrInvalidResetCode
	}
	return nil
}

// Complete checks code, sets the new password and clears the code.
func (s *Resets) Complete(ctx context.Context, u store.User, code, newPassword string) error {
	if err := s.Verify(ctx, u, code); err != nil {
		return err
	}
	if err := s.cfg.PasswordHash.Set(ctx, s.cfg.Users, u.ID, newPassword); err != nil {
		return fmt.Errorf("auth: setting password: %w", err)
	}
	return s.Clear(ctx, u)
}

// Clear removes any pending code of u.
func (s *Resets) Clear(ctx context.Context, u store.User) error {
	if err := s.cfg.Users.ClearResetCode(ctx, u.ID); err != nil && !errors.Is(err, store.ErrNoResetCode) {
		return fmt.Errorf("auth: clearing reset code: %w", err)
	}
	return nil
}

// ResetLink is the page address a code is mailed with; "" without PublicURL.
func (s *Resets) ResetLink(username, code string) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	return s.cfg.PublicURL + "/weave-password-reset?username=" + url.QueryEscape(username) +
		"&key=" + url.QueryEscape(code)
}

func (s *Resets) resetMail(u store.User, code string) Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\nSomeone, hopefully you, asked to reset the password of the Services account %q.\n\n", u.Username)
	if link := s.ResetLink(u.Username, code); link != "" {
		fmt.Fprintf(&b, "To choose a new password, open this link:\n\n%s\n\n", link)
	}
	fmt.Fprintf(&b, "Your reset key is: %s\n\nIt is valid for %s. If you did not ask for a reset, ignore this mail: your password stays unchanged.\n",
		code, humanDuration(s.cfg.TTL))
	return Message{To: u.Email, Subject: ResetSubject, Body: b.String()}
}

func humanDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		if d == time.Hour {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return fmt.Sprintf("%d minutes", d/time.Minute)
}

package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// PasswordHash is how new passwords are stored (--password-hash).
//
// Legacy writes md5 into users.md5, the only form PHP reads: it must stay
// while PHP still logs anyone in (any route forwarded to it). Bcrypt
// writes a salted bcrypt hash into a table of ours (users.md5 is
// varbinary(32), a bcrypt hash 60 bytes, and the legacy table is never
// altered) and BcryptMarker into users.md5; accounts still holding md5 are
// upgraded when they next log in. Both modes verify both forms.
type PasswordHash string

const (
	HashLegacy PasswordHash = "legacy"
	HashBcrypt PasswordHash = "bcrypt"
)

// BcryptMarker is what users.md5 holds for an account whose password is
// in the hash table: no md5 hex equals it, so PHP refuses the account
// rather than accept a stale password.
const BcryptMarker = "!bcrypt"

// BcryptCost is the work factor of new hashes (about 50 ms a check on one
// core); verified credentials are cached briefly (BasicOptions) so the
// proxy does not pay it per request.
const BcryptCost = 10

// ParsePasswordHash reads the flag value.
func ParsePasswordHash(s string) (PasswordHash, error) {
	switch h := PasswordHash(s); h {
	case HashLegacy, HashBcrypt:
		return h, nil
	}
	return "", fmt.Errorf("password hash: want bcrypt or legacy, got %q", s)
}

// Apply sets the password fields of a new account stored in users. A
// users that keeps passwords itself (a PasswordBackend: LDAP) gets its own
// form; one that has no hash table gets md5.
func (h PasswordHash) Apply(users store.Users, u *store.User, password string) error {
	if _, ok := users.(PasswordBackend); ok || !h.bcryptOn(users) {
		stored, err := StoredPassword(users, password)
		u.MD5, u.PasswordHash = stored, ""
		return err
	}
	hash, err := bcryptHash(password)
	if err != nil {
		return err
	}
	u.MD5, u.PasswordHash = BcryptMarker, hash
	return nil
}

// Set stores password as the user's new password, in the form Apply
// would choose.
func (h PasswordHash) Set(ctx context.Context, users store.Users, userID int64, password string) error {
	if _, ok := users.(PasswordBackend); ok || !h.bcryptOn(users) {
		stored, err := StoredPassword(users, password)
		if err != nil {
			return fmt.Errorf("auth: hashing a password: %w", err)
		}
		return users.SetPasswordMD5(ctx, userID, stored)
	}
	hash, err := bcryptHash(password)
	if err != nil {
		return err
	}
	return users.(store.PasswordHashes).SetPasswordHash(ctx, userID, hash, BcryptMarker)
}

func (h PasswordHash) bcryptOn(users store.Users) bool {
	_, ok := users.(store.PasswordHashes)
	return h == HashBcrypt && ok
}

// bcryptInput fits any password into bcrypt's 72 bytes: longer ones are
// replaced by their SHA-256, so no byte beyond the 72nd is ignored.
func bcryptInput(password string) []byte {
	if len(password) <= 72 {
		return []byte(password)
	}
	sum := sha256.Sum256([]byte(password))
	return []byte("sha256:" + hex.EncodeToString(sum[:]))
}

func bcryptHash(password string) (string, error) {
	b, err := bcrypt.GenerateFromPassword(bcryptInput(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("auth: hashing a password: %w", err)
	}
	return string(b), nil
}

// usesBcrypt: the account's password lives in the hash table.
func usesBcrypt(u store.User) bool { return u.MD5 == BcryptMarker }

package auth

import (
	"context"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// PasswordBackend is implemented by a store.Users that keeps passwords
// itself instead of in the legacy users.md5 column: an LDAP directory
// checks a password by binding as the user and stores its own hash form
// in userPassword. Basic, the User API and password resets go through
// VerifyPassword and StoredPassword below, which use the backend's methods
// when it has them and the users table's hash otherwise.
type PasswordBackend interface {
	// VerifyPassword reports whether password is u's. An error is a
	// backend failure (the directory is down), not a wrong password.
	VerifyPassword(ctx context.Context, u store.User, password string) (bool, error)
	// StoredPassword is the value CreateUser (in User.MD5) and
	// SetPasswordMD5 expect for password.
	StoredPassword(password string) (string, error)
}

// VerifyPassword checks password against u through users' own check when
// it is a PasswordBackend, else against the stored hash in u.
func VerifyPassword(ctx context.Context, users store.Users, u store.User, password string) (bool, error) {
	if pb, ok := users.(PasswordBackend); ok {
		return pb.VerifyPassword(ctx, u, password)
	}
	return CheckPassword(u, password), nil
}

// StoredPassword is what users stores for password: its backend's form
// when it is a PasswordBackend, else the legacy hash.
func StoredPassword(users store.Users, password string) (string, error) {
	if pb, ok := users.(PasswordBackend); ok {
		return pb.StoredPassword(password)
	}
	return HashPassword(password), nil
}

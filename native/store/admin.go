package store

import (
	"context"
	"errors"
)

// ErrUnsupported: the backend cannot do this (a directory without an
// attribute for it). The APIs answer it as an unsupported function.
var ErrUnsupported = errors.New("store: not supported by this accounts backend")

// ErrNoRoom: node assignment found no storage node with room.
var ErrNoRoom = errors.New("store: no storage node with room")

// UserAdmin is the operators' side of an accounts backend, used by the
// internal User API. The users table supports all of it; a directory
// what its attributes allow (ErrUnsupported otherwise).
type UserAdmin interface {
	// SetStatus writes users.status: 1 active, anything else disabled.
	SetStatus(ctx context.Context, userID int64, status int) error
	// SetLocation writes the user's storage node (a host; "" for none).
	SetLocation(ctx context.Context, userID int64, location string) error
	// SetAlert writes the X-Weave-Alert text; "" for none.
	SetAlert(ctx context.Context, userID int64, alert string) error
	// UsersByEmail lists the accounts with this address (compared
	// case-insensitively), oldest first.
	UsersByEmail(ctx context.Context, email string) ([]User, error)
}

package sqlstore

import (
	"context"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/store"
)

var _ store.UserAdmin = (*Engine)(nil)

// SetStatus implements store.UserAdmin.
func (e *Engine) SetStatus(ctx context.Context, userID int64, status int) error {
	return e.setUserColumn(ctx, userID, "status", status)
}

// SetLocation implements store.UserAdmin.
func (e *Engine) SetLocation(ctx context.Context, userID int64, location string) error {
	return e.setUserColumn(ctx, userID, "location", nullIfEmpty(location))
}

// SetAlert implements store.UserAdmin.
func (e *Engine) SetAlert(ctx context.Context, userID int64, alert string) error {
	return e.setUserColumn(ctx, userID, "alert", nullIfEmpty(alert))
}

// UsersByEmail implements store.UserAdmin. The legacy column is binary,
// which MySQL's LOWER leaves alone: it is cast to text first (CHAR gives
// SQLite text affinity too).
func (e *Engine) UsersByEmail(ctx context.Context, email string) ([]store.User, error) {
	rows, err := e.reader().QueryContext(ctx, userColumns+e.usersJoined()+
		" WHERE LOWER(CAST(email AS CHAR)) = ? ORDER BY id LIMIT 100", strings.ToLower(email))
	if err != nil {
		return nil, e.wrap("users by email", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, e.wrap("users by email", err)
		}
		out = append(out, u)
	}
	return out, e.wrap("users by email", rows.Err())
}

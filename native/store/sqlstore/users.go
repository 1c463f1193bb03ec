package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/overlay"
)

// CreateUser inserts u under its lower-cased name and returns the new id.
// A zero Status means the column default, 1 (active). The name check runs
// inside the transaction because a legacy users table may have no unique
// index on username; where it has one, a racing insert still ends as
// store.ErrUserExists.
func (e *Engine) CreateUser(ctx context.Context, u store.User) (int64, error) {
	name := strings.ToLower(u.Username)
	status := u.Status
	if status == 0 {
		status = 1
	}
	var id int64
	err := e.withGapLocks(ctx, func(tx querier) error {
		var existing int64
		err := tx.QueryRowContext(ctx, "SELECT id FROM "+e.d.quote(e.t.users)+
			" WHERE username = ? LIMIT 1"+e.d.forUpdate, name).Scan(&existing)
		switch {
		case err == nil:
			return fmt.Errorf("sqlstore: user %q: %w", name, store.ErrUserExists)
		case !errors.Is(err, sql.ErrNoRows):
			return e.wrap("create user", err)
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO "+e.d.quote(e.t.users)+
			" (username, md5, email, location, status, alert) VALUES (?, ?, ?, ?, ?, ?)",
			name, u.MD5, nullIfEmpty(u.Email), nullIfEmpty(u.Location), status, nullIfEmpty(u.Alert))
		if e.d.duplicate(err) {
			return fmt.Errorf("sqlstore: user %q: %w", name, store.ErrUserExists)
		}
		if err != nil {
			return e.wrap("create user", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return e.wrap("create user", err)
		}
		if u.PasswordHash != "" {
			return e.putHash(ctx, tx, id, u.PasswordHash)
		}
		return nil
	})
	return id, err
}

// UserByName looks a user up by lower-cased name. Should the legacy table
// hold the name twice, the oldest row wins.
func (e *Engine) UserByName(ctx context.Context, username string) (store.User, error) {
	return e.user(ctx, "user by name", "username = ? ORDER BY id LIMIT 1", strings.ToLower(username))
}

// UserByID looks a user up by id; store.ErrNotFound if absent. A dry run's
// overlay uses it for accounts it was handed by id.
func (e *Engine) UserByID(ctx context.Context, id int64) (store.User, error) {
	return e.user(ctx, "user by id", "id = ?", id)
}

func (e *Engine) user(ctx context.Context, op, where string, key any) (store.User, error) {
	u, err := scanUser(e.reader().QueryRowContext(ctx, userColumns+e.usersJoined()+" WHERE "+where, key))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("sqlstore: user %v: %w", key, store.ErrNotFound)
	}
	return u, e.wrap(op, err)
}

// userColumns selects what scanUser reads, up to the table name
// (usersJoined).
const userColumns = "SELECT id, username, md5, email, location, status, alert, h.hash FROM "

// usersJoined is the users table with its password hash, if any. The hash
// table has no id or username column, so where clauses on those stay
// unambiguous.
func (e *Engine) usersJoined() string {
	return e.d.quote(e.t.users) + " LEFT JOIN " + e.d.quote(e.t.hashes) + " h ON h.userid = id"
}

// scanUser reads one users row of userColumns.
func scanUser(row interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	var md5, email, location, alert, hash sql.NullString
	var status sql.NullInt64
	if err := row.Scan(&u.ID, &u.Username, &md5, &email, &location, &status, &alert, &hash); err != nil {
		return u, err
	}
	u.MD5, u.Email, u.Location, u.Alert = md5.String, email.String, location.String, alert.String
	u.PasswordHash = hash.String
	u.Status = int(status.Int64) // NULL is not 1: disabled, as PHP reads it
	return u, nil
}

// DeleteUser removes the user row and everything stored for the user, in
// one transaction. store.ErrNotFound if there is no such user.
func (e *Engine) DeleteUser(ctx context.Context, userID int64) error {
	key, err := e.userKey(ctx, userID)
	if err != nil {
		return err
	}
	if e.names != nil {
		defer e.names.forget(userID)
	}
	return e.withTx(ctx, func(tx querier) error {
		if err := e.deleteStorage(ctx, tx, key); err != nil {
			return err
		}
		for _, t := range []string{e.t.reset, e.t.hashes} {
			if _, err := e.exec(ctx, tx, "delete user", "DELETE FROM "+e.d.quote(t)+
				" WHERE userid = ?", userID); err != nil {
				return err
			}
		}
		if _, err := e.exec(ctx, tx, "delete user", "DELETE FROM "+e.d.quote(e.t.stamps)+
			" WHERE username = ?", key); err != nil {
			return err
		}
		if err := e.releaseNode(ctx, tx, userID); err != nil {
			return err
		}
		n, err := e.exec(ctx, tx, "delete user", "DELETE FROM "+e.d.quote(e.t.users)+" WHERE id = ?", userID)
		if err == nil && n == 0 {
			err = fmt.Errorf("sqlstore: user %d: %w", userID, store.ErrNotFound)
		}
		return err
	})
}

// SetPasswordMD5 stores a new md5 hex of the password, the form PHP
// reads, and drops any salted hash of an earlier password.
func (e *Engine) SetPasswordMD5(ctx context.Context, userID int64, md5hex string) error {
	return e.withTx(ctx, func(tx querier) error {
		if _, err := e.exec(ctx, tx, "set password", "DELETE FROM "+e.d.quote(e.t.hashes)+
			" WHERE userid = ?", userID); err != nil {
			return err
		}
		return e.setColumn(ctx, tx, userID, "md5", md5hex)
	})
}

// SetPasswordHash stores a salted hash of the password in our own table
// and marker in users.md5 (which no md5 hex equals, so PHP refuses the
// account from then on), in one transaction.
func (e *Engine) SetPasswordHash(ctx context.Context, userID int64, hash, marker string) error {
	return e.withTx(ctx, func(tx querier) error {
		if err := e.setColumn(ctx, tx, userID, "md5", marker); err != nil {
			return err
		}
		return e.putHash(ctx, tx, userID, hash)
	})
}

func (e *Engine) putHash(ctx context.Context, tx querier, userID int64, hash string) error {
	_, err := e.exec(ctx, tx, "set password hash", "INSERT INTO "+e.d.quote(e.t.hashes)+
		" (userid, hash) VALUES (?, ?)"+e.d.upsert("userid")+"hash = "+e.d.excluded("hash"), userID, hash)
	return err
}

// SetEmail stores a new e-mail address.
func (e *Engine) SetEmail(ctx context.Context, userID int64, email string) error {
	return e.setUserColumn(ctx, userID, "email", nullIfEmpty(email))
}

func (e *Engine) setUserColumn(ctx context.Context, userID int64, col string, v any) error {
	return e.withTx(ctx, func(tx querier) error { return e.setColumn(ctx, tx, userID, col, v) })
}

func (e *Engine) setColumn(ctx context.Context, tx querier, userID int64, col string, v any) error {
	n, err := e.exec(ctx, tx, "set "+col, "UPDATE "+e.d.quote(e.t.users)+" SET "+col+" = ? WHERE id = ?", v, userID)
	if err != nil || n > 0 {
		return err
	}
	// MySQL counts changed rows, not matched ones: an update to the
	// same value says 0 too.
	return e.userExists(ctx, tx, userID)
}

func (e *Engine) userExists(ctx context.Context, q querier, userID int64) error {
	var id int64
	err := q.QueryRowContext(ctx, "SELECT id FROM "+e.d.quote(e.t.users)+" WHERE id = ?", userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: user %d: %w", userID, store.ErrNotFound)
	}
	return e.wrap("user exists", err)
}

// SetResetCode stores the user's pending reset code, replacing any other.
func (e *Engine) SetResetCode(ctx context.Context, userID int64, rc store.ResetCode) error {
	w, err := e.writer()
	if err != nil {
		return err
	}
	x := e.d.excluded
	_, err = e.exec(ctx, w, "set reset code", "INSERT INTO "+e.d.quote(e.t.reset)+
		" (userid, code, expires) VALUES (?, ?, ?)"+e.d.upsert("userid")+
		"code = "+x("code")+", expires = "+x("expires"), userID, rc.Code, rc.Expires.Unix())
	return err
}

// GetResetCode returns the stored code, expired or not: the caller owns
// the clock. store.ErrNoResetCode when there is none.
func (e *Engine) GetResetCode(ctx context.Context, userID int64) (store.ResetCode, error) {
	var rc store.ResetCode
	var expires int64
	err := e.reader().QueryRowContext(ctx, "SELECT code, expires FROM "+e.d.quote(e.t.reset)+
		" WHERE userid = ?", userID).Scan(&rc.Code, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return rc, fmt.Errorf("sqlstore: user %d: %w", userID, store.ErrNoResetCode)
	}
	if err != nil {
		return rc, e.wrap("get reset code", err)
	}
	rc.Expires = time.Unix(expires, 0)
	return rc, nil
}

// ClearResetCode removes the user's reset code, if any.
func (e *Engine) ClearResetCode(ctx context.Context, userID int64) error {
	w, err := e.writer()
	if err != nil {
		return err
	}
	_, err = e.exec(ctx, w, "clear reset code", "DELETE FROM "+e.d.quote(e.t.reset)+
		" WHERE userid = ?", userID)
	return err
}

// writer is where a single write statement goes: the write pool, never
// a snapshot view.
func (e *Engine) writer() (querier, error) {
	if e.snap != nil {
		return nil, fmt.Errorf("sqlstore %s: %w", e.d.name, overlay.ErrReadOnly)
	}
	if e.tx != nil {
		return e.tx, nil
	}
	return e.db, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

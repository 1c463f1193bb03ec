package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Sequenced runs fn in one transaction whose first statement raises the
// user's row of our stamps table to GREATEST(last + 1, at). That row lock
// is what orders a user's writes: a second sequenced write of the user,
// from this process or any other on the database, waits on it until the
// first commits, and then gets a larger timestamp. Writes of other users
// never wait. The legacy PHP server knows nothing of the table; callers
// pass at above the collection's newest modified, so a write still sorts
// after whatever PHP wrote.
func (e *Engine) Sequenced(ctx context.Context, id int64, at store.Timestamp, fn func(store.Timestamp, store.Engine) error) error {
	if e.tx != nil {
		return errors.New("sqlstore: Sequenced inside a sequenced write")
	}
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return err
	}
	return e.withTx(ctx, func(q querier) error {
		last, err := e.d.nextStamp(ctx, q, e.d.quote(e.t.stamps), userID, int64(at))
		if err != nil {
			return e.wrap("next stamp", err)
		}
		view := *e
		view.tx = q.(*sql.Tx)
		return fn(store.Timestamp(last), &view)
	})
}

// mysqlNextStamp is one round trip: LAST_INSERT_ID(expr) hands the
// updated value back in the OK packet. A row that is inserted (the user's
// first sequenced write) evaluates no expression and reports 0: its value
// is at.
func mysqlNextStamp(ctx context.Context, q querier, table string, userID storageKey, at int64) (int64, error) {
	res, err := q.ExecContext(ctx, "INSERT INTO "+table+" (username, last) VALUES (?, ?)"+
		" ON DUPLICATE KEY UPDATE last = LAST_INSERT_ID(GREATEST(last + 1, VALUES(last)))", userID, at)
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if id == 0 {
		return at, nil
	}
	return id, nil
}

func sqliteNextStamp(ctx context.Context, q querier, table string, userID storageKey, at int64) (int64, error) {
	var last int64
	err := q.QueryRowContext(ctx, "INSERT INTO "+table+" (username, last) VALUES (?, ?)"+
		" ON CONFLICT(username) DO UPDATE SET last = MAX(last + 1, excluded.last) RETURNING last",
		userID, at).Scan(&last)
	return last, err
}

// LastStamp is the last timestamp a sequenced write of the user got
// (false: none yet), read without a lock: a dry run's overlay sequences
// its write from it (overlay.StampReader).
func (e *Engine) LastStamp(ctx context.Context, id int64) (store.Timestamp, bool, error) {
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return 0, false, err
	}
	var last int64
	err = e.reader().QueryRowContext(ctx, "SELECT last FROM "+e.d.quote(e.t.stamps)+" WHERE username = ?", userID).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, e.wrap("last stamp", err)
	}
	return store.Timestamp(last), true, nil
}

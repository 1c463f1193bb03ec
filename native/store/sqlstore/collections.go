package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// fixedIDs are the collection ids the legacy server hard-codes. Other names
// are numbered per user in the collections table.
var fixedIDs = map[string]int{
	"clients": 1, "crypto": 2, "forms": 3, "history": 4, "keys": 5,
	"meta": 6, "bookmarks": 7, "prefs": 8, "tabs": 9, "passwords": 10,
}

var fixedNames = func() map[int]string {
	m := make(map[int]string, len(fixedIDs))
	for n, id := range fixedIDs {
		m[id] = n
	}
	return m
}()

const (
	// firstCustomID - 1 is the floor of max(collectionid)+1: the legacy
	// server's first custom collection is 101.
	firstCustomID = 101
	maxCollection = 32767 // SMALLINT
	maxNameBytes  = 32    // VARCHAR(32)
)

func checkName(name string) error {
	if name == "" || len(name) > maxNameBytes {
		return fmt.Errorf("sqlstore: collection %q: %w", name, store.ErrInvalidName)
	}
	return nil
}

// collectionID resolves a name without creating it: ok is false for a
// custom name the user never wrote to. lock takes a row lock on the name
// (inside a write transaction, MySQL).
func (e *Engine) collectionID(ctx context.Context, q querier, userID storageKey, name string, lock bool) (id int, ok bool, err error) {
	if err := checkName(name); err != nil {
		return 0, false, err
	}
	if id, ok := fixedIDs[name]; ok {
		return id, true, nil
	}
	// The table may hold a name twice (no unique index in the legacy
	// schema): the lowest id wins, as it does for PHP's first row.
	query := "SELECT collectionid FROM " + e.d.quote(e.t.collections) +
		" WHERE userid = ? AND name = ? ORDER BY collectionid LIMIT 1"
	if lock {
		query += e.d.forUpdate
	}
	err = q.QueryRowContext(ctx, query, userID, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, e.wrap("collection id", err)
	}
	return id, true, nil
}

// createCollectionID resolves name inside the write transaction tx, creating
// a custom id (max+1, from 101) when the name is new. Transactions are
// READ COMMITTED, so nothing locks the gap a new row goes into: two writers
// creating the user's first names at once may both pick the same id. The
// locking read of the maximum waits for a creator whose row is the
// current maximum and then sees it, so the name is looked up again after
// it; an id taken meanwhile fails the insert with a duplicate key (only
// that statement is undone) and the next round picks the next id.
func (e *Engine) createCollectionID(ctx context.Context, tx querier, userID storageKey, name string) (int, error) {
	id, ok, err := e.collectionID(ctx, tx, userID, name, true)
	if err != nil || ok {
		return id, err
	}
	for attempt := 1; ; attempt++ {
		var maxID sql.NullInt64
		err = tx.QueryRowContext(ctx, "SELECT MAX(collectionid) FROM "+e.d.quote(e.t.collections)+
			" WHERE userid = ?"+e.d.forUpdate, userID).Scan(&maxID)
		if err != nil {
			return 0, e.wrap("collection max id", err)
		}
		if id, ok, err := e.collectionID(ctx, tx, userID, name, true); err != nil || ok {
			return id, err
		}
		id = int(max(maxID.Int64, firstCustomID-1)) + 1
		if id > maxCollection {
			return 0, fmt.Errorf("sqlstore: user %v: %w", userID, store.ErrCollectionFull)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO "+e.d.quote(e.t.collections)+
			" (userid, collectionid, name) VALUES (?, ?, ?)", userID, id, name)
		if err != nil && e.d.duplicate(err) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return 0, e.wrap("create collection", err)
		}
		return id, nil
	}
}

// collectionNames maps ids to names for the ids given, reading the custom
// names only when one of them is not fixed. Ids without a name are left
// out: info maps drop them, as the legacy server does.
func (e *Engine) collectionNames(ctx context.Context, q querier, userID storageKey, ids []int) (map[int]string, error) {
	names := make(map[int]string, len(ids))
	custom := false
	for _, id := range ids {
		if n, ok := fixedNames[id]; ok {
			names[id] = n
		} else {
			custom = true
		}
	}
	if !custom {
		return names, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT collectionid, name FROM "+e.d.quote(e.t.collections)+
		" WHERE userid = ? ORDER BY collectionid", userID)
	if err != nil {
		return nil, e.wrap("collection names", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, e.wrap("collection names", err)
		}
		if _, fixed := fixedNames[id]; !fixed {
			names[id] = name
		}
	}
	return names, e.wrap("collection names", rows.Err())
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// MappedUserID is the storage id of name in the id map, a table of ours
// for accounts that live outside the users table (a directory with no
// numeric id of its own). With create, a name not mapped yet gets the
// next id; without, it is store.ErrNotFound. Names compare lower-cased.
func (e *Engine) MappedUserID(ctx context.Context, name string, create bool) (int64, error) {
	name = strings.ToLower(name)
	id, err := e.lookupMapped(ctx, e.reader(), name)
	if err == nil || !create || !errors.Is(err, errNotMapped) {
		return id, err
	}
	w, err := e.writer()
	if err != nil {
		return 0, err
	}
	_, err = w.ExecContext(ctx, "INSERT INTO "+e.d.quote(e.t.ids)+" (username) VALUES (?)", name)
	if err != nil && !e.d.duplicate(err) {
		// A racing first request inserted it too: its id is the one.
		return 0, e.wrap("map user id", err)
	}
	return e.lookupMapped(ctx, w, name)
}

var errNotMapped = errors.New("sqlstore: name not in the id map")

func (e *Engine) lookupMapped(ctx context.Context, q querier, name string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, "SELECT id FROM "+e.d.quote(e.t.ids)+" WHERE username = ?", name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: %q: %w", errNotMapped, name, store.ErrNotFound)
	}
	return id, e.wrap("map user id", err)
}

// MappedName is the name mapped to id; store.ErrNotFound when none is.
func (e *Engine) MappedName(ctx context.Context, id int64) (string, error) {
	var name string
	err := e.reader().QueryRowContext(ctx, "SELECT username FROM "+e.d.quote(e.t.ids)+" WHERE id = ?", id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlstore: no name mapped to id %d: %w", id, store.ErrNotFound)
	}
	return name, e.wrap("mapped name", err)
}

// ForgetUserID drops id from the map once its account is deleted: a new
// account of the same name gets a fresh id, never the old storage.
func (e *Engine) ForgetUserID(ctx context.Context, id int64) error {
	w, err := e.writer()
	if err != nil {
		return err
	}
	_, err = e.exec(ctx, w, "forget user id", "DELETE FROM "+e.d.quote(e.t.ids)+" WHERE id = ?", id)
	return err
}

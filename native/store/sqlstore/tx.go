package sqlstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"weaveproxy/native/store"
)

// maxAttempts bounds how often a transaction that lost a deadlock is run
// again. InnoDB picks a victim when two writers lock the same rows or gaps
// (two inserts of one new id, PHP and this engine on one user); running it
// again, after a random pause so the contenders spread out, is the
// documented answer. Each round has a winner, so a handful of rounds covers
// even a crowd of writers on one row.
const maxAttempts = 10

// withTx runs fn in a transaction and commits it, or rolls it back when fn
// fails: writes are all or nothing. In a DryRun view there is already a
// transaction: fn runs inside a savepoint of it instead, so that a failed
// write leaves the view as it was, as it would the database.
func (e *Engine) withTx(ctx context.Context, fn func(q querier) error) error {
	if e.tx != nil {
		return e.inSavepoint(ctx, fn, false)
	}
	for attempt := 1; ; attempt++ {
		err := e.runTx(ctx, fn)
		if err == nil || attempt == maxAttempts || !e.d.retryable(err) {
			return err
		}
		e.log.DebugContext(ctx, "transaction retried", "attempt", attempt, "err", err)
		pause := time.Duration(attempt) * time.Duration(1+rand.IntN(10)) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

func (e *Engine) runTx(ctx context.Context, fn func(q querier) error) error {
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return e.wrap("begin", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return e.wrap("commit", tx.Commit())
}

// inSavepoint runs fn inside a savepoint of the view's transaction, rolled
// back when fn fails, or always when discard is set.
func (e *Engine) inSavepoint(ctx context.Context, fn func(q querier) error, discard bool) error {
	name := fmt.Sprintf("sqlstore_sp%d", e.sp.Add(1))
	if _, err := e.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return e.wrap("savepoint", err)
	}
	err := fn(e.tx)
	if err != nil || discard {
		if _, rbErr := e.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name); rbErr != nil && err == nil {
			err = e.wrap("rollback to savepoint", rbErr)
		}
	}
	if _, relErr := e.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name); relErr != nil && err == nil {
		err = e.wrap("release savepoint", relErr)
	}
	return err
}

// DryRun runs fn against a view of the engine whose every method runs
// inside one transaction, and always rolls that transaction back. fn must
// not use the view after returning, nor call write methods of the engine
// itself (on SQLite they would wait for the connection the view holds).
func (e *Engine) DryRun(ctx context.Context, fn func(store.Engine) error) error {
	if e.tx != nil {
		return e.inSavepoint(ctx, func(querier) error { return fn(e) }, true)
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return e.wrap("begin dry run", err)
	}
	defer tx.Rollback()
	view := *e
	view.tx = tx
	view.sp = new(atomic.Int64)
	return fn(&view)
}

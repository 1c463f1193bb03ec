package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store/overlay"
)

// maxAttempts bounds how often a transaction that lost a deadlock is run
// again. InnoDB picks a victim when two writers lock the same rows or gaps
// (two inserts of one new id, PHP and this engine on one user); running it
// again, after a random pause so the contenders spread out, is the
// documented answer. Each round has a winner, so a handful of rounds covers
// even a crowd of writers on one row.
const maxAttempts = 10

// withTx runs fn in a transaction and commits it, or rolls it back when fn
// fails: writes are all or nothing. A snapshot view refuses to write.
func (e *Engine) withTx(ctx context.Context, fn func(q querier) error) error {
	return e.withTxOpts(ctx, nil, fn)
}

// withGapLocks is withTx for the one transaction that needs InnoDB's gap
// locks (REPEATABLE READ; connections default to READ COMMITTED, see
// sessionIsolation): a uniqueness check on a table that may have no unique
// index, where the locking read of a missing row must make the next
// checker wait.
func (e *Engine) withGapLocks(ctx context.Context, fn func(q querier) error) error {
	return e.withTxOpts(ctx, e.d.gapLocks, fn)
}

// withTxOpts is withTx with the transaction's options. In a Sequenced
// view fn runs in the view's transaction.
func (e *Engine) withTxOpts(ctx context.Context, opts *sql.TxOptions, fn func(q querier) error) error {
	if e.snap != nil {
		return fmt.Errorf("sqlstore %s: %w", e.d.name, overlay.ErrReadOnly)
	}
	if e.tx != nil {
		return fn(e.tx)
	}
	for attempt := 1; ; attempt++ {
		err := e.runTx(ctx, opts, fn)
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

func (e *Engine) runTx(ctx context.Context, opts *sql.TxOptions, fn func(q querier) error) error {
	tx, err := e.db.BeginTx(ctx, opts)
	if err != nil {
		return e.wrap("begin", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return e.wrap("commit", tx.Commit())
}

package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Every pair a shadow worker stores runs the same few INSERTs. Each used
// to be parsed anew (SQLite) or prepared in a round trip and closed
// (MySQL) per pair; they are prepared when the store opens and reused
// inside each pair's transaction (tx.StmtContext prepares them once on
// any other connection the pool opens).

// saveQueries are the statements Save runs for every pair.
type saveQueries struct {
	shapes, counts, pairs, pairKeys, noise, rules string
}

func newSaveQueries(d *dialect) saveQueries {
	return saveQueries{
		shapes: "INSERT INTO diff_shapes (route, hash, shape) VALUES (?, ?, ?)" + d.ignoreOnConflict("route, hash"),
		counts: "INSERT INTO diff_counts (route, bucket, base, hash, dry_run, n) VALUES (?, ?, ?, ?, ?, 1)" +
			d.addOnConflict("route, bucket, base, hash, dry_run"),
		pairs:    "INSERT INTO diff_pairs (route, at_ns, id, base, hash, dry_run) VALUES (?, ?, ?, ?, ?, ?)",
		pairKeys: "INSERT INTO diff_pair_keys (route, at_ns, id, user_key, request) VALUES (?, ?, ?, ?, ?)",
		noise:    "INSERT INTO diff_noise (route, field, n) VALUES (?, ?, 1)" + d.addOnConflict("route, field"),
		rules:    "INSERT INTO diff_rules (route, rule, n) VALUES (?, ?, 1)" + d.addOnConflict("route, rule"),
	}
}

// prepare prepares the save statements. It runs before any transaction:
// with SQLite's single connection, preparing on the pool while a
// transaction holds that connection would wait forever.
func (s *Store) prepare(ctx context.Context) error {
	s.q = newSaveQueries(s.d)
	s.stmts = map[string]*sql.Stmt{}
	for _, q := range []string{s.q.shapes, s.q.counts, s.q.pairs, s.q.pairKeys, s.q.noise, s.q.rules} {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			s.closeStmts()
			return fmt.Errorf("diff store: prepare: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

// exec runs one of the save statements in tx.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st := s.stmts[query]
	if st == nil {
		return tx.ExecContext(ctx, query, args...)
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// closeStmts closes the prepared statements, before the database.
func (s *Store) closeStmts() {
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
}

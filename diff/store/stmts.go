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

// saveStmts are the statements Save runs for every pair.
type saveStmts struct {
	shapes, counts, pairs, pairKeys, noise, rules *sql.Stmt
}

// prepare prepares the save statements. It runs before any transaction:
// with SQLite's single connection, preparing on the pool while a
// transaction holds that connection would wait forever.
func (s *Store) prepare(ctx context.Context) error {
	d := s.d
	for _, p := range []struct {
		st    **sql.Stmt
		query string
	}{
		{&s.stmts.shapes, "INSERT INTO diff_shapes (route, hash, shape) VALUES (?, ?, ?)" + d.ignoreOnConflict("route, hash")},
		{&s.stmts.counts, "INSERT INTO diff_counts (route, bucket, base, hash, dry_run, n) VALUES (?, ?, ?, ?, ?, 1)" +
			d.addOnConflict("route, bucket, base, hash, dry_run")},
		{&s.stmts.pairs, "INSERT INTO diff_pairs (route, at_ns, id, base, hash, dry_run) VALUES (?, ?, ?, ?, ?, ?)"},
		{&s.stmts.pairKeys, "INSERT INTO diff_pair_keys (route, at_ns, id, user_key, request) VALUES (?, ?, ?, ?, ?)"},
		{&s.stmts.noise, "INSERT INTO diff_noise (route, field, n) VALUES (?, ?, 1)" + d.addOnConflict("route, field")},
		{&s.stmts.rules, "INSERT INTO diff_rules (route, rule, n) VALUES (?, ?, 1)" + d.addOnConflict("route, rule")},
	} {
		st, err := s.db.PrepareContext(ctx, p.query)
		if err != nil {
			s.closeStmts()
			return fmt.Errorf("diff store: prepare: %w", err)
		}
		*p.st = st
	}
	return nil
}

// exec runs one of the save statements in tx.
func exec(ctx context.Context, tx *sql.Tx, st *sql.Stmt, args ...any) (sql.Result, error) {
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// closeStmts closes the prepared statements, before the database.
func (s *Store) closeStmts() {
	for _, st := range []*sql.Stmt{s.stmts.shapes, s.stmts.counts, s.stmts.pairs, s.stmts.pairKeys, s.stmts.noise, s.stmts.rules} {
		if st != nil {
			st.Close()
		}
	}
	s.stmts = saveStmts{}
}

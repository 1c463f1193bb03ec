package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Shadow mode does not compare every request it sees: under load it
// sheds work (no idle CPU, dry runs busy, a pair waiting too long), and
// some requests cannot be compared (a body too large, a read overtaken by
// a write). The report says how much of a route's traffic its pairs
// stand for, so that a match rate measured on a sample is never read as
// measured on everything, and what was not compared is never counted as
// a difference.

// Uncompared names a route and the reason its requests were not compared.
type Uncompared struct {
	Route, Reason string
}

// AddUncompared adds counts of shadowed requests not compared, in one
// transaction: the shadower gathers them in memory and writes them now
// and then, not once per request, since they are most numerous exactly
// when the machine is busiest.
func (s *Store) AddUncompared(ctx context.Context, counts map[Uncompared]int64) error {
	if len(counts) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for k, n := range counts {
			if _, err := tx.ExecContext(ctx, "INSERT INTO diff_uncompared (route, reason, n) VALUES (?, ?, ?)"+
				s.d.addOnConflict("route, reason"), keyText(k.Route), keyText(k.Reason), n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("diff store: uncompared: %w", err)
	}
	return nil
}

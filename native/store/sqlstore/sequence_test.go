package sqlstore

import (
	"context"
	"errors"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// TestSequenced checks the stamps a user's sequenced writes get: at, or one
// above the last, per user; a failed write gives its stamp back. One
// connection, so that MySQL's
// LAST_INSERT_ID(expr) left over from one statement is seen by the next
// (a new row must not report it).
func TestSequenced(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		e.DB().SetMaxOpenConns(1)
		next := func(user int64, at store.Timestamp, fail error) (store.Timestamp, error) {
			var got store.Timestamp
			err := e.Sequenced(ctx, user, at, func(ts store.Timestamp, tx store.Engine) error {
				got = ts
				if _, err := tx.PutItems(ctx, user, "history", []store.WBO{wbo("a", "x", int64(ts))}); err != nil {
					return err
				}
				return fail
			})
			return got, err
		}
		boom := errors.New("boom")
		for i, c := range []struct {
			user     int64
			at, want store.Timestamp
			fail     error
		}{
			{1, 100, 100, nil},
			{1, 50, 101, nil},  // behind the last: last + 1
			{2, 40, 40, nil},   // a new row, after an update that set LAST_INSERT_ID
			{1, 500, 500, nil}, // ahead: at
			{1, 0, 501, boom},  // rolled back ...
			{1, 0, 501, nil},   // ... so its stamp is given again
			{2, 0, 41, nil},
		} {
			got, err := next(c.user, c.at, c.fail)
			if !errors.Is(err, c.fail) || got != c.want {
				t.Fatalf("write %d: user %d at %d: got %d, %v; want %d, %v", i, c.user, c.at, got, err, c.want, c.fail)
			}
		}
		if n := count(t, e, "SELECT COUNT(*) FROM wbo WHERE username = 1 AND modified = 501"); n != 1 {
			t.Fatalf("the committed write at 501: %d rows", n)
		}
	})
}

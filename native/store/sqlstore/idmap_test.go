package sqlstore

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestIDMap(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		if _, err := e.MappedUserID(ctx, "alice", false); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unmapped lookup: %v, want ErrNotFound", err)
		}
		// Concurrent first requests of one name agree on one id.
		var wg sync.WaitGroup
		got := make([]int64, 8)
		errs := make([]error, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = e.MappedUserID(ctx, "Alice", true)
			}()
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil || got[i] != got[0] || got[0] <= 0 {
				t.Fatalf("racing maps: ids %v, errors %v", got, errs)
			}
		}
		bob, err := e.MappedUserID(ctx, "bob", true)
		if err != nil || bob == got[0] {
			t.Fatalf("bob: %d, %v (alice %d)", bob, err, got[0])
		}
		if name, err := e.MappedName(ctx, got[0]); err != nil || name != "alice" {
			t.Fatalf("MappedName: %q, %v", name, err)
		}
		if err := e.ForgetUserID(ctx, got[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := e.MappedName(ctx, got[0]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("forgotten id: %v", err)
		}
		again, err := e.MappedUserID(ctx, "alice", true)
		if err != nil || again == got[0] {
			t.Fatalf("re-mapped alice: %d, %v; must not reuse %d", again, err, got[0])
		}
	})
}

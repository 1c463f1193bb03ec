package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestAssignNode(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		if _, err := e.AssignNode(ctx, 1); !errors.Is(err, ErrNoRoom) {
			t.Fatalf("no nodes: %v, want ErrNoRoom", err)
		}
		if err := e.SetNodeCapacities(ctx, map[string]int{"a.example": 2, "b.example": 1}); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		// Ids far above the users table's, which the test fills below.
		for id := int64(1001); id <= 1003; id++ {
			n, err := e.AssignNode(ctx, id)
			if err != nil {
				t.Fatalf("user %d: %v", id, err)
			}
			got[n]++
			if again, _ := e.AssignNode(ctx, id); again != n {
				t.Fatalf("user %d moved from %s to %s", id, n, again)
			}
		}
		if got["a.example"] != 2 || got["b.example"] != 1 {
			t.Fatalf("spread %v, want a:2 b:1 (least loaded by ratio, capacity honoured)", got)
		}
		if _, err := e.AssignNode(ctx, 1004); !errors.Is(err, ErrNoRoom) {
			t.Fatalf("all full: %v, want ErrNoRoom", err)
		}
		// A deleted account frees its place.
		id, err := e.CreateUser(ctx, store.User{Username: "leaver", MD5: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.SetNodeCapacities(ctx, map[string]int{"a.example": 2, "b.example": 2}); err != nil {
			t.Fatal(err)
		}
		if n, err := e.AssignNode(ctx, id); err != nil || n != "b.example" {
			t.Fatalf("leaver: %q, %v", n, err)
		}
		if err := e.DeleteUser(ctx, id); err != nil {
			t.Fatal(err)
		}
		if n, err := e.AssignNode(ctx, 1005); err != nil || n != "b.example" {
			t.Fatalf("after a delete: %q, %v; want the freed b.example", n, err)
		}
		// A node left out of the config takes nobody new, keeps its users.
		if err := e.SetNodeCapacities(ctx, map[string]int{"c.example": 5}); err != nil {
			t.Fatal(err)
		}
		if n, _ := e.NodeOf(ctx, 1001); n == "c.example" || n == "" {
			t.Fatalf("user 1001 lost its node: %q", n)
		}
		if n, err := e.AssignNode(ctx, 1006); err != nil || n != "c.example" {
			t.Fatalf("new user after reconfiguration: %q, %v", n, err)
		}
	})
}

// Concurrent first requests of one user get one node, and the count goes
// up once; many users at once never overfill a node.
func TestAssignNodeConcurrent(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		if err := e.SetNodeCapacities(ctx, map[string]int{"a.example": 10, "b.example": 10}); err != nil {
			t.Fatal(err)
		}
		const same = 12
		var wg sync.WaitGroup
		nodes := make([]string, same)
		errs := make([]error, same)
		for i := range same {
			wg.Add(1)
			go func() { defer wg.Done(); nodes[i], errs[i] = e.AssignNode(ctx, 42) }()
		}
		wg.Wait()
		for i := range same {
			if errs[i] != nil || nodes[i] != nodes[0] {
				t.Fatalf("racing first requests: %v / %v", nodes, errs)
			}
		}
		if n := count(t, e, "SELECT SUM(assigned) FROM nodes"); n != 1 {
			t.Fatalf("assigned sum %d after one user, want 1", n)
		}
		// 25 users race for 20 places: exactly 20 get one.
		var mu sync.Mutex
		placed, full := 0, 0
		for u := range 25 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.AssignNode(ctx, int64(100+u))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					placed++
				case errors.Is(err, ErrNoRoom):
					full++
				default:
					t.Errorf("user %d: %v", u, err)
				}
			}()
		}
		wg.Wait()
		if placed != 19 || full != 6 {
			t.Fatalf("placed %d, refused %d; want 19 and 6 (one place was user 42's)", placed, full)
		}
		for _, node := range []string{"a.example", "b.example"} {
			q := fmt.Sprintf("SELECT COUNT(*) FROM nodes_users WHERE node = '%s'", node)
			if n := count(t, e, q); n != 10 {
				t.Fatalf("%s holds %d users, capacity 10", node, n)
			}
		}
	})
}

package userapi

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// withNodes serves node assignment over the env's engine.
func withNodes(caps map[string]int, urls map[string]string) option {
	return func(e *env, c *Config) {
		if err := e.eng.SetNodeCapacities(context.Background(), caps); err != nil {
			e.t.Fatal(err)
		}
		c.Nodes = &Nodes{Assigner: e.eng, URLs: urls}
	}
}

func TestNodeAssignment(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be, withRegistration(Open),
			withNodes(map[string]int{"a.example.org": 1, "127.0.0.1:9": 1}, map[string]string{"127.0.0.1:9": "http://127.0.0.1:9/"}))
		ctx := context.Background()
		storetest.AddUser(t, e.eng, store.User{Username: "placed", MD5: auth.HashPassword("x"), Status: 1, Location: "legacy.example.org"})
		e.create("first", "first long password", "")
		e.create("second", "second long password", "")
		e.create("third", "third long password", "")

		// A node the account already has wins, assigned or not.
		e.want(e.do("GET", "/user/1.0/placed/node/weave", ""), 200, "https://legacy.example.org/")
		a := e.do("GET", "/user/1.0/first/node/weave", "")
		b := e.do("GET", "/user/1.0/second/node/weave", "")
		if a.status != 200 || b.status != 200 || a.body == b.body {
			t.Fatalf("first two users: %d %q, %d %q; want one on each node", a.status, a.body, b.status, b.body)
		}
		for _, got := range []string{a.body, b.body} {
			if got != "https://a.example.org/" && got != "http://127.0.0.1:9/" {
				t.Fatalf("node URL %q", got)
			}
		}
		// The node is recorded on the account (PHP and auth read it there).
		u, err := e.eng.UserByName(ctx, "first")
		if err != nil || u.Location == "" {
			t.Fatalf("users.location after assignment: %+v, %v", u, err)
		}
		e.want(e.do("GET", "/user/1.0/first/node/weave", ""), 200, a.body)
		// Every node full, no fallback: PHP's answer.
		e.want(e.do("GET", "/user/1.0/third/node/weave", ""), 404, `"No location"`)
		e.want(e.do("GET", "/user/1.0/nobody/node/weave", ""), 404, `"No location"`)
	})
}

func TestNodeAssignmentFallback(t *testing.T) {
	e := newEnv(t, storetest.SQLite(), withRegistration(Open), withNode("https://fallback.example.org/"),
		withNodes(map[string]int{"a.example.org": 0}, nil))
	e.create("late", "late long password", "")
	e.want(e.do("GET", "/user/1.0/late/node/weave", ""), 200, "https://fallback.example.org/")
	if u, _ := e.eng.UserByName(context.Background(), "late"); u.Location != "" {
		t.Fatalf("the fallback was recorded as the user's node: %q", u.Location)
	}
}

// Concurrent first node/weave requests of one user get one node, and
// the user takes one place.
func TestNodeAssignmentConcurrent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, be storetest.Backend) {
		e := newEnv(t, be, withRegistration(Open),
			withNodes(map[string]int{"a.example.org": 5, "b.example.org": 5, "c.example.org": 5}, nil))
		e.create("racer", "racer long password", "")
		const n = 16
		var wg sync.WaitGroup
		got := make([]string, n)
		codes := make([]int, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := http.Get(e.srv.URL + "/user/1.0/racer/node/weave")
				if err != nil {
					t.Error(err)
					return
				}
				defer res.Body.Close()
				b := make([]byte, 256)
				k, _ := res.Body.Read(b)
				got[i], codes[i] = string(b[:k]), res.StatusCode
			}()
		}
		wg.Wait()
		for i := range n {
			if codes[i] != 200 || got[i] != got[0] {
				t.Fatalf("concurrent first requests answered %v %q", codes, got)
			}
		}
		var sum int
		if err := e.eng.DB().QueryRow("SELECT SUM(assigned) FROM nodes").Scan(&sum); err != nil || sum != 1 {
			t.Fatalf("places taken: %d, %v; want 1", sum, err)
		}
	})
}

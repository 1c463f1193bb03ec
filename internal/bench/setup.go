package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// prepare registers the users the chosen workloads need and seeds the
// big user, on every target, when the config asks for it. Targets that
// share a database see the work of the first and skip it.
func (r *runner) prepare(ctx context.Context) error {
	seen := map[string]bool{}
	var users []string
	seed := false
	for _, name := range r.cfg.Workloads {
		wl, _ := workloadByName(name)
		seed = seed || wl.seeded
		for _, u := range wl.users(&r.cfg) {
			if !seen[u] {
				seen[u] = true
				users = append(users, u)
			}
		}
	}
	for _, t := range r.cfg.Targets {
		if r.cfg.Register {
			r.note("registering %d users on %s", len(users), t.Name)
			if err := r.register(ctx, t, users); err != nil {
				return err
			}
		}
		if r.cfg.Seed && seed {
			if err := r.seed(ctx, t, bigUser(&r.cfg)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *runner) note(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "bench: "+format+"\n", args...)
	}
}

// register creates each user that does not exist yet, eight at a time.
func (r *runner) register(ctx context.Context, t Target, users []string) error {
	sem := make(chan struct{}, 8)
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for _, u := range users {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := r.registerOne(ctx, t, u); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("bench: registering on %s: %s", t.Name, strings.Join(errs, "; "))
	}
	return nil
}

func (r *runner) registerOne(ctx context.Context, t Target, u string) error {
	var body bytes.Buffer
	st, err := r.send(ctx, t.URL, request{method: "GET", path: "/user/1.0/" + u}, &body)
	if err != nil {
		return err
	}
	if st == 200 && body.String() == "1" {
		return nil
	}
	reg, _ := json.Marshal(map[string]string{"password": r.cfg.Password, "email": u + "@example.com"})
	body.Reset()
	st, err = r.send(ctx, t.URL, request{method: "PUT", path: "/user/1.0/" + u, body: reg}, &body)
	if err != nil {
		return err
	}
	if st != 200 {
		return fmt.Errorf("PUT /user/1.0/%s: %d %q", u, st, truncate(body.String(), 200))
	}
	return nil
}

// seed fills the user's history with cfg.SeedItems WBOs of 300 bytes
// (ids h00000..., random sortindex) in POSTs of 100, unless the user
// already holds that many there.
func (r *runner) seed(ctx context.Context, t Target, u string) error {
	var body bytes.Buffer
	st, err := r.send(ctx, t.URL, request{method: "GET", path: "/1.0/" + u + "/info/collection_counts", user: u}, &body)
	if err != nil {
		return err
	}
	var counts map[string]int
	if st == 200 && json.Unmarshal(body.Bytes(), &counts) == nil && counts["history"] >= r.cfg.SeedItems {
		return nil
	}
	r.note("seeding %s on %s with %d WBOs", u, t.Name, r.cfg.SeedItems)
	rng := r.rng()
	for start := 0; start < r.cfg.SeedItems; start += 100 {
		var b strings.Builder
		b.WriteByte('[')
		for i := start; i < min(start+100, r.cfg.SeedItems); i++ {
			if i > start {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"h%05d","sortindex":%d,"payload":"%s"}`, i, rng.IntN(1000000), randomPayload(rng, 300))
		}
		b.WriteByte(']')
		body.Reset()
		st, err := r.send(ctx, t.URL, request{method: "POST", path: "/1.0/" + u + "/storage/history", user: u,
			body: []byte(b.String())}, &body)
		if err != nil {
			return err
		}
		if st != 200 || !strings.Contains(body.String(), `"failed":[]`) && !strings.Contains(body.String(), `"failed":{}`) {
			return fmt.Errorf("bench: seeding %s on %s: %d %q", u, t.Name, st, truncate(body.String(), 300))
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

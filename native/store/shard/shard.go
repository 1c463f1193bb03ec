// Package shard spreads storage over several engines in one process: one
// engine per storage node (each with its own database), or one per wbo
// table of the Python server's table sharding (wbo0 … wboN-1 in one
// database, by user id modulo N). Accounts stay in one engine. A Router
// is itself a store.Engine, so everything above it (cache, APIs, dry
// runs) works unchanged; it holds no package state, and two Routers, or
// two engines of one kind with different configuration, live side by
// side.
package shard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Picker chooses the storage engine of a user: an index into the
// Router's engines.
type Picker func(ctx context.Context, userID int64) (int, error)

// Router is a store.Engine whose account calls go to Accounts and whose
// storage calls go to the engine Pick chooses for the user.
type Router struct {
	accounts store.Engine
	engines  []store.Engine
	pick     Picker
	// owned are closed by Close (each once).
	owned []store.Engine
}

var (
	_ store.Engine    = (*Router)(nil)
	_ store.Sequencer = (*Router)(nil)
)

// New returns a Router. accounts answers the Users side; engines hold
// storage; pick maps a user to one of them. Close closes accounts and
// every engine, each once.
func New(accounts store.Engine, engines []store.Engine, pick Picker) (*Router, error) {
	if accounts == nil || len(engines) == 0 || pick == nil {
		return nil, errors.New("shard: accounts, engines and a picker are required")
	}
	r := &Router{accounts: accounts, engines: engines, pick: pick}
	seen := map[store.Engine]bool{}
	for _, e := range append([]store.Engine{accounts}, engines...) {
		if !seen[e] {
			seen[e] = true
			r.owned = append(r.owned, e)
		}
	}
	return r, nil
}

// Modulo picks engines[userID mod len(engines)], the Python server's rule
// for wbo0 … wboN-1.
func Modulo(n int) Picker {
	return func(_ context.Context, userID int64) (int, error) {
		i := userID % int64(n)
		if i < 0 {
			i += int64(n)
		}
		return int(i), nil
	}
}

// Locator finds a user's node ("" when it has none).
type Locator func(ctx context.Context, userID int64) (string, error)

// ByNode picks the engine of the user's node: byNode maps a node (host,
// compared case-insensitively) to an engine index, and a user without a
// node, or on a node not listed, goes to fallback. A node found is
// remembered for ttl per user (it changes only when an operator moves a
// user), in a map of the picker's own; no node is asked again each time.
func ByNode(locate Locator, byNode map[string]int, fallback int, ttl time.Duration) Picker {
	norm := make(map[string]int, len(byNode))
	for k, v := range byNode {
		norm[strings.ToLower(k)] = v
	}
	type entry struct {
		idx     int
		expires time.Time
	}
	var mu sync.Mutex
	memo := map[int64]entry{}
	return func(ctx context.Context, userID int64) (int, error) {
		now := time.Now()
		mu.Lock()
		if e, ok := memo[userID]; ok && now.Before(e.expires) {
			mu.Unlock()
			return e.idx, nil
		}
		mu.Unlock()
		node, err := locate(ctx, userID)
		if err != nil {
			return 0, fmt.Errorf("shard: locating user %d: %w", userID, err)
		}
		idx, ok := norm[strings.ToLower(node)]
		if !ok {
			idx = fallback
		}
		if node == "" {
			// Not remembered: the first node/weave is about to assign one.
			return idx, nil
		}
		mu.Lock()
		if len(memo) > 100_000 {
			memo = map[int64]entry{} // bounded: forget all rather than grow
		}
		memo[userID] = entry{idx, now.Add(ttl)}
		mu.Unlock()
		return idx, nil
	}
}

func (r *Router) engine(ctx context.Context, userID int64) (store.Engine, error) {
	i, err := r.pick(ctx, userID)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(r.engines) {
		return nil, fmt.Errorf("shard: picker chose engine %d of %d", i, len(r.engines))
	}
	return r.engines[i], nil
}

// Name lists the engines: "shard(mysql,mysql)".
func (r *Router) Name() string {
	names := make([]string, len(r.engines))
	for i, e := range r.engines {
		names[i] = e.Name()
	}
	return "shard(" + strings.Join(names, ",") + ")"
}

// Ping checks every database.
func (r *Router) Ping(ctx context.Context) error {
	var errs []error
	for _, e := range r.owned {
		errs = append(errs, e.Ping(ctx))
	}
	return errors.Join(errs...)
}

// Close closes every engine once.
func (r *Router) Close() error {
	var errs []error
	for _, e := range r.owned {
		errs = append(errs, e.Close())
	}
	return errors.Join(errs...)
}

// DryRun opens a dry-run view of every engine (nested, each once) and
// hands fn a Router over the views.
func (r *Router) DryRun(ctx context.Context, fn func(store.Engine) error) error {
	views := map[store.Engine]store.Engine{}
	var open func(i int) error
	open = func(i int) error {
		if i == len(r.owned) {
			v := &Router{accounts: views[r.accounts], pick: r.pick, engines: make([]store.Engine, len(r.engines))}
			for j, e := range r.engines {
				v.engines[j] = views[e]
			}
			return fn(v)
		}
		return r.owned[i].DryRun(ctx, func(view store.Engine) error {
			views[r.owned[i]] = view
			return open(i + 1)
		})
	}
	return open(0)
}

// Sequenced runs fn on the user's engine when it sequences writes.
func (r *Router) Sequenced(ctx context.Context, userID int64, at store.Timestamp, fn func(store.Timestamp, store.Engine) error) error {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return err
	}
	sq, ok := e.(store.Sequencer)
	if !ok {
		return store.ErrNotSequenced
	}
	return sq.Sequenced(ctx, userID, at, fn)
}

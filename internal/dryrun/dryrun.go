// Package dryrun lets shadow mode order a native dry run against the
// legacy write it shadows, across the http.Handler between them. The
// shadower starts the dry run on a goroutine of its own with a Gate in the
// request's context, and forwards the write to legacy once the dry run
// reports, with Opened, that its database snapshot is taken: native then
// answers from the state legacy saw, while computing its answer beside
// legacy rather than before it, off the client's path.
package dryrun

import (
	"context"
	"sync"
)

// Gate is opened once by the dry run it is bound to.
type Gate struct {
	opened chan struct{}
	once   sync.Once
}

// NewGate returns a closed gate.
func NewGate() *Gate { return &Gate{opened: make(chan struct{})} }

type key struct{}

// Bind returns ctx carrying g, for the dry run's request.
func (g *Gate) Bind(ctx context.Context) context.Context {
	return context.WithValue(ctx, key{}, g)
}

// Opened is closed once the dry run's snapshot is taken.
func (g *Gate) Opened() <-chan struct{} { return g.opened }

// Opened tells the gate bound to ctx, if any, that the dry run's snapshot
// is taken. Calling it more than once, or without a gate, is harmless.
func Opened(ctx context.Context) {
	if g, ok := ctx.Value(key{}).(*Gate); ok {
		g.once.Do(func() { close(g.opened) })
	}
}

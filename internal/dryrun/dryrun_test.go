package dryrun

import (
	"context"
	"testing"
)

func TestGate(t *testing.T) {
	g := NewGate()
	ctx := g.Bind(context.Background())
	select {
	case <-g.Opened():
		t.Fatal("open before Opened")
	default:
	}
	Opened(context.Background()) // no gate: nothing happens
	Opened(ctx)
	Opened(ctx) // twice is harmless
	select {
	case <-g.Opened():
	default:
		t.Fatal("still closed after Opened")
	}
}

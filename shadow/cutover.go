package shadow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// ErrNotReady is returned by Promote when the route's shadow record does
// not pass the gate and force was not given.
var ErrNotReady = errors.New("promotion refused")

// ErrUnknownRoute is returned for a route name the API does not have.
var ErrUnknownRoute = errors.New("unknown route")

// Cutover moves routes between modes on the evidence of the diff store:
// the gate of `weaveproxy routes promote` and of the admin API.
type Cutover struct {
	Store *store.Store
	// Gate decides readiness; zero fields take store.DefaultGate's.
	Gate store.Gate
	// Table returns the routes table in force (to check route names);
	// nil skips the check.
	Table func() *routes.Table
	// SetMode writes the new mode: proxy.SetMode in a running proxy
	// (file edit + reload), routes.SetModeFile from the command line
	// (the running proxy's file watch picks it up).
	SetMode func(ctx context.Context, route string, mode routes.Mode) error
	// Logger records every change, forced promotions loudly.
	Logger *slog.Logger
}

// Promotion is what Promote decided.
type Promotion struct {
	Verdict  store.Verdict `json:"verdict"`
	Promoted bool          `json:"promoted"`
	Forced   bool          `json:"forced"` // promoted although not ready
}

// Promote switches route to native if its record passes the gate, or
// anyway when force is set (logged as a warning with who forced it).
func (c *Cutover) Promote(ctx context.Context, route string, force bool, by string) (Promotion, error) {
	route = strings.TrimSpace(route)
	if err := c.known(route); err != nil {
		return Promotion{}, err
	}
	v, err := c.Store.Ready(ctx, route, c.gate())
	if err != nil {
		return Promotion{}, err
	}
	p := Promotion{Verdict: v}
	if !v.Ready && !force {
		return p, fmt.Errorf("%s: %s: %w", route, v.Reason, ErrNotReady)
	}
	if err := c.SetMode(ctx, route, routes.Native); err != nil {
		return p, err
	}
	p.Promoted, p.Forced = true, !v.Ready
	log := c.logger()
	if p.Forced {
		log.Warn("route promoted to native by force, although its shadow record is not ready",
			"route", route, "by", by, "verdict", v.Reason)
	} else {
		log.Info("route promoted to native", "route", route, "by", by, "verdict", v.Reason)
	}
	return p, nil
}

// Demote switches route back to legacy (or shadow); it always works, the
// record is not consulted.
func (c *Cutover) Demote(ctx context.Context, route string, to routes.Mode, by string) error {
	route = strings.TrimSpace(route)
	if to == "" {
		to = routes.Legacy
	}
	if to != routes.Legacy && to != routes.Shadow {
		return fmt.Errorf("demote %s: to legacy or shadow, not %q", route, to)
	}
	if err := c.known(route); err != nil {
		return err
	}
	if err := c.SetMode(ctx, route, to); err != nil {
		return err
	}
	c.logger().Warn("route demoted", "route", route, "to", string(to), "by", by)
	return nil
}

func (c *Cutover) gate() store.Gate {
	g := c.Gate
	if g.MinPairs == 0 && g.LastM == 0 {
		return store.DefaultGate
	}
	if g.LastM == 0 {
		g.LastM = store.DefaultGate.LastM
	}
	return g
}

func (c *Cutover) known(route string) error {
	if c.Table == nil {
		return nil
	}
	t := c.Table()
	if t == nil || t.Lookup(route) != nil {
		return nil
	}
	names := make([]string, 0, len(t.Routes)+len(t.Builtins))
	for _, rt := range t.Routes {
		names = append(names, rt.Match)
	}
	for _, rt := range t.Builtins {
		names = append(names, rt.Match)
	}
	if len(names) == 0 {
		return fmt.Errorf("%w %q", ErrUnknownRoute, route)
	}
	return fmt.Errorf("%w %q; routes are named as in routes.yaml, e.g. %q", ErrUnknownRoute, route, names[0])
}

func (c *Cutover) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

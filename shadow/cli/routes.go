package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
	"github.com/weaveproxy/weaveproxy/shadow"
)

const routesSynopsis = `usage: weaveproxy routes promote ROUTE [--routes routes.yaml] [--diff-db DSN] [--force] [--min-pairs N] [--last M] [--by NAME]
       weaveproxy routes demote ROUTE [--routes routes.yaml] [--to legacy|shadow] [--by NAME]
ROUTE is named as in routes.yaml, e.g. "GET /{version}/{user}/info/collections"`

// Routes moves a route to native on the evidence of the diff store
// (promote) or back to legacy or shadow (demote), by editing the routes
// file the running proxy watches.
func Routes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError(routesSynopsis)
	}
	sub := args[0]
	fs := NewFlags("routes "+sub, routesSynopsis, stderr)
	file := fs.String("routes", "routes.yaml", "the routes file the proxy serves (edited in place, comments kept)")
	by := fs.String("by", whoAmI(), "who makes the change, for the log")
	log := slog.New(slog.NewTextHandler(stderr, nil))
	switch sub {
	case "promote":
		dsn := fs.String("diff-db", DefaultDiffDB, "diff store holding the shadow record")
		force := fs.Bool("force", false, "promote even if the record is not ready (logged)")
		gate := gateFlags(fs)
		pos, err := ParseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError(routesSynopsis)
		}
		return promote(ctx, *file, *dsn, pos[0], *force, *by, *gate, log, stdout)
	case "demote":
		to := fs.String("to", string(routes.Legacy), "mode to return to: legacy or shadow")
		pos, err := ParseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError(routesSynopsis)
		}
		if mode, ok := modeOf(*file, pos[0]); ok && mode == routes.Mode(*to) {
			fmt.Fprintf(stdout, "%s: already %s, nothing to do\n", pos[0], mode)
			return nil
		}
		if err := FileCutover(*file, nil, store.Gate{}, log).Demote(ctx, pos[0], routes.Mode(*to), *by); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s\n", pos[0], *to)
		return nil
	}
	return usageError(routesSynopsis)
}

func promote(ctx context.Context, file, dsn, route string, force bool, by string, gate store.Gate, log *slog.Logger, stdout io.Writer) error {
	// A route that is native already needs no evidence: say so rather
	// than judge a shadow record it may never have had.
	if mode, ok := modeOf(file, route); ok && mode == routes.Native {
		fmt.Fprintf(stdout, "%s: already native, nothing to do\n", route)
		return nil
	}
	st, err := openDiffStore(ctx, dsn, !force)
	if err != nil {
		return fmt.Errorf("%w (or promote without evidence: --force)", err)
	}
	defer st.Close()
	p, err := FileCutover(file, st, gate, log).Promote(ctx, route, force, by)
	if errors.Is(err, shadow.ErrNotReady) {
		// Promote's error already carries the verdict; print it once,
		// with the way out.
		return fmt.Errorf("%w; to promote anyway: --force", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: native (%s)\n", route, p.Verdict.Reason)
	return nil
}

// modeOf is route's mode in the routes file, when the file loads and the
// route is known.
func modeOf(file, route string) (routes.Mode, bool) {
	t, err := shadow.Parser().Load(file)
	if err != nil {
		return "", false
	}
	rt := t.Lookup(route)
	if rt == nil {
		return "", false
	}
	return rt.Mode, true
}

package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/proxy"
	"github.com/weaveproxy/weaveproxy/proxy/forward"
	"github.com/weaveproxy/weaveproxy/shadow"
	"github.com/weaveproxy/weaveproxy/shadow/cli"
)

// shadowQueue bounds the comparison work a shadowing proxy takes on
// (--shadow-workers, --shadow-queue, --shadow-queue-bytes); past it pairs
// are dropped and counted, never queued without bound.
type shadowQueue struct {
	workers, pairs int
	bytes          int64
	minIdle        float64
}

// shadowSide is the serving process's shadow mode: the Shadower and its
// store, closed together once the listeners have stopped.
type shadowSide struct {
	*shadow.Shadower
	st *store.Store
}

// Close lets the queued comparisons finish (bounded), then closes the
// store.
func (s shadowSide) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(s.Shadower.Close(ctx), s.st.Close())
}

// buildShadow opens the diff store and builds the Shadower the proxy
// hands shadow-mode routes to, and the /shadow/ admin API. Promotions from
// the admin API edit the routes file, which the proxy's watch reloads.
func buildShadow(ctx context.Context, f *serveFlags, log *slog.Logger, np *nativeParts) (proxy.Shadower, http.Handler, error) {
	dsn := f.diffDSN
	if dsn == "" {
		dsn = cli.DefaultDiffDB
	}
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		return nil, nil, err
	}
	// Deliberate differences (docs/compatibility.md) and the recordings'
	// known legacy defects are accepted from the start, labelled as such:
	// QA should not meet them as findings.
	if err := seedWaivers(ctx, st); err != nil {
		st.Close()
		return nil, nil, err
	}
	table, err := shadow.Parser().Load(f.routes)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	// Reads repeated to learn noise go through an upstream of their own:
	// the client's legacy handler belongs to the client's request.
	repeat := forward.New(table.Legacy, forward.Options{Logger: log})
	sh, err := shadow.New(shadow.Options{Store: st, Metrics: np.registry, Logger: log, Repeat: repeat,
		Workers: f.shadowQueue.workers, QueueSize: f.shadowQueue.pairs, QueueBytes: f.shadowQueue.bytes,
		MinIdle: f.shadowQueue.minIdle})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	cut := cli.FileCutover(f.routes, st, store.Gate{}, log)
	return shadowSide{sh, st}, shadow.AdminHandler(shadow.AdminConfig{Store: st, Cutover: cut, Shadower: sh}), nil
}

func seedWaivers(ctx context.Context, st *store.Store) error {
	const by = "weaveproxy (docs/compatibility.md)"
	if _, err := store.SeedDeliberate(ctx, st, by); err != nil {
		return err
	}
	_, err := store.SeedKnownDefects(ctx, st, by)
	return err
}

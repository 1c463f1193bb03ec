package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/weaveproxy/weaveproxy/native/cache"
	"github.com/weaveproxy/weaveproxy/proxy"
	"github.com/weaveproxy/weaveproxy/proxy/admin"
	"github.com/weaveproxy/weaveproxy/shadow"
)

// buildProxy turns the server into the strangler proxy described by
// --routes: the native server answers the routes moved to Go, everything
// else is forwarded to the legacy PHP server named in the file.
func buildProxy(ctx context.Context, f *serveFlags, log *slog.Logger, a *app, np *nativeParts) error {
	table, err := shadow.Parser().Load(f.routes)
	if err != nil {
		return err
	}
	cfg := proxy.Config{
		Table: table, Native: np.server, NativeDryRun: np.server.DryRun(),
		Logger: log, Metrics: np.registry, Guard: np.guard,
	}
	if np.cache != nil {
		// PHP writes behind the native cache's back: after each write
		// forwarded to it, the proxy drops what the cache holds for that user.
		cfg.Invalidator = cache.Invalidator{E: np.cache, Users: np.users}
	}
	shadow, shadowAdmin, err := buildShadow(ctx, f, log, np)
	if err != nil {
		return err
	}
	if shadow != nil {
		cfg.Shadow = shadow
		if c, ok := shadow.(io.Closer); ok {
			a.closers = append(a.closers, c)
		}
	}
	p, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	a.closers = append(a.closers, p)
	// Say at start when legacy does not answer, rather than at the first
	// request: the proxy still starts, and native routes are served.
	probe, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := p.LegacyReady(probe); err != nil {
		log.Warn("legacy server not reachable at start: legacy routes answer 503 with back-off until it is; native routes are served",
			"url", table.Legacy.URL, "err", err)
	}
	cancel()
	go func() {
		if err := p.Watch(ctx); err != nil && ctx.Err() == nil {
			log.Error("routes watch stopped", "err", err)
		}
	}()
	a.handler = p
	mux := http.NewServeMux()
	mux.Handle("POST /users/{name}/unlock", unlockHandler(np))
	if shadowAdmin != nil {
		mux.Handle("/shadow/", shadowAdmin)
	}
	mux.Handle("/", admin.New(admin.Config{
		Proxy: p, Gatherer: np.registry, Logger: log,
		Ready: []admin.Check{{Name: "database", Func: np.base.Ping}, {Name: "legacy", Func: p.LegacyReady}},
	}))
	a.admin = mux
	return nil
}

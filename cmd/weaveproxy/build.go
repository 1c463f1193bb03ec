package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/weaveproxy/weaveproxy/internal/clientip"
	"github.com/weaveproxy/weaveproxy/internal/dsn"
	"github.com/weaveproxy/weaveproxy/native"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/cache"
	"github.com/weaveproxy/weaveproxy/native/captcha"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/counter"
	"github.com/weaveproxy/weaveproxy/native/guard"
	"github.com/weaveproxy/weaveproxy/native/lockout"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/userapi"
	"github.com/weaveproxy/weaveproxy/proxy/admin"
)

// app is a built server: the Sync handler, the admin handler and what
// must be closed at exit.
type app struct {
	mode    string // "native" or "proxy"
	handler http.Handler
	admin   http.Handler
	// internal is the internal User API (--internal-listen); nil: off.
	internal http.Handler
	closers  []io.Closer
}

func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i].Close())
	}
	return errors.Join(errs...)
}

// nativeParts is the native server and what the proxy wiring needs of it.
type nativeParts struct {
	server   *native.Server
	engine   store.Engine // the cache-wrapped engine when memcache is on
	base     *sqlstore.Engine
	cache    *cache.Engine // nil without memcache
	users    store.Users   // the accounts backend (np.engine, or LDAP)
	lockout  *lockout.Authenticator
	counters counter.Store
	events   cef.Sink
	registry *prometheus.Registry
	log      *slog.Logger
	guard    *guard.Guard // in front of every request, whatever its mode
}

func build(ctx context.Context, f *serveFlags, log *slog.Logger) (*app, error) {
	a := &app{mode: "native"}
	np, err := buildNative(ctx, f, log, a)
	if err != nil {
		a.Close()
		return nil, err
	}
	if f.routes != "" {
		a.mode = "proxy"
		err = buildProxy(ctx, f, log, a, np)
	} else {
		err = buildNativeOnly(f, log, a, np)
	}
	if err == nil && a.admin != nil {
		var token string
		token, err = readToken("--admin-token-file", f.adminToken)
		a.admin = admin.Protect(a.admin, token)
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// readToken reads a secret from path (empty path: none), without its
// trailing newline; errors name flag, the option that gave path.
func readToken(flag, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s: %s is empty", flag, path)
	}
	return tok, nil
}

// openEngine opens the database named by dsn and creates missing tables,
// their storage keyed as key says (--storage-key). Init never alters an
// existing table, so running it against the legacy database is safe.
func openEngine(ctx context.Context, dsn, key string, log *slog.Logger) (*sqlstore.Engine, error) {
	e, err := sqlstore.Open(ctx, dsn, sqlstore.Config{Logger: log, StorageKey: key})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", redactDSN(dsn), err)
	}
	if err := e.Init(ctx); err != nil {
		e.Close()
		return nil, fmt.Errorf("init %s: %w", redactDSN(dsn), err)
	}
	return e, nil
}

// redactDSN hides a database password before a DSN reaches a message.
func redactDSN(d string) string { return dsn.Redact(d) }

func buildNative(ctx context.Context, f *serveFlags, log *slog.Logger, a *app) (*nativeParts, error) {
	base, err := openEngine(ctx, f.dsn, f.storageKey, log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, base)
	np := &nativeParts{base: base, engine: base, registry: prometheus.NewRegistry(), log: log}
	loc := &userLocator{base: base}
	if np.engine, err = buildShards(ctx, &f.shards, f.storageKey, base, loc, log); err != nil {
		return nil, err
	}
	if np.engine != store.Engine(base) {
		// The router closes base and every shard engine.
		a.closers[len(a.closers)-1] = np.engine
	}
	// Go runtime and process figures (goroutines, open fds, memory) on
	// /metrics in both modes.
	np.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	cefCfg := cef.Config{File: f.cefFile}
	if f.cefSyslog != "" {
		network, addr, ok := strings.Cut(f.cefSyslog, ":")
		if !ok {
			return nil, fmt.Errorf("--cef-syslog: want NETWORK:ADDR, got %q", f.cefSyslog)
		}
		cefCfg.Syslog = cef.SyslogConfig{Enabled: true, Network: network, Addr: addr}
	}
	events, err := openCEF(ctx, cefCfg, log, a)
	if err != nil {
		return nil, err
	}
	np.events = events

	np.counters = counter.NewMemory()
	if f.memcache != "" {
		mc := counter.NewMemcacheClient(strings.Split(f.memcache, ",")...)
		mc.Timeout = f.memcacheTimeout
		onError := memcacheErrors(np.registry)
		// Lockout and rate counters fall back to this process's memory
		// while memcached fails, backing off as the cache does: they keep
		// refusing instead of failing open, and a frozen memcached costs
		// one timeout a second, not one per request.
		np.counters = counter.NewFallback(counter.NewMemcache(mc), counter.FallbackConfig{
			Logger: log, OnError: func(op string, err error) { onError("counter_"+op, err) },
		})
		np.cache = cache.New(np.engine, mc, cache.Config{
			TabsInMemcacheOnly: f.tabsMemOnly, Logger: log, OnError: onError, Timeout: f.memcacheTimeout,
		})
		np.engine = np.cache
	} else {
		log.Info("no memcache configured: lockout and rate counters live in this process only")
	}

	users, err := buildUsers(&f.accounts, np.engine, base)
	if err != nil {
		return nil, err
	}
	loc.users = users
	np.users = users
	hashing, err := passwordHash(f)
	if err != nil {
		return nil, err
	}
	basic := auth.NewBasic(users, auth.BasicOptions{Events: events, CheckLocation: f.ownUsersOnly,
		CredentialTTL: f.credentialTTL, PasswordHash: hashing, Logger: log,
		// The guard calls basic.Forget before every account change it sees.
		RecentTTL: auth.DefaultRecentTTL})
	np.lockout = lockout.New(basic, np.counters, lockout.Config{
		MaxFailures: f.lockMax, Window: f.lockWindow, Lockout: f.lockFor,
		// The counter store logs its own changes of state.
		OnStoreError: func(err error) { log.Debug("lockout: counter store", "err", err) },
		OnRefused:    lockoutRefusals(np.registry),
	}, events, time.Now)

	front, err := clientip.Parse(f.trustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	np.guard = guard.New(guard.Config{Auth: np.lockout, Limiter: limiter(f, np), ClientAddr: front.Addr,
		Forget: basic.Forget, Logger: log})

	reg, secret, err := parseRegistration(f)
	if err != nil {
		return nil, err
	}
	cfg := native.Config{
		// The guard has checked (and counted) the credentials already.
		Engine: np.engine, Users: users, Auth: guard.Verified(np.lockout), Events: events, Logger: log,
		Registration: registration(reg, secret), NodeURL: f.nodeURL, QuotaKB: f.quotaKB,
		Resets: resets(f, users, hashing), PasswordHash: hashing,
	}
	if cfg.Nodes, err = buildNodes(ctx, f.accounts.nodes, base); err != nil {
		return nil, err
	}
	if cfg.UserEndpoints, err = endpointSet("user-api-endpoints", f.accounts.publicEndpoints, userapi.PublicEndpoints); err != nil {
		return nil, err
	}
	if f.captchaURL != "" {
		v, err := captcha.New(captcha.Config{VerifyURL: f.captchaURL, PublicKey: f.captchaPub, PrivateKey: f.captchaPriv})
		if err != nil {
			return nil, fmt.Errorf("captcha: %w", err)
		}
		cfg.Captcha = v
	}
	np.server, err = native.New(cfg)
	if err != nil {
		return nil, err
	}
	if a.internal, err = buildInternal(&f.accounts, users, cfg.Resets, events, log); err != nil {
		return nil, err
	}
	log.Info("native server ready", "db", redactDSN(f.dsn), "engine", base.Name(),
		"registration", reg, "password_hash", hashing, "quota_kb", f.quotaKB, "memcache", f.memcache != "", "auth", f.accounts.auth)
	return np, nil
}

func registration(mode, secret string) userapi.Registration {
	switch mode {
	case "open":
		return userapi.Open
	case "secret":
		return userapi.Secret(secret)
	}
	return userapi.Closed
}

// resets builds the reset-code service; without an SMTP host it has no
// mailer and password_reset answers 503, as the Python server did with no
// mail configured.
func resets(f *serveFlags, users store.Users, hashing auth.PasswordHash) *auth.Resets {
	cfg := auth.ResetConfig{Users: users, PublicURL: f.publicURL, PasswordHash: hashing}
	if f.smtpHost != "" {
		cfg.Mailer = auth.NewSMTPMailer(auth.SMTPConfig{Host: f.smtpHost, Port: f.smtpPort, From: f.smtpFrom})
	}
	return auth.NewResets(cfg)
}

func memcacheErrors(reg prometheus.Registerer) func(op string, err error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weaveproxy_memcache_errors_total",
		Help: "Memcache operations that failed or were skipped during a backoff; requests were served from the database.",
	}, []string{"op"})
	reg.MustRegister(c)
	return func(op string, err error) { c.WithLabelValues(op).Inc() }
}

// lockoutRefusals counts requests refused because their account is
// locked; it exists (at 0) from the start, so alerts and dashboards on it
// work before the first lock.
func lockoutRefusals(reg prometheus.Registerer) func() {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "weaveproxy_lockout_refused_total",
		Help: "Requests refused with 401 because their account is locked (the request that locks it included).",
	})
	reg.MustRegister(c)
	return c.Inc
}

// openCEF opens the security event log. A file log is reopened on SIGHUP,
// so that logrotate can move it away (the proxy reloads routes.yaml on the
// same signal; both hear it).
func openCEF(ctx context.Context, cfg cef.Config, log *slog.Logger, a *app) (cef.Sink, error) {
	if cfg.Syslog.Enabled {
		events, cl, err := cef.Open(cfg)
		if err != nil {
			return nil, fmt.Errorf("cef: %w", err)
		}
		a.closers = append(a.closers, cl)
		return events, nil
	}
	if cfg.File == "" {
		cfg.File = cef.DefaultFile
	}
	w, err := cef.NewFileWriter(cfg.File)
	if err != nil {
		return nil, fmt.Errorf("cef: %w", err)
	}
	a.closers = append(a.closers, w)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := w.Reopen(); err != nil {
					log.Error("cef: reopening the event file", "file", cfg.File, "err", err)
				}
			}
		}
	}()
	return cef.NewLogger(cfg, w), nil
}

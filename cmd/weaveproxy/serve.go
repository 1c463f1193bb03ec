package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/weaveproxy/weaveproxy/internal/config"
	"github.com/weaveproxy/weaveproxy/native/counter"

	"github.com/weaveproxy/weaveproxy/native/auth"
)

// serveFlags is everything `weaveproxy serve` reads from its command line.
// The flag names are an interface: scripts and docs depend on them.
type serveFlags struct {
	listen       string
	adminListen  string
	dsn          string
	storageKey   string
	registration string
	routes       string
	quotaKB      float64
	memcache     string
	// memcacheTimeout bounds one memcache operation; past it memcache
	// counts as down and everything backs off to the database and memory.
	memcacheTimeout time.Duration
	tabsMemOnly     bool
	cefFile         string
	cefSyslog       string
	nodeURL         string
	ownUsersOnly    bool // --check-location
	publicURL       string
	smtpHost        string
	smtpPort        int
	smtpFrom        string
	captchaURL      string
	captchaPub      string
	captchaPriv     string
	lockMax         int64
	lockWindow      time.Duration
	lockFor         time.Duration
	rateReads       int
	rateWrites      int
	rateRegister    int
	// trustedProxies lists the front proxies whose X-Forwarded-For
	// names the client (budgets of unauthenticated requests).
	trustedProxies string
	credentialTTL  time.Duration
	passwordHash   string
	diffDSN        string
	shadowQueue    shadowQueue
	logLevel       string
	logFormat      string
	drainTimeout   time.Duration
	timeouts       timeouts
	adminToken     string // --admin-token-file
	accounts       accountFlags
	shards         shardFlags
	// gomaxprocs caps the Go runtime's processors (runtime.GOMAXPROCS);
	// 0 leaves Go's default (the CPUs, or $GOMAXPROCS).
	gomaxprocs int
	// gogc is the collector's GOGC while serving (see defaultGOGC).
	gogc int
}

// defaultGOGC is --gogc's default: $GOGC when set (off is -1, as
// debug.SetGCPercent has it), else 400. Go's 100
// lets a serve process, whose live heap is a few MB, collect 13 times a
// second under 400 reads/s of 100 items: every cycle stops the world
// twice, and on cores shared with MariaDB a stopped thread waits for the
// kernel to run it again (pauses up to 60 ms measured, the p99 of the
// reads). 400 collects four times less often for a heap of some 5 times
// the live one instead of 2 (tens of MB here; GOMEMLIMIT caps it).
func defaultGOGC() int {
	env := os.Getenv("GOGC")
	if env == "off" {
		return -1
	}
	if v, err := strconv.Atoi(env); err == nil && v > 0 {
		return v
	}
	return 400
}

// timeouts bound how long one connection may hold the server: a client
// that sends slowly, reads slowly or idles between requests is cut off.
type timeouts struct {
	header time.Duration // request line and headers
	body   time.Duration // the body of one request, from the end of its headers
	write  time.Duration // from the end of the headers to the last byte of the answer
	idle   time.Duration // between two requests on a keep-alive connection
}

// parseServeFlags reads the command line and the settings file it names
// (--config): every flag is also a key of that file, the command line wins.
func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f, fs := newServeFlags(stderr)
	if _, err := config.Parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	return f, f.validate()
}

// checkValues refuses settings that would only fail later, at the first
// request or never visibly: a memcache address without a port silently
// disables the cache's and lockout's sharing, a negative quota refuses
// every write.
func (f *serveFlags) checkValues() error {
	if f.quotaKB < 0 {
		return fmt.Errorf("--quota-kb %v: want 0 (no quota) or a positive size in KB", f.quotaKB)
	}
	if f.gomaxprocs < 0 {
		return fmt.Errorf("--gomaxprocs %d: want 0 (Go's default) or a number of processors", f.gomaxprocs)
	}
	if f.gogc <= 0 && f.gogc != -1 {
		return fmt.Errorf("--gogc %d: want a positive percentage, or -1 for off", f.gogc)
	}
	if f.memcacheTimeout <= 0 {
		return fmt.Errorf("--memcache-timeout %v: want a positive duration", f.memcacheTimeout)
	}
	if f.memcache != "" {
		for _, addr := range strings.Split(f.memcache, ",") {
			if strings.HasPrefix(addr, "/") {
				continue // a unix socket
			}
			host, port, err := net.SplitHostPort(addr)
			if _, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" {
				return fmt.Errorf("--memcache %q: want HOST:PORT (or a unix socket path), comma-separated", addr)
			}
		}
	}
	// In a fixed order: with both wrong, the same one is reported each run.
	addrs := [][2]string{{"--listen", f.listen}}
	if f.adminListen != "" {
		addrs = append(addrs, [2]string{"--admin-listen", f.adminListen})
	}
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a[1]); err != nil {
			return fmt.Errorf("%s %q: want HOST:PORT: %w", a[0], a[1], err)
		}
	}
	return nil
}

// newServeFlags declares the serve flags on a fresh FlagSet; `config
// check` reads the same set.
func newServeFlags(stderr io.Writer) (*serveFlags, *flag.FlagSet) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The installed settings file applies when it exists; --config names
	// another, --config "" none. Without it the bare binary stays Weave
	// Minimal, configured by its defaults.
	defConfig := ""
	if _, err := os.Stat(installedConfig); err == nil {
		defConfig = installedConfig
	}
	fs.String("config", defConfig, "settings file (weaveproxy.yaml): any flag below as `name: value`; the command line wins (default: "+installedConfig+" when it exists)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "Sync listener address")
	fs.StringVar(&f.adminListen, "admin-listen", "127.0.0.1:9090", "admin API address (routes, metrics, health); empty disables")
	fs.StringVar(&f.dsn, "db", "sqlite:weave.db", "database: sqlite:PATH or mysql:<go-sql-driver DSN>")
	fs.StringVar(&f.storageKey, "storage-key", "auto", storageKeyUsage)
	fs.StringVar(&f.registration, "registration", "", "open, closed or secret:VALUE (default: open for the embedded SQLite server on a loopback listener; closed with --routes or MySQL)")
	fs.StringVar(&f.routes, "routes", "", "routes.yaml: run as the proxy in front of the legacy server")
	fs.Float64Var(&f.quotaKB, "quota-kb", 5120, "storage quota per user in KB; 0 disables")
	fs.StringVar(&f.memcache, "memcache", "", "memcached servers, comma-separated")
	fs.DurationVar(&f.memcacheTimeout, "memcache-timeout", counter.DefaultMemcacheTimeout, "how long one memcache operation may take before memcache counts as down")
	fs.BoolVar(&f.tabsMemOnly, "tabs-memcache-only", false, "keep tabs in memcache alone (only once no route is legacy)")
	fs.StringVar(&f.cefFile, "cef-file", "", "CEF security event file (default cef.log)")
	fs.StringVar(&f.cefSyslog, "cef-syslog", "", "send CEF events to syslog at udp:HOST:PORT, tcp:HOST:PORT or unix:PATH")
	fs.StringVar(&f.nodeURL, "node-url", "", "storage node URL for node/weave (default: the request's own host)")
	fs.BoolVar(&f.ownUsersOnly, "check-location", false, "storage node: refuse users whose node (users.location, LDAP node attribute) is another host, as PHP storage nodes did")
	fs.StringVar(&f.publicURL, "public-url", "", "external base URL, used in password-reset mails")
	fs.StringVar(&f.smtpHost, "smtp-host", "", "SMTP server for password-reset mail; empty: resets answer 503")
	fs.IntVar(&f.smtpPort, "smtp-port", 25, "SMTP port")
	fs.StringVar(&f.smtpFrom, "smtp-from", "weave@localhost", "sender of password-reset mail")
	fs.StringVar(&f.captchaURL, "captcha-verify-url", "", "reCAPTCHA-style verification URL; empty: captcha off")
	fs.StringVar(&f.captchaPub, "captcha-public-key", "", "captcha site key")
	fs.StringVar(&f.captchaPriv, "captcha-private-key", "", "captcha secret key")
	fs.Int64Var(&f.lockMax, "lockout-max-failures", 10, "failed logins that lock an account; negative disables")
	fs.DurationVar(&f.lockWindow, "lockout-window", 10*time.Minute, "window in which failures count")
	fs.DurationVar(&f.lockFor, "lockout-duration", 30*time.Minute, "how long a lock lasts")
	fs.IntVar(&f.rateReads, "rate-reads", 0, "read requests per user per minute; 0: default budget, negative: off")
	fs.IntVar(&f.rateWrites, "rate-writes", 0, "write requests per user per minute; 0: default budget, negative: off")
	fs.IntVar(&f.rateRegister, "rate-register", 0, "account creations per client address per hour; 0: default (20), negative: off")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "front proxies (addresses or CIDR prefixes, comma-separated) whose X-Forwarded-For names the client")
	fs.StringVar(&f.passwordHash, "password-hash", "", "how new passwords are stored: bcrypt, or legacy (md5, what PHP reads); default bcrypt for the embedded SQLite server, legacy with --routes or MySQL")
	fs.DurationVar(&f.credentialTTL, "credential-ttl", 10*time.Second, "how long verified credentials are remembered; negative: never")
	fs.StringVar(&f.diffDSN, "diff-db", "", "shadow diff store: sqlite:PATH or mysql:DSN (default sqlite:weaveproxy-diff.db)")
	fs.IntVar(&f.shadowQueue.workers, "shadow-workers", 2, "shadow mode: pairs compared at once")
	fs.IntVar(&f.shadowQueue.pairs, "shadow-queue", 1024, "shadow mode: pairs waiting for comparison before new ones are dropped")
	fs.Int64Var(&f.shadowQueue.bytes, "shadow-queue-bytes", 64<<20, "shadow mode: bytes of waiting pairs before new ones are dropped")
	fs.Float64Var(&f.shadowQueue.minIdle, "shadow-min-idle", 0.2, "shadow mode: share of the machine's CPU that must be idle for shadow work to start, else requests go to legacy alone, counted as not compared (cpu_busy); -1: always compare")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	// Beside PHP and MariaDB on a small host, 1 is cheaper per request:
	// see docs/performance.md ("proxied").
	fs.IntVar(&f.gomaxprocs, "gomaxprocs", 0, "processors the Go runtime uses at once (GOMAXPROCS); 0: Go's default, the CPUs available")
	fs.IntVar(&f.gogc, "gogc", defaultGOGC(), "heap growth in percent before the Go collector runs (GOGC), -1 for off; default $GOGC or 400")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 10*time.Second, "how long in-flight requests may finish at shutdown")
	fs.StringVar(&f.adminToken, "admin-token-file", "", "file holding the bearer token state-changing admin calls need (unlock, reload, promote); without it they are refused")
	fs.DurationVar(&f.timeouts.header, "header-timeout", 30*time.Second, "deadline for a request's line and headers")
	// Sync's largest legitimate body is a batch POST of a few MB: two
	// minutes leave room for a slow uplink, not for a client that
	// announces a gigabyte and trickles it.
	fs.DurationVar(&f.timeouts.body, "body-timeout", 2*time.Minute, "deadline for reading one request's body, from the end of its headers")
	// Above legacy's 30 s response_header_timeout plus a shadow
	// comparison, so the server never cuts an answer legacy is still giving.
	fs.DurationVar(&f.timeouts.write, "write-timeout", 3*time.Minute, "deadline for answering one request, from the end of its headers")
	fs.DurationVar(&f.timeouts.idle, "idle-timeout", time.Minute, "how long an idle keep-alive connection stays open")
	addAccountFlags(fs, &f.accounts)
	addShardFlags(fs, &f.shards)
	return f, fs
}

func newLogger(f *serveFlags, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", f.logFormat)
}

// isLoopback reports whether addr only listens on a loopback interface:
// then open registration is safe by default, since only this host can
// reach it.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(f, stderr)
	if err != nil {
		return err
	}
	// The MySQL driver logs on its own (connection resets and the like);
	// route it through slog, so json logs stay json.
	_ = mysql.SetLogger(slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	if f.gomaxprocs > 0 {
		// Restored at the end: tests run serve inside their own process.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(f.gomaxprocs))
	}
	defer debug.SetGCPercent(debug.SetGCPercent(f.gogc))
	log.Info("Go runtime", "gomaxprocs", runtime.GOMAXPROCS(0), "cpus", runtime.NumCPU(), "gogc", f.gogc)
	if err := serve(ctx, f, log); err != nil {
		// Once there is a logger, a fatal error is a log line in its
		// format, not plain text beside json.
		log.Error("weaveproxy serve stopped", "err", err)
		return reportedError{err}
	}
	return nil
}

// listener is one address serve listens on, by role.
type listener struct {
	role, addr string
	ln         net.Listener // bound by serve
}

// listeners are the addresses configured, in the order they are bound and
// logged: Sync always, then admin and internal when set.
func (f *serveFlags) listeners() []listener {
	l := []listener{{role: "sync", addr: f.listen}}
	if f.adminListen != "" {
		l = append(l, listener{role: "admin", addr: f.adminListen})
	}
	if f.accounts.internalListen != "" {
		l = append(l, listener{role: "internal", addr: f.accounts.internalListen})
	}
	return l
}

// serve binds the listeners first — a taken port must fail before
// anything is created on disk or in the database — then builds and runs.
func serve(ctx context.Context, f *serveFlags, log *slog.Logger) error {
	lns := f.listeners()
	closeAll := func() {
		for _, l := range lns {
			if l.ln != nil {
				l.ln.Close()
			}
		}
	}
	for i, l := range lns {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("listen %s: %w", l.addr, err)
		}
		lns[i].ln = ln
	}
	app, err := build(ctx, f, log)
	if err != nil {
		closeAll()
		return err
	}
	defer app.Close()
	return app.run(ctx, f, log, lns)
}

// run serves the bound listeners until ctx ends, then drains.
func (a *app) run(ctx context.Context, f *serveFlags, log *slog.Logger, lns []listener) error {
	admin := a.admin
	if admin == nil {
		admin = http.NotFoundHandler()
	}
	handlers := map[string]http.Handler{"sync": a.handler, "admin": admin, "internal": a.internal}
	servers := make([]*http.Server, len(lns))
	errc := make(chan error, len(lns))
	for i, l := range lns {
		s := f.timeouts.server(l.addr, handlers[l.role])
		servers[i] = s
		log.Info("listening", "addr", l.ln.Addr().String(), "role", l.role, "mode", a.mode)
		go func() { errc <- s.Serve(l.ln) }()
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: draining in-flight requests", "timeout", f.drainTimeout)
	case runErr = <-errc:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), f.drainTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutCtx); err != nil {
			log.Warn("drain cut short: requests still running were closed", "err", err)
		}
	}
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	log.Info("stopped")
	return runErr
}

// embedded reports whether serve runs as the embedded server: SQLite, no
// legacy behind it (no --routes), so no PHP that shares the accounts.
func (f *serveFlags) embedded() bool {
	return f.routes == "" && strings.HasPrefix(f.dsn, "sqlite:")
}

// passwordHash decides how new passwords are stored. Left empty: bcrypt
// only for the embedded server; with --routes (a reload can send any
// route back to PHP) or a MySQL database (PHP may share it) md5, the only
// form PHP reads, until Ops choose bcrypt after the cutover.
func passwordHash(f *serveFlags) (auth.PasswordHash, error) {
	if f.passwordHash == "" {
		if f.embedded() {
			return auth.HashBcrypt, nil
		}
		return auth.HashLegacy, nil
	}
	h, err := auth.ParsePasswordHash(f.passwordHash)
	if err != nil {
		return "", fmt.Errorf("--password-hash: %w", err)
	}
	return h, nil
}

// parseRegistration turns the --registration flag into a policy. Left
// empty, registration is open only for the embedded server (SQLite, no
// routes, loopback listener): a loopback listener is also what sits behind
// nginx in front of a real deployment, where open sign-up must be chosen.
func parseRegistration(f *serveFlags) (string, string, error) {
	v := f.registration
	switch {
	case v == "":
		if isLoopback(f.listen) && f.embedded() {
			return "open", "", nil
		}
		return "closed", "", nil
	case v == "open", v == "closed":
		return v, "", nil
	case strings.HasPrefix(v, "secret:") && len(v) > len("secret:"):
		return "secret", strings.TrimPrefix(v, "secret:"), nil
	}
	return "", "", fmt.Errorf("--registration: want open, closed or secret:VALUE, got %q", v)
}

// server is an http.Server on addr with t's deadlines. ReadTimeout covers
// headers and body together; bodyDeadline then narrows the body part to
// t.body counted from the handler's start, whatever the headers took.
func (t timeouts) server(addr string, h http.Handler) *http.Server {
	read := time.Duration(0)
	if t.header > 0 && t.body > 0 {
		read = t.header + t.body
	}
	return &http.Server{
		Addr: addr, Handler: bodyDeadline(t.body, h),
		ReadHeaderTimeout: t.header, ReadTimeout: read,
		WriteTimeout: t.write, IdleTimeout: t.idle,
	}
}

// bodyDeadline sets a read deadline of d on each request's connection as
// its handler starts: a client that announces a large Content-Length and
// sends a few bytes is cut off after d instead of holding the connection.
func bodyDeadline(d time.Duration, h http.Handler) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r)
	})
}

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
	"strings"
	"time"
)

// serveFlags is everything `weaveproxy serve` reads from its command line.
// The flag names are an interface: scripts and docs depend on them.
type serveFlags struct {
	listen       string
	adminListen  string
	dsn          string
	registration string
	routes       string
	quotaKB      float64
	memcache     string
	tabsMemOnly  bool
	cefFile      string
	cefSyslog    string
	nodeURL      string
	publicURL    string
	smtpHost     string
	smtpPort     int
	smtpFrom     string
	captchaURL   string
	captchaPub   string
	captchaPriv  string
	lockMax      int64
	lockWindow   time.Duration
	lockFor      time.Duration
	rateReads    int
	rateWrites   int
	diffDSN      string
	logLevel     string
	logFormat    string
	drainTimeout time.Duration
}

func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "Sync listener address")
	fs.StringVar(&f.adminListen, "admin-listen", "127.0.0.1:9090", "admin API address (routes, metrics, health); empty disables")
	fs.StringVar(&f.dsn, "db", "sqlite:weave.db", "database: sqlite:PATH or mysql:<go-sql-driver DSN>")
	fs.StringVar(&f.registration, "registration", "", "open, closed or secret:VALUE (default: open on a loopback listener, else closed)")
	fs.StringVar(&f.routes, "routes", "", "routes.yaml: run as the proxy in front of the legacy server")
	fs.Float64Var(&f.quotaKB, "quota-kb", 5120, "storage quota per user in KB; 0 disables")
	fs.StringVar(&f.memcache, "memcache", "", "memcached servers, comma-separated")
	fs.BoolVar(&f.tabsMemOnly, "tabs-memcache-only", false, "keep tabs in memcache alone (only once no route is legacy)")
	fs.StringVar(&f.cefFile, "cef-file", "", "CEF security event file (default cef.log)")
	fs.StringVar(&f.cefSyslog, "cef-syslog", "", "send CEF events to syslog at udp:HOST:PORT, tcp:HOST:PORT or unix:PATH")
	fs.StringVar(&f.nodeURL, "node-url", "", "storage node URL for node/weave (default: the request's own host)")
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
	fs.StringVar(&f.diffDSN, "diff-db", "", "shadow diff store: sqlite:PATH or mysql:DSN (default sqlite:weaveproxy-diff.db)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 10*time.Second, "how long in-flight requests may finish at shutdown")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	return f, nil
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
	app, err := build(ctx, f, log)
	if err != nil {
		return err
	}
	defer app.Close()
	return app.run(ctx, f, log)
}

// run listens on the Sync and admin addresses until ctx ends, then drains.
func (a *app) run(ctx context.Context, f *serveFlags, log *slog.Logger) error {
	servers := []*http.Server{{Addr: f.listen, Handler: a.handler, ReadHeaderTimeout: 30 * time.Second}}
	if f.adminListen != "" && a.admin != nil {
		servers = append(servers, &http.Server{Addr: f.adminListen, Handler: a.admin, ReadHeaderTimeout: 10 * time.Second})
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", s.Addr, err)
		}
		log.Info("listening", "addr", ln.Addr().String(), "role", []string{"sync", "admin"}[i], "mode", a.mode)
		go func() { errc <- s.Serve(ln) }()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), f.drainTimeout)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutCtx)
	}
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}

// parseRegistration turns the --registration flag into a policy.
func parseRegistration(v, listen string) (string, string, error) {
	switch {
	case v == "":
		if isLoopback(listen) {
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

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"weaveproxy/native/cef"
	"weaveproxy/native/counter"
	"weaveproxy/native/lockout"
)

// runDB: `weaveproxy db init --db DSN`.
func runDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "init" {
		return fmt.Errorf("usage: weaveproxy db init --db DSN")
	}
	fs := flag.NewFlagSet("db init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", "sqlite:weave.db", "database: sqlite:PATH or mysql:<go-sql-driver DSN>")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	e, err := openEngine(ctx, *dsn, log)
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Fprintf(stdout, "schema ready in %s (%s)\n", redactDSN(*dsn), e.Name())
	return nil
}

// runUser: `weaveproxy user unlock NAME [--memcache ADDRS]`. Lockout
// counters live in memcache when the servers share one; that is where the
// unlock must happen. Without memcache the counters are in the serving
// process's memory, which no other process can reach: say so.
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "unlock" {
		return fmt.Errorf("usage: weaveproxy user unlock NAME --memcache ADDRS")
	}
	name := args[1]
	fs := flag.NewFlagSet("user unlock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mc := fs.String("memcache", "", "memcached servers the proxy instances share, comma-separated")
	admin := fs.String("admin", "", "admin address of a server without memcache (e.g. 127.0.0.1:9090)")
	cefFile := fs.String("cef-file", "", "CEF file for the AccountUnlocked event (default cef.log)")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if *mc == "" && *admin == "" {
		return fmt.Errorf("user unlock: give --memcache ADDRS (shared counters) or --admin ADDR (a server keeping them in memory)")
	}
	if *admin != "" {
		return unlockViaAdmin(ctx, *admin, name, stdout)
	}
	events, cl, err := cef.Open(cef.Config{File: *cefFile})
	if err != nil {
		return err
	}
	defer cl.Close()
	counters := counter.NewMemcache(counter.NewMemcacheClient(strings.Split(*mc, ",")...))
	lk := lockout.New(nil, counters, lockout.Config{}, events, time.Now)
	if err := lk.Unlock(ctx, name); err != nil {
		return fmt.Errorf("unlock %s: %w", name, err)
	}
	fmt.Fprintf(stdout, "unlocked %s\n", name)
	return nil
}

// unlockViaAdmin asks a running server to unlock name, for deployments
// whose lockout counters live in that server's memory.
func unlockViaAdmin(ctx context.Context, admin, name string, stdout io.Writer) error {
	u := "http://" + admin + "/users/" + url.PathEscape(name) + "/unlock"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unlock via %s: %w", admin, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unlock via %s: %s: %s", admin, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "unlocked %s\n", name)
	return nil
}

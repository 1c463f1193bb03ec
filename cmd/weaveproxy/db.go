package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/counter"
	"github.com/weaveproxy/weaveproxy/native/lockout"
	"github.com/weaveproxy/weaveproxy/shadow/cli"
)

// runDB: `weaveproxy db init --db DSN`.
func runDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "usage: weaveproxy db init --db DSN [--storage-key auto|id|name]"
	if len(args) == 0 || (args[0] != "init" && !isHelp(args[0])) {
		return errors.New(synopsis)
	}
	fs := cli.NewFlags("db init", synopsis, stderr)
	dsn := fs.String("db", "sqlite:weave.db", "database: sqlite:PATH or mysql:<go-sql-driver DSN>")
	key := fs.String("storage-key", "auto", storageKeyUsage)
	if isHelp(args[0]) {
		fs.Usage()
		return flag.ErrHelp
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	e, err := openEngine(ctx, *dsn, *key, log)
	if err != nil {
		return err
	}
	defer e.Close()
	keyed := "id"
	if e.KeyedByName() {
		keyed = "name"
	}
	fmt.Fprintf(stdout, "schema ready in %s (%s, storage keyed by user %s)\n", redactDSN(*dsn), e.Name(), keyed)
	return nil
}

// runUser: `weaveproxy user unlock NAME [--memcache ADDRS]`. Lockout
// counters live in memcache when the servers share one; that is where the
// unlock must happen. Without memcache the counters are in the serving
// process's memory, which no other process can reach: say so.
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "usage: weaveproxy user unlock NAME (--memcache ADDRS | --admin ADDR [--admin-token-file PATH]) [--cef-file PATH]"
	if len(args) == 0 || (args[0] != "unlock" && !isHelp(args[0])) {
		return errors.New(synopsis)
	}
	fs := cli.NewFlags("user unlock", synopsis, stderr)
	mc := fs.String("memcache", "", "memcached servers the proxy instances share, comma-separated")
	admin := fs.String("admin", "", "admin address of a server without memcache (e.g. 127.0.0.1:9090)")
	cefFile := fs.String("cef-file", "", "CEF file for the AccountUnlocked event (default cef.log)")
	tokenFile := fs.String("admin-token-file", "", "with --admin: file holding the server's admin bearer token")
	if isHelp(args[0]) {
		fs.Usage()
		return flag.ErrHelp
	}
	pos, err := cli.ParseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New(synopsis)
	}
	name := pos[0]
	if *mc == "" && *admin == "" {
		return fmt.Errorf("user unlock: give --memcache ADDRS (shared counters) or --admin ADDR (a server keeping them in memory)")
	}
	if *admin != "" {
		token, err := readToken("--admin-token-file", *tokenFile)
		if err != nil {
			return err
		}
		return unlockViaAdmin(ctx, *admin, token, name, stdout)
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
func unlockViaAdmin(ctx context.Context, admin, token, name string, stdout io.Writer) error {
	u := "http://" + admin + "/users/" + url.PathEscape(name) + "/unlock"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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

// storageKeyUsage documents --storage-key for serve and db init.
const storageKeyUsage = "how storage tables key a user: id (users.id), name (users.username: older PHP and Python schemas), " +
	"or auto: as the existing wbo table is keyed (username a string: name), id for new tables"

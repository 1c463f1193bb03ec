package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/weaveproxy/weaveproxy/internal/dev"
)

// runDev: `weaveproxy dev` starts MariaDB, memcached, the legacy PHP
// server, an SMTP sink, slapd and the proxy in front of PHP, all on
// loopback, prints where each is, and stops them all at Ctrl-C. Run it
// from the repository (it needs routes.yaml and the PHP stand-in).
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "folder for databases, logs, routes.yaml and mail (default: a temp folder removed at exit)")
	repo := fs.String("repo", ".", "the repository's root")
	legacyPHP := fs.String("legacy-php", "", "the original PHP server's folder (default ../shared/legacy-php beside the repository when there); stand-in: the e2e/legacy stand-in")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dev: unexpected argument %q", fs.Arg(0))
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "e2e", "legacy", "router.php")); err != nil {
		return fmt.Errorf("dev: %s is not the weaveproxy repository: run it there or give --repo DIR", root)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "weaveproxy-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	} else if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	env, err := dev.Start(ctx, dev.Options{Dir: *dir, Repo: root, LegacyPHP: *legacyPHP, Log: stderr})
	if err != nil {
		return err
	}
	defer env.Close()
	env.Print(stdout)
	return runServe(ctx, env.ServeArgs(), stdout, stderr)
}

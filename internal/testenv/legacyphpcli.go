package testenv

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// LegacyPHPCLI is the original PHP Weave server under PHP's built-in web
// server: the way its README runs it, and cheap enough for every test.
// Stop and Start it (the embedded Process) to simulate an outage.
type LegacyPHPCLI struct {
	*PHP
	ConfigPath string // the generated config.php (WEAVE_LEGACY_CONFIG)
	ErrorPath  string // PHP's error log
}

// ErrorLog is the end of PHP's error log (warnings, fatal errors).
func (l *LegacyPHPCLI) ErrorLog() string { return tail(l.ErrorPath) }

// StartLegacyPHPCLI serves the original PHP server (cfg.Source, default
// LegacyPHPDir()) with `php -S 127.0.0.1:PORT router.php`, from that
// folder as its README says, with cfg.Workers workers
// (PHP_CLI_SERVER_WORKERS; 0 means 4 so that concurrent clients do not
// queue behind one another), and waits until it answers from its
// database, whose legacy tables must exist. It stops at t.Cleanup. Call
// RequireLegacyPHP first to skip where the PHP server is absent.
func StartLegacyPHPCLI(t T, cfg LegacyPHPConfig) *LegacyPHPCLI {
	t.Helper()
	src, err := legacySource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l := &LegacyPHPCLI{ConfigPath: filepath.Join(dir, "config.php"), ErrorPath: filepath.Join(dir, "php-error.log")}
	if err := os.WriteFile(l.ConfigPath, []byte(legacyConfigPHP(cfg)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	var args []string
	ini := legacyINI(cfg, l.ErrorPath)
	for _, k := range sortedKeys(ini) {
		args = append(args, "-d", k+"="+ini[k])
	}
	args = append(args, "-S", addr, "router.php")
	env := []string{
		"WEAVE_LEGACY_CONFIG=" + l.ConfigPath,
		"PHP_CLI_SERVER_WORKERS=" + strconv.Itoa(cmp.Or(cfg.Workers, 4)),
	}
	path := requireBinary(t, "php")
	p := newProcess("php", path, args, env, addr, dir)
	p.WorkDir = src
	t.Cleanup(p.Stop)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	l.PHP = &PHP{Addr: addr, URL: "http://" + addr, Process: p}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := PingLegacy(ctx, l.URL); err != nil {
		t.Fatalf("testenv: original PHP server at %s: %v\n%s\n%s", l.URL, err, p.LogTail(), l.ErrorLog())
	}
	return l
}

// Start starts the server again after Stop, and waits until it answers
// HTTP, not only until its port accepts.
func (l *LegacyPHPCLI) Start(t T) {
	t.Helper()
	l.Process.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := PingLegacy(ctx, l.URL); err != nil {
		t.Fatalf("testenv: original PHP server at %s after a restart: %v\n%s", l.URL, err, l.LogTail())
	}
}

// Reconfigure rewrites config.php; router.php reads it on every request,
// so the next request already sees cfg (a database that went away, say).
// cfg.Workers and cfg.INI need a restart and are ignored.
func (l *LegacyPHPCLI) Reconfigure(cfg LegacyPHPConfig) error {
	if err := os.WriteFile(l.ConfigPath, []byte(legacyConfigPHP(cfg)), 0o644); err != nil {
		return fmt.Errorf("testenv: reconfigure legacy PHP: %w", err)
	}
	return nil
}

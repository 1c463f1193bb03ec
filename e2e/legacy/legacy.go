// Package legacy starts the legacy Weave server for end-to-end tests: the
// original PHP server (../shared/legacy-php, StartOriginal) or the stand-in
// here (Start): router.php and its two siblings, served by Debian's
// `php -S`, answer Sync storage 1.0 and User API 1.0 over the legacy MySQL
// tables as the original does. The stand-in stays for what the original
// cannot do: planted deviations (Plant*) that prove the shadow diff finds
// them, and a lane for a clone without ../shared. Each runs a test on
// both, so every stand-in test also checks the stand-in against the
// original. router.php's header lists where the stand-in answers as PHP 5
// did instead of the original's PHP 8 crashes.
package legacy

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// DBConfig says where the fixture finds the legacy tables.
type DBConfig struct {
	Host     string // default 127.0.0.1
	Port     int    // default 3306
	User     string // default root
	Password string
	Name     string // the database
}

// DBConfigFromDSN reads a go-sql-driver DSN such as testenv.MariaDB returns.
func DBConfigFromDSN(dsn string) (DBConfig, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return DBConfig{}, fmt.Errorf("legacy: %w", err)
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return DBConfig{}, fmt.Errorf("legacy: DSN address %q: %w", c.Addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return DBConfig{}, fmt.Errorf("legacy: DSN port %q: %w", port, err)
	}
	return DBConfig{Host: host, Port: p, User: c.User, Password: c.Passwd, Name: c.DBName}, nil
}

// Deliberate deviations the fixture can plant for the shadow/diff tests.
const (
	// PlantStatusInfoQuota makes GET info/quota answer 500 (same body);
	// "status:info_quota=418" picks another status.
	PlantStatusInfoQuota = "status:info_quota"
	// PlantDropSortindex leaves sortindex out of full WBOs (item GET and
	// full=1 lists).
	PlantDropSortindex = "drop:sortindex"
	// PlantReverseSortIndex reverses collection lists asked for with
	// sort=index, where the order is part of the API.
	PlantReverseSortIndex = "reverse:sort_index"
)

// Options tune one fixture process.
type Options struct {
	// MemcacheAddr ("host:port") makes the fixture keep the legacy
	// coll:<userid> collection-timestamp map in that memcached.
	MemcacheAddr string
	// MemcacheDecay is that map's expiry; 0 means the fixture's default
	// (3600 s).
	MemcacheDecay time.Duration
	// Plant lists deliberate deviations (the Plant* constants).
	Plant []string
	// Workers is the number of PHP worker processes (PHP_CLI_SERVER_WORKERS);
	// 0 means 4, so that concurrent clients do not queue behind one another.
	Workers int
	// Env adds or overrides environment variables (WEAVE_QUOTA,
	// WEAVE_PAYLOAD_MAX_SIZE, ...).
	Env map[string]string
}

// Dir is the directory of the PHP files, wherever the caller's test runs.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Env is the environment Start gives PHP.
func Env(db DBConfig, opts Options) map[string]string {
	env := map[string]string{
		"WEAVE_MYSQL_HOST": cmp.Or(db.Host, "127.0.0.1"),
		"WEAVE_MYSQL_PORT": strconv.Itoa(cmp.Or(db.Port, 3306)),
		"WEAVE_MYSQL_USER": cmp.Or(db.User, "root"),
		"WEAVE_MYSQL_PASS": db.Password,
		"WEAVE_MYSQL_DB":   db.Name,
		// The router answers every path itself; workers let it serve
		// several clients at once.
		"PHP_CLI_SERVER_WORKERS": strconv.Itoa(cmp.Or(opts.Workers, 4)),
	}
	if opts.MemcacheAddr != "" {
		env["WEAVE_MEMCACHE_ADDR"] = opts.MemcacheAddr
	}
	if opts.MemcacheDecay > 0 {
		env["WEAVE_STORAGE_MEMCACHE_DECAY"] = strconv.Itoa(int(opts.MemcacheDecay / time.Second))
	}
	if len(opts.Plant) > 0 {
		env["WEAVE_FIXTURE_PLANT"] = strings.Join(opts.Plant, ",")
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	return env
}

// Start runs the fixture against the given database, whose legacy tables
// must exist (the Go engine's Init makes them), and checks
// that it answers from that database. It stops at t.Cleanup; the returned
// process can be stopped and started again to simulate a PHP outage.
func Start(t testing.TB, db DBConfig, opts Options) *testenv.PHP {
	t.Helper()
	return Serve(t, Dir(), db, opts)
}

// Serve is Start for any testenv.T (a development environment's Session
// too), with the fixture's folder given: Dir() only works where the
// source is, which a -trimpath binary does not know.
func Serve(t testenv.T, dir string, db DBConfig, opts Options) *testenv.PHP {
	t.Helper()
	php := testenv.StartPHP(t, dir, filepath.Join(dir, "router.php"), Env(db, opts))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := testenv.PingLegacy(ctx, php.URL); err != nil {
		t.Fatalf("legacy fixture at %s: %v\n%s", php.URL, err, php.LogTail())
	}
	return php
}

// Starter starts a legacy server on db; Start (the stand-in) and Original
// are the two.
type Starter func(t testing.TB, db DBConfig, opts Options) *testenv.PHP

// Original is StartOriginal as a Starter.
func Original(t testing.TB, db DBConfig, opts Options) *testenv.PHP {
	t.Helper()
	return StartOriginal(t, db, opts).PHP
}

// Server is one of the two legacy servers tests run against.
type Server struct {
	Name     string // "stand-in" or "original"
	Original bool   // the real PHP server, PHP 8 crashes and all
	Start    Starter
}

// Servers are the stand-in (this package's PHP, everywhere) and the
// original (../shared/legacy-php).
var Servers = []Server{
	{Name: "stand-in", Start: Start},
	{Name: "original", Original: true, Start: Original},
}

// Each runs test once against each of Servers, as subtests named after
// them; the original is skipped with the message that says how to
// provide it where ../shared/legacy-php is absent. A test that passes on
// both proves the stand-in answers as the original does there.
func Each(t *testing.T, test func(t *testing.T, srv Server)) {
	t.Helper()
	for _, srv := range Servers {
		t.Run(srv.Name, func(t *testing.T) {
			if srv.Original {
				testenv.RequireLegacyPHP(t)
			}
			test(t, srv)
		})
	}
}

// StartOriginal runs the original PHP Weave server (../shared/legacy-php,
// under php -S) instead of the stand-in, on the same database and with
// the options that mean the same there; it skips t, saying how to provide
// the server, when it is absent. Plants and Env have no meaning for the
// original and fail t.
func StartOriginal(t testing.TB, db DBConfig, opts Options) *testenv.LegacyPHPCLI {
	t.Helper()
	testenv.RequireLegacyPHP(t)
	cfg, err := OriginalConfig(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.StartLegacyPHPCLI(t, cfg)
}

// OriginalConfig is what db and opts mean for the original PHP server.
// Plants and Env have no meaning there and are an error.
func OriginalConfig(db DBConfig, opts Options) (testenv.LegacyPHPConfig, error) {
	if len(opts.Plant) > 0 || len(opts.Env) > 0 {
		return testenv.LegacyPHPConfig{}, fmt.Errorf("legacy: the original PHP server takes no plants or stand-in environment (%v, %v)", opts.Plant, opts.Env)
	}
	cfg := testenv.LegacyPHPConfig{
		DB:      testenv.LegacyDB{Host: db.Host, Port: db.Port, User: db.User, Password: db.Password, Name: db.Name},
		Workers: cmp.Or(opts.Workers, 4),
		Defines: map[string]string{},
	}
	if opts.MemcacheAddr != "" {
		host, port, err := net.SplitHostPort(opts.MemcacheAddr)
		if err != nil {
			return cfg, fmt.Errorf("legacy: memcache address %q: %w", opts.MemcacheAddr, err)
		}
		// PHP connects to localhost:PORT whatever the host.
		if host != "127.0.0.1" && host != "localhost" {
			return cfg, fmt.Errorf("legacy: the original PHP server reaches memcached only on localhost, not %s", host)
		}
		cfg.MemcachePort, _ = strconv.Atoi(port)
	}
	if opts.MemcacheDecay > 0 {
		cfg.Defines["WEAVE_STORAGE_MEMCACHE_DECAY"] = strconv.Itoa(int(opts.MemcacheDecay / time.Second))
	}
	return cfg, nil
}

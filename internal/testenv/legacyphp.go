package testenv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What every starter of the original PHP Weave server (../shared/legacy-php)
// shares, whatever serves it (php -S here, php-fpm behind nginx): where it
// is, its schema, and the config.php of define()s that points it at a
// throwaway database.

// LegacyDB says where the PHP server finds its MySQL tables.
type LegacyDB struct {
	Host     string // default 127.0.0.1
	Port     int    // default 3306
	User     string // default root
	Password string
	Name     string // the database
}

// LegacyPHPConfig configures a starter of the original PHP server. Only
// DB.Name is required.
type LegacyPHPConfig struct {
	// Source is the folder holding router.php and server/; "" means
	// LegacyPHPDir().
	Source string
	DB     LegacyDB
	// Workers is the number of PHP worker processes; 0 means the
	// starter's default.
	Workers int
	// MemcachePort turns on PHP's collection-timestamp cache in the
	// memcached on localhost:PORT (expiry WEAVE_STORAGE_MEMCACHE_DECAY,
	// 3600 s unless Defines say otherwise); 0 leaves it off.
	MemcachePort int
	// Defines are more PHP constants for the generated config.php (string
	// values), e.g. WEAVE_QUOTA or WEAVE_PAYLOAD_MAX_SIZE; they win over
	// the defaults the PHP source ships.
	Defines map[string]string
	// INI overrides php.ini settings. The defaults show fatal errors only,
	// in HTML, as the recordings in testdata/recordings were made.
	INI map[string]string
	// NginxWorkers is nginx's worker_processes (php-fpm starter only); 0
	// means "auto".
	NginxWorkers int
}

// LegacyPHPDir is ../shared/legacy-php beside the repository, where CI
// puts the original PHP server, unless WEAVE_LEGACY_PHP names another
// copy.
func LegacyPHPDir() string {
	if d := os.Getenv("WEAVE_LEGACY_PHP"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "legacy-php")
}

// RequireLegacyPHP returns LegacyPHPDir(), or skips the test, saying how
// to provide the PHP server, when it is not there: a fresh clone without
// ../shared must still pass.
func RequireLegacyPHP(t testing.TB) string {
	t.Helper()
	dir := LegacyPHPDir()
	if _, err := os.Stat(filepath.Join(dir, "router.php")); err != nil {
		t.Skipf("the original PHP Weave server is not at %s: put the legacy-php folder of the shared "+
			"material (router.php, schema.sql, server/) there, beside the repository, or name a copy "+
			"with WEAVE_LEGACY_PHP=DIR, to run this test", dir)
	}
	return dir
}

// LegacyPHPSchema is the legacy DDL (collections, wbo, users) that comes
// with the PHP server, one statement per element.
func LegacyPHPSchema(source string) ([]string, error) {
	if source == "" {
		source = LegacyPHPDir()
	}
	b, err := os.ReadFile(filepath.Join(source, "schema.sql"))
	if err != nil {
		return nil, fmt.Errorf("testenv: legacy schema: %w", err)
	}
	// Comments first: they may hold a semicolon.
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var stmts []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";") {
		if s := strings.TrimSpace(s); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts, nil
}

// legacySource resolves cfg.Source and checks router.php is there.
func legacySource(cfg LegacyPHPConfig) (string, error) {
	src := cfg.Source
	if src == "" {
		src = LegacyPHPDir()
	}
	src, err := filepath.Abs(src)
	if err != nil {
		return "", fmt.Errorf("testenv: legacy php: %w", err)
	}
	if _, err := os.Stat(filepath.Join(src, "router.php")); err != nil {
		return "", fmt.Errorf("testenv: no original PHP server at %s: %w", src, err)
	}
	return src, nil
}

// legacyConfigPHP is the file WEAVE_LEGACY_CONFIG names: router.php loads
// it first, and since every constant of the PHP server is guarded by
// defined(), these win.
func legacyConfigPHP(cfg LegacyPHPConfig) string {
	db := cfg.DB
	host := cmp.Or(db.Host, "127.0.0.1") + ";port=" + strconv.Itoa(cmp.Or(db.Port, 3306))
	defs := map[string]string{}
	// Not WEAVE_REGISTRATION_THROTTLE_*: once its _DB is defined, the User
	// API assigns nodes from active_users/available_nodes tables the
	// legacy schema lacks, and GET node/weave answers 503 instead of the
	// recorded 404 "No location". A test that wants it sets Defines.
	for _, prefix := range []string{"WEAVE_MYSQL_STORE_READ", "WEAVE_MYSQL_STORE_WRITE", "WEAVE_MYSQL_AUTH"} {
		defs[prefix+"_HOST"] = host
		defs[prefix+"_DB"] = db.Name
		defs[prefix+"_USER"] = cmp.Or(db.User, "root")
		defs[prefix+"_PASS"] = db.Password
	}
	if cfg.MemcachePort != 0 {
		defs["WEAVE_STORAGE_MEMCACHE_PORT"] = strconv.Itoa(cfg.MemcachePort)
		// The PHP source ships no default for the expiry of coll:<userid>
		// and dies on the first write without one: an hour, as the
		// stand-in in e2e/legacy keeps it.
		defs["WEAVE_STORAGE_MEMCACHE_DECAY"] = "3600"
	}
	for k, v := range cfg.Defines {
		defs[k] = v
	}
	var b strings.Builder
	b.WriteString("<?php\n// Generated by weaveproxy's testenv: the database of this throwaway server.\n")
	for _, k := range sortedKeys(defs) {
		fmt.Fprintf(&b, "if (!defined(%s)) { define(%s, %s); }\n", phpString(k), phpString(k), phpString(defs[k]))
	}
	return b.String()
}

// legacyINI is the php.ini the recordings were made with (fatal errors
// only, shown in HTML), logged to errorLog too, with cfg.INI on top.
func legacyINI(cfg LegacyPHPConfig, errorLog string) map[string]string {
	ini := map[string]string{
		"display_errors":  "1",
		"html_errors":     "1",
		"error_reporting": "22517", // fatal errors only
		"log_errors":      "1",
		"error_log":       errorLog,
	}
	for k, v := range cfg.INI {
		ini[k] = v
	}
	return ini
}

func phpString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// PingLegacy asks the User API whether a user exists: the answer 0 or 1
// takes PHP, the PHP code and the users table.
//
// A server whose port already accepts may still reset the first
// connections while its workers start (php -S with
// PHP_CLI_SERVER_WORKERS): transport errors are retried until ctx ends;
// a wrong answer is not.
func PingLegacy(ctx context.Context, base string) error {
	for {
		err := pingLegacyOnce(ctx, base)
		var answered *legacyAnswerError
		if err == nil || errors.As(err, &answered) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// legacyAnswerError: the server answered, wrongly.
type legacyAnswerError struct{ msg string }

func (e *legacyAnswerError) Error() string { return e.msg }

func pingLegacyOnce(ctx context.Context, base string) error {
	client := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/user/1.0/testenv-ping", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || (string(body) != "0" && string(body) != "1") {
		return &legacyAnswerError{fmt.Sprintf("GET /user/1.0/testenv-ping: %d %q (are the legacy tables there?)", resp.StatusCode, body)}
	}
	return nil
}

// tail is the end of a log file, for failure messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return "--- " + path + ":\n" + string(b)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

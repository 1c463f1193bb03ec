package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// MariaDBProc is the MariaDB server shared by the tests of one test binary.
// Tests isolate themselves by database, not by server: starting mariadbd
// costs about a second and a hundred megabytes.
type MariaDBProc struct {
	Addr string // "127.0.0.1:PORT"
	Host string // "127.0.0.1"
	Port int

	proc  *Process
	admin *sql.DB
	seq   atomic.Int64
	dir   string
}

// The shared server: started by the first MariaDBServer call, stopped by
// Main. A failed start is remembered so later tests fail fast with the same
// message instead of retrying.
var mariadb struct {
	sync.Mutex
	srv *MariaDBProc
	err error
}

// MariaDBServer returns the shared server, starting it on first use.
func MariaDBServer(t T) *MariaDBProc {
	t.Helper()
	if _, err := lookBinary("mariadbd"); err != nil {
		t.Fatal(err)
	}
	if _, err := lookBinary("mariadb-install-db"); err != nil {
		t.Fatal(err)
	}
	mariadb.Lock()
	defer mariadb.Unlock()
	if mariadb.srv == nil && mariadb.err == nil {
		mariadb.srv, mariadb.err = startMariaDB(nil)
	}
	if mariadb.err != nil {
		t.Fatal(mariadb.err)
	}
	return mariadb.srv
}

// MariaDB returns a go-sql-driver DSN for a fresh empty database (utf8mb4)
// on the shared server, dropped at t.Cleanup.
func MariaDB(t T) string {
	t.Helper()
	srv := MariaDBServer(t)
	return srv.DSN(srv.CreateDatabase(t))
}

// DSN is the go-sql-driver DSN for database db on this server, as root
// without password.
func (m *MariaDBProc) DSN(db string) string {
	return fmt.Sprintf("root@tcp(%s)/%s?charset=utf8mb4", m.Addr, db)
}

// CreateDatabase creates a fresh empty database named after the test and
// drops it at t.Cleanup. It returns the database name.
func (m *MariaDBProc) CreateDatabase(t T) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", m.seq.Add(1), sanitize(t.Name()))
	if len(name) > 64 {
		name = name[:64]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := "CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
	if _, err := m.admin.ExecContext(ctx, q); err != nil {
		t.Fatalf("testenv: %s: %v\n%s", q, err, m.proc.LogTail())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := m.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return name
}

// LogTail is the end of the server's error log.
func (m *MariaDBProc) LogTail() string { return m.proc.LogTail() }

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// serverFlags keep the server small and quick to start; durability does
// not matter for a database that is thrown away.
func mariadbFlags(dir string) []string {
	return []string{
		"--no-defaults",
		"--datadir=" + filepath.Join(dir, "data"),
		// Its own tmpdir: several test binaries start servers at once,
		// and a shared /tmp let one install step delete another's files.
		"--tmpdir=" + dir,
		"--user=root",
		"--skip-name-resolve",
		"--innodb-buffer-pool-size=16M",
		"--innodb-log-file-size=4M",
		"--innodb-data-file-path=ibdata1:4M:autoextend",
		"--innodb-flush-log-at-trx-commit=0",
		"--innodb-doublewrite=0",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
		"--performance-schema=0",
	}
}

// StartMariaDB starts a MariaDB server of its own, outside any test (a
// benchmark, a development environment): the tests' defaults, then extra
// server flags (later flags win, e.g. a larger --innodb-buffer-pool-size).
// Stop ends it and removes its files.
func StartMariaDB(extra ...string) (*MariaDBProc, error) { return startMariaDB(extra) }

// Stop kills a server StartMariaDB started and removes its data.
func (m *MariaDBProc) Stop() {
	m.admin.Close()
	m.proc.Stop()
	os.RemoveAll(m.dir)
}

// Pid is mariadbd's process id.
func (m *MariaDBProc) Pid() int { return m.proc.Pid() }

// Exec runs one statement as root, e.g. CREATE DATABASE.
func (m *MariaDBProc) Exec(ctx context.Context, query string) error {
	if _, err := m.admin.ExecContext(ctx, query); err != nil {
		return fmt.Errorf("testenv: %s: %w", query, err)
	}
	return nil
}

func startMariaDB(extra []string) (*MariaDBProc, error) {
	dir, err := os.MkdirTemp("", "testenv-mariadb-")
	if err != nil {
		return nil, fmt.Errorf("testenv: mariadb temp dir: %w", err)
	}
	removeLater(dir)
	install, _ := lookBinary("mariadb-install-db")
	args := append(mariadbFlags(dir), "--skip-test-db", "--auth-root-authentication-method=normal")
	cmd := exec.Command(install, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testenv: mariadb-install-db: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("testenv: mariadb port: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	mysqld, _ := lookBinary("mariadbd")
	args = append(mariadbFlags(dir),
		// Authentication is not what these tests are about: any user,
		// no password.
		"--skip-grant-tables",
		"--skip-networking=0",
		"--bind-address=127.0.0.1",
		"--port="+strconv.Itoa(port),
		"--socket="+filepath.Join(dir, "mysqld.sock"),
		"--pid-file="+filepath.Join(dir, "mysqld.pid"),
		"--skip-log-bin",
	)
	args = append(args, extra...)
	p := newProcess("mariadbd", mysqld, args, nil, addr, dir)
	if err := p.start(); err != nil {
		return nil, err
	}
	srv := &MariaDBProc{Addr: addr, Host: "127.0.0.1", Port: port, proc: p, dir: dir}
	if srv.admin, err = waitSQL(srv.DSN(""), p); err != nil {
		p.Stop()
		return nil, err
	}
	return srv, nil
}

// waitSQL waits until the server answers queries, not only TCP: mariadbd
// listens a moment before it is ready for connections.
func waitSQL(dsn string, p *Process) (*sql.DB, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, fmt.Errorf("testenv: mariadb admin: %w", err)
	}
	db.SetMaxOpenConns(4)
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return db, nil
		}
		if time.Now().After(deadline) || !p.Running() {
			db.Close()
			return nil, fmt.Errorf("testenv: mariadb not answering: %w\n%s", err, p.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func shutdownMariaDB() {
	mariadb.Lock()
	defer mariadb.Unlock()
	if mariadb.srv == nil {
		return
	}
	mariadb.srv.admin.Close()
	mariadb.srv.proc.Stop()
	mariadb.srv = nil
}

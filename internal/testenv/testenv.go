// Package testenv starts real throwaway servers (MariaDB, memcached, PHP's
// built-in web server, the original PHP server under php-fpm and nginx) for
// tests and development environments: each on a free 127.0.0.1 port, with its own
// data directory under a temp dir, its output captured to a log file, and
// killed when the test (or at the latest the test binary) ends.
//
// Tests never talk to mocks of these servers: a missing binary fails the
// test with the name of the Debian package that provides it, it is never
// skipped.
//
// A package using the shared MariaDB server should install Main:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Without it the server still dies with the test binary (Pdeathsig), but its
// temp dir is left behind.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
)

// running holds every process this package started and has not stopped
// yet, so that Main can stop them even when a test forgot to. It is the only
// package state besides the shared MariaDB server, and it has to be global:
// a test binary has a single TestMain.
var running = struct {
	sync.Mutex
	procs map[*Process]struct{}
	dirs  []string // temp dirs to remove once everything is stopped
}{procs: map[*Process]struct{}{}}

func track(p *Process) {
	running.Lock()
	running.procs[p] = struct{}{}
	running.Unlock()
}

func untrack(p *Process) {
	running.Lock()
	delete(running.procs, p)
	running.Unlock()
}

func removeLater(dir string) {
	running.Lock()
	running.dirs = append(running.dirs, dir)
	running.Unlock()
}

// Main runs the tests, then stops every server this package started and
// removes their temp dirs, and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	stopAll()
	os.Exit(code)
}

func stopAll() {
	shutdownMariaDB()
	running.Lock()
	procs := make([]*Process, 0, len(running.procs))
	for p := range running.procs {
		procs = append(procs, p)
	}
	dirs := running.dirs
	running.dirs = nil
	running.Unlock()
	for _, p := range procs {
		p.Stop()
	}
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller binds it; the servers here
// are started right after, which keeps that window small.
func FreePort(t T) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("testenv: no free port: %v", err)
	}
	return port
}

// FreeAddr is FreePort outside a test: "127.0.0.1:PORT".
func FreeAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", fmt.Errorf("testenv: no free port: %w", err)
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// debianPackage names the package that provides each binary we run.
var debianPackage = map[string]string{
	"mariadbd":           "mariadb-server",
	"mariadb-install-db": "mariadb-server",
	"memcached":          "memcached",
	"php":                "php-cli (and php-mysql)",
	"chromium":           "chromium",
	"php-fpm8.2":         "php-fpm (and php-mysql)",
	"php-fpm":            "php-fpm (and php-mysql)",
	"nginx":              "nginx-light",
	"slapd":              "slapd",
	"ldapadd":            "ldap-utils",
	"ldapmodify":         "ldap-utils",
	"ldapsearch":         "ldap-utils",
}

// lookBinary finds the first of names in PATH or in the usual sbin
// directories, which are not always in a non-root PATH (mariadbd lives in
// /usr/sbin). Several names are alternatives (php-fpm8.2, php-fpm).
func lookBinary(names ...string) (string, error) {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin"} {
			p := dir + "/" + name
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	name := names[0]
	pkg := debianPackage[name]
	if pkg == "" {
		pkg = "that provides " + name
	}
	return "", fmt.Errorf("testenv: %s not found: install the Debian package %s "+
		"(the README's test command installs it); this test needs a real %s, it is not skipped",
		name, pkg, name)
}

func requireBinary(t T, name string) string {
	t.Helper()
	p, err := lookBinary(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Chromium returns the path of the chromium binary.
func Chromium(t testing.TB) string {
	t.Helper()
	return requireBinary(t, "chromium")
}

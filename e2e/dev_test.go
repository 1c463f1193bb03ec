package e2e

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// devEnv is the env.json `weaveproxy dev` writes.
type devEnv struct {
	DSN, MariaDB, Memcached, Legacy, SMTP, Mail, LDAP, Routes, Proxy, Admin string
}

// TestDevCommand runs `weaveproxy dev` as a developer would, checks that
// every server it prints answers (and that routes.yaml is live and mail
// readable), then interrupts it and checks that nothing it started is
// left running.
func TestDevCommand(t *testing.T) {
	// The original PHP server, which dev finds at ../shared/legacy-php
	// (skipped, saying how to provide it, when absent), and the stand-in.
	t.Run("legacy=original", func(t *testing.T) {
		dir, _ := filepath.Abs(testenv.RequireLegacyPHP(t))
		testDev(t, dir)
	})
	t.Run("legacy=stand-in", func(t *testing.T) { testDev(t, "stand-in") })
}

// testDev runs dev with legacyPHP as --legacy-php, except when it is the
// folder dev finds by itself beside the repository: that path is then left
// to dev.
func testDev(t *testing.T, legacyPHP string) {
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := filepath.Abs("..")
	dir := t.TempDir()
	script := "cd " + shellQuote(repo) + " && exec " + shellQuote(bin) + " dev --dir " + shellQuote(dir)
	if legacyPHP != filepath.Join(filepath.Dir(repo), "shared", "legacy-php") {
		script += " --legacy-php " + shellQuote(legacyPHP)
	}
	p := testenv.StartProcess(t, "sh", []string{"-c", script}, nil, "")

	var env devEnv
	deadline := time.Now().Add(3 * time.Minute)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "env.json"))
		if err == nil && json.Unmarshal(b, &env) == nil && env.Proxy != "" && answers(env.Proxy+"/user/1.0/devuser") {
			break
		}
		if !p.Running() || time.Now().After(deadline) {
			t.Fatalf("weaveproxy dev did not come up\n%s", p.LogTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, _ := os.ReadFile(p.LogPath)
	if want := "original (" + legacyPHP + ")"; legacyPHP == "stand-in" {
		if !strings.Contains(string(out), "stand-in (e2e/legacy") {
			t.Errorf("--legacy-php stand-in did not start the stand-in:\n%s", out)
		}
	} else if !strings.Contains(string(out), want) {
		t.Errorf("dev did not start the original PHP server (%q):\n%s", want, out)
	}
	for _, want := range []string{env.Proxy, env.Admin, env.Legacy, env.MariaDB, env.Memcached, env.SMTP, env.Mail, env.Routes, "user root, no password"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dev does not print %q:\n%s", want, out)
		}
	}

	// The proxy in front of PHP: an account made through it is PHP's.
	c := newClient(t, env.Proxy, "devuser", "correct horse battery")
	c.do("PUT", "/user/1.0/devuser", `{"password":"correct horse battery","email":"d@example.com"}`, false).want(t, "register", 200, "")
	newClient(t, env.Legacy, "devuser", "").do("GET", "/user/1.0/devuser", "", false).want(t, "PHP knows it", 200, "1")
	if r, err := http.Get(env.Admin + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Errorf("admin /readyz: %v %v", r, err)
	}
	// routes.yaml is ready to edit: the proxy picks up a change.
	src, err := os.ReadFile(env.Routes)
	if err != nil {
		t.Fatal(err)
	}
	const from = "- match: \"GET /{version}/{user}/info/collections\"\n    mode: legacy"
	if !strings.Contains(string(src), from) {
		t.Fatalf("routes.yaml lacks %q", from)
	}
	edited := strings.Replace(string(src), from, strings.Replace(from, "legacy", "native", 1), 1)
	if err := os.WriteFile(env.Routes, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	st := &stack{Proxy: &server{Admin: env.Admin}}
	waitFor(t, "the edited routes.yaml in force", func() bool {
		return st.modeOf(t, "GET /{version}/{user}/info/collections") == "native"
	})
	c.do("GET", "/1.1/devuser/info/collections", "", true).want(t, "native info", 200, "{}")

	// MariaDB and memcached answer.
	db, err := sql.Open("mysql", env.DSN)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM users").Scan(&n); err != nil || n != 1 {
		t.Errorf("mariadb users: %d, %v", n, err)
	}
	db.Close()
	if got := memcachedVersion(t, env.Memcached); !strings.HasPrefix(got, "VERSION ") {
		t.Errorf("memcached answered %q", got)
	}
	// Mail sent to the sink is readable on the page and in the folder.
	msg := "Subject: dev mail check\r\n\r\nhello from the test\r\n"
	if err := smtp.SendMail(env.SMTP, nil, "t@example.com", []string{"d@example.com"}, []byte(msg)); err != nil {
		t.Fatalf("smtp: %v", err)
	}
	waitFor(t, "the mail on the page", func() bool {
		r, err := http.Get(env.Mail)
		if err != nil {
			return false
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return strings.Contains(string(b), "dev mail check")
	})
	if _, err := os.Stat(filepath.Join(dir, "mail", "0001.eml")); err != nil {
		t.Errorf("mail folder: %v", err)
	}
	if _, err := os.Stat("/usr/sbin/slapd"); err == nil && env.LDAP == "" {
		t.Errorf("slapd is installed but dev started no LDAP server:\n%s", out)
	}

	// Ctrl-C stops everything it started.
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(time.Minute)
	for p.Running() {
		if time.Now().After(deadline) {
			t.Fatalf("dev still running a minute after SIGINT\n%s", p.LogTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	addrs := []string{env.MariaDB, env.Memcached, env.SMTP}
	for _, u := range []string{env.Proxy, env.Admin, env.Legacy, env.Mail, env.LDAP} {
		if pu, err := url.Parse(u); err == nil && pu.Host != "" {
			addrs = append(addrs, pu.Host)
		}
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after dev stopped", a)
		}
	}
	if left := processesMentioning(dir); len(left) > 0 {
		t.Errorf("processes left running:\n%s", strings.Join(left, "\n"))
	}
}

func answers(u string) bool {
	r, err := http.Get(u)
	if err != nil {
		return false
	}
	r.Body.Close()
	return r.StatusCode == 200
}

func memcachedVersion(t *testing.T, addr string) string {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("memcached: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "version\r\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// processesMentioning lists the processes whose command line names dir:
// every server dev starts keeps its files there.
func processesMentioning(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), dir) {
			out = append(out, f+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "weaveproxy.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every serve flag is a key of the file; the command line wins.
func TestServeReadsConfigFile(t *testing.T) {
	p := writeConfig(t, "listen: 127.0.0.1:18080\nquota-kb: 7\nmemcache: [a:1, b:2]\nidle-timeout: 5s\nregistration: closed\n")
	f, err := parseServeFlags([]string{"--config", p, "--quota-kb", "9"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.listen != "127.0.0.1:18080" || f.quotaKB != 9 || f.memcache != "a:1,b:2" || f.timeouts.idle.String() != "5s" || f.registration != "closed" {
		t.Errorf("flags after the file: %+v", f)
	}
	if _, err := parseServeFlags([]string{"--config", writeConfig(t, "listen: x\nlistn: y\n")}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "weaveproxy.yaml:2:1: unknown setting \"listn\"") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := dispatch(context.Background(), append([]string{"config", "check"}, args...), &out, io.Discard)
		return out.String(), err
	}
	// The example the tarball and install.sh ship is valid.
	out, err := run("--config", "../../deploy/weaveproxy.yaml")
	if err != nil || !strings.Contains(out, "deploy/weaveproxy.yaml: ok") {
		t.Fatalf("example config: %v\n%s", err, out)
	}
	if !hasSetting(out, "db", "sqlite:/var/lib/weaveproxy/weave.db", "file") || !hasSetting(out, "listen", "127.0.0.1:8080", "file") {
		t.Errorf("effective settings:\n%s", out)
	}

	p := writeConfig(t, "db: \"mysql:weave:hunter2@tcp(127.0.0.1:3306)/weave\"\ncaptcha-private-key: s3cret\nregistration: secret:opensesame\n")
	out, err = run("--config", p, "--log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"hunter2", "s3cret", "opensesame"} {
		if strings.Contains(out, leak) {
			t.Errorf("config check printed the secret %q:\n%s", leak, out)
		}
	}
	if !hasSetting(out, "db", "mysql:weave:***@tcp(127.0.0.1:3306)/weave", "file") || !hasSetting(out, "log-level", "debug", "flag") ||
		!hasSetting(out, "captcha-private-key", "***", "file") || !hasSetting(out, "smtp-port", "25", "default") {
		t.Errorf("masked settings:\n%s", out)
	}

	// Without --config it checks the installed file.
	if _, err := run(); err == nil || !strings.Contains(err.Error(), installedConfig) {
		if _, statErr := os.Stat(installedConfig); statErr != nil {
			t.Errorf("config check with no file at %s: %v", installedConfig, err)
		}
	}

	// What serve would refuse at start, check refuses too.
	for body, want := range map[string]string{
		"log-level: loud\n":        "--log-level",
		"registration: maybe\n":    "--registration",
		"smtp-port: twenty-five\n": ":1:12: smtp-port: parse error",
		"quota: 5\n":               ":1:1: unknown setting \"quota\"",
	} {
		if _, err := run("--config", writeConfig(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", body, err, want)
		}
	}
}

// hasSetting: out has a line "name  value  (source)".
func hasSetting(out, name, value, source string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == name && f[1] == value && f[2] == "("+source+")" {
			return true
		}
	}
	return false
}

// serve reads the installed settings file when it exists and --config
// names no other; --config "" reads none.
func TestServeReadsTheInstalledConfig(t *testing.T) {
	saved := installedConfig
	t.Cleanup(func() { installedConfig = saved })
	installedConfig = filepath.Join(t.TempDir(), "weaveproxy.yaml")
	if f, err := parseServeFlags(nil, io.Discard); err != nil || f.quotaKB != 5120 {
		t.Fatalf("no installed file: quota %v, %v", f.quotaKB, err)
	}
	if err := os.WriteFile(installedConfig, []byte("quota-kb: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := parseServeFlags(nil, io.Discard); err != nil || f.quotaKB != 7 {
		t.Errorf("installed file not read: quota %v, %v", f.quotaKB, err)
	}
	if f, err := parseServeFlags([]string{"--quota-kb", "9"}, io.Discard); err != nil || f.quotaKB != 9 {
		t.Errorf("the command line does not win: quota %v, %v", f.quotaKB, err)
	}
	if f, err := parseServeFlags([]string{"--config", ""}, io.Discard); err != nil || f.quotaKB != 5120 {
		t.Errorf(`--config "" still read the file: quota %v, %v`, f.quotaKB, err)
	}
}

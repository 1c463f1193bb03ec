package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// flags is a small stand-in for the serve flag set: the package must work
// for any FlagSet, so the test builds one with each kind of flag.
func flags() (*flag.FlagSet, *struct {
	listen, db, memcache, secret string
	quota                        float64
	port                         int
	on                           bool
	d                            time.Duration
}) {
	v := &struct {
		listen, db, memcache, secret string
		quota                        float64
		port                         int
		on                           bool
		d                            time.Duration
	}{}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("config", "", "")
	fs.StringVar(&v.listen, "listen", "127.0.0.1:8080", "")
	fs.StringVar(&v.db, "db", "sqlite:weave.db", "")
	fs.StringVar(&v.memcache, "memcache", "", "")
	fs.StringVar(&v.secret, "captcha-private-key", "", "")
	fs.Float64Var(&v.quota, "quota-kb", 5120, "")
	fs.IntVar(&v.port, "smtp-port", 25, "")
	fs.BoolVar(&v.on, "tabs-memcache-only", false, "")
	fs.DurationVar(&v.d, "lockout-window", 10*time.Minute, "")
	return fs, v
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "weaveproxy.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseAppliesFileUnderFlags(t *testing.T) {
	p := writeFile(t, `# comment
listen: 0.0.0.0:80
db: "mysql:weave:pw@tcp(127.0.0.1:3306)/weave"
memcache:
  - 127.0.0.1:11211
  - 127.0.0.1:11212
quota-kb: 0.5
smtp-port: 2525
tabs-memcache-only: true
lockout-window: 90s
captcha-private-key:
`)
	fs, v := flags()
	src, err := Parse(fs, []string{"--config", p, "--listen", "127.0.0.1:9999"})
	if err != nil {
		t.Fatal(err)
	}
	if v.listen != "127.0.0.1:9999" {
		t.Errorf("listen = %q: the command line must win over the file", v.listen)
	}
	if v.db != "mysql:weave:pw@tcp(127.0.0.1:3306)/weave" || v.memcache != "127.0.0.1:11211,127.0.0.1:11212" ||
		v.quota != 0.5 || v.port != 2525 || !v.on || v.d != 90*time.Second || v.secret != "" {
		t.Errorf("file not applied: %+v", *v)
	}
	if src["listen"] != "flag" || src["db"] != "file" || src["config"] != "flag" || src["smtp-port"] != "file" {
		t.Errorf("sources %v", src)
	}
	eff := map[string]Setting{}
	for _, s := range Effective(fs, src) {
		eff[s.Name] = s
	}
	if eff["db"].Value != "mysql:weave:***@tcp(127.0.0.1:3306)/weave" || eff["db"].Source != "file" {
		t.Errorf("db shown as %+v", eff["db"])
	}
	if eff["lockout-window"].Value != "1m30s" || eff["listen"].Source != "flag" {
		t.Errorf("effective %+v", eff)
	}
}

func TestParseWithoutConfigIsPlainFlags(t *testing.T) {
	fs, v := flags()
	src, err := Parse(fs, []string{"--smtp-port", "26"})
	if err != nil || v.port != 26 || v.listen != "127.0.0.1:8080" || len(src) != 1 {
		t.Fatalf("Parse = %v, %v, %+v", src, err, *v)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"unknown key", "listen: a:1\nlisen: b\n", ":2:1: unknown setting \"lisen\""},
		{"bad value", "listen: a:1\nsmtp-port: many\n", ":2:12: smtp-port: parse error"},
		{"bad duration", "lockout-window: 10\n", ":1:17: lockout-window: parse error"},
		{"bad bool", "tabs-memcache-only: maybe\n", ":1:21: tabs-memcache-only: parse error"},
		{"mapping value", "db:\n  path: x\n", ":2:3: db: want a value or a list of values, got a mapping"},
		{"twice", "db: a\ndb: b\n", ":2:1: db: set twice (first on line 1)"},
		{"nested config", "config: other.yaml\n", ":1:1: config: a settings file cannot name another one"},
		{"not a mapping", "- listen\n", ":1:1: want a mapping of setting: value, got a list"},
		{"syntax", "listen: [a\n", "weaveproxy.yaml:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, c.body)
			fs, v := flags()
			_, err := Parse(fs, []string{"--config", p})
			var ce *Error
			if err == nil || !strings.Contains(err.Error(), c.want) || (c.name != "syntax" && !errors.As(err, &ce)) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if c.name == "unknown key" && v.listen != "127.0.0.1:8080" {
				t.Errorf("a refused file still set listen = %q", v.listen)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	p := writeFile(t, "a: 1\nb: 2\nsmtp-port: x\n")
	fs, _ := flags()
	_, err := Parse(fs, []string{"--config", p})
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 || ce.Problems[1].Line != 2 {
		t.Fatalf("got %v, want the two unknown keys", err)
	}
}

func TestParseEmptyFileAndMissingFile(t *testing.T) {
	fs, v := flags()
	if _, err := Parse(fs, []string{"--config", writeFile(t, "# nothing yet\n")}); err != nil || v.listen != "127.0.0.1:8080" {
		t.Fatalf("empty file: %v, listen %q", err, v.listen)
	}
	fs, _ = flags()
	if _, err := Parse(fs, []string{"--config", "/nonexistent/weaveproxy.yaml"}); err == nil {
		t.Fatal("a missing file must be an error, not silently the defaults")
	}
}

func TestMask(t *testing.T) {
	for _, c := range []struct{ name, value, want string }{
		{"captcha-private-key", "s3cr3t", "***"},
		{"smtp-password", "pw", "***"},
		{"admin-token", "t", "***"},
		{"ldap-bind-secret", "x", "***"},
		{"captcha-private-key", "", ""},
		{"admin-token-file", "/etc/weaveproxy/token", "/etc/weaveproxy/token"},
		{"db", "mysql:weave:pw@tcp(h:3306)/weave", "mysql:weave:***@tcp(h:3306)/weave"},
		{"diff-db", "mysql:root@tcp(h:3306)/d", "mysql:root@tcp(h:3306)/d"},
		{"registration", "secret:hunter2", "secret:***"},
		{"listen", "127.0.0.1:8080", "127.0.0.1:8080"},
	} {
		if got := Mask(c.name, c.value); got != c.want {
			t.Errorf("Mask(%q, %q) = %q, want %q", c.name, c.value, got, c.want)
		}
	}
}

package dsn

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"mysql:weave:pw@tcp(127.0.0.1:3306)/weave", "mysql:weave:***@tcp(127.0.0.1:3306)/weave"},
		// Issue 10 item 10: without its prefix the password was printed.
		{"weave:pw@tcp(127.0.0.1:3306)/weave", "weave:***@tcp(127.0.0.1:3306)/weave"},
		{"mysql:weave:p@s:s/w@tcp(h:1)/db?parseTime=true", "mysql:weave:***@tcp(h:1)/db?parseTime=true"},
		{"mysql:weave@tcp(h:1)/db", "mysql:weave@tcp(h:1)/db"},
		{"mysql:weave:@tcp(h:1)/db", "mysql:weave:***@tcp(h:1)/db"},
		{"sqlite:weave.db", "sqlite:weave.db"},
		{"sqlite:/var/lib/weave@x/weave.db", "sqlite:/var/lib/weave@x/weave.db"},
		{"", ""},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, kind, source string
		err              string // part of the error, when one is expected
	}{
		{in: "sqlite:weave.db", kind: SQLite, source: "weave.db"},
		{in: "mysql:weave:pw@tcp(127.0.0.1:3306)/weave", kind: MySQL, source: "weave:pw@tcp(127.0.0.1:3306)/weave"},
		{in: "mysql://weave:pw@127.0.0.1:3307/weave", kind: MySQL, source: "weave:pw@tcp(127.0.0.1:3307)/weave"},
		{in: "mysql://weave:p%40ss@db.example/weave?parseTime=true", kind: MySQL, source: "weave:p@ss@tcp(db.example:3306)/weave?parseTime=true"},
		// Issue 9 item 16: the driver's "default addr for network … unknown".
		{in: "mysql:weave:pw@127.0.0.1:3306/weave", err: "tcp(HOST:PORT)"},
		{in: "mysql:weave:secret@127.0.0.1:3306/weave", err: "weave:***@"},
		// Without a kind, every flag refuses it the same way.
		{in: "weave.db", err: "name the kind of database"},
		{in: "weave:secret@tcp(h:3306)/weave", err: "weave:***@"},
		{in: "sqlite:", err: "file path"},
		{in: "mysql://", err: "without a host"},
	} {
		kind, source, err := Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "secret") {
				t.Errorf("Parse(%q) error = %v; want one containing %q and no password", c.in, err, c.err)
			}
			continue
		}
		if err != nil || kind != c.kind || source != c.source {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q", c.in, kind, source, err, c.kind, c.source)
		}
	}
}

package dsn

import "testing"

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

package config

import (
	"flag"
	"strings"

	"github.com/weaveproxy/weaveproxy/internal/dsn"
)

// Setting is one flag's value in force, for `weaveproxy config check`.
type Setting struct {
	Name   string
	Value  string // masked when it is a secret
	Source string // "flag", "file" or "default"
}

// Effective lists every flag of fs in name order with the value in force
// and where it came from (Parse's Sources; "default" for the rest),
// secrets masked.
func Effective(fs *flag.FlagSet, src Sources) []Setting {
	var out []Setting
	fs.VisitAll(func(f *flag.Flag) {
		from := src[f.Name]
		if from == "" {
			from = "default"
		}
		out = append(out, Setting{Name: f.Name, Value: Mask(f.Name, f.Value.String()), Source: from})
	})
	return out
}

// Mask hides what must not be printed: the value of a flag whose name
// says it is a secret (password, secret, token, key; but not a *-file
// flag, whose value is only where the secret lives), the password in a
// database DSN, and the value of a "secret:VALUE" registration.
func Mask(name, value string) string {
	if value == "" {
		return value
	}
	lower := strings.ToLower(name)
	if !strings.HasSuffix(lower, "-file") {
		for _, w := range []string{"password", "secret", "token", "key"} {
			if strings.Contains(lower, w) {
				return "***"
			}
		}
	}
	if strings.HasPrefix(value, "secret:") {
		return "secret:***"
	}
	if strings.HasPrefix(value, "mysql:") {
		return dsn.Redact(value)
	}
	return value
}

// Package dsn hides the password of a database DSN before it reaches a
// log line or an error message.
package dsn

import "strings"

// Redact returns dsn with the password of its user part replaced by ***.
// It takes "mysql:", "sqlite:" or no prefix, and finds the user part the
// way go-sql-driver/mysql does (before the last '@' that precedes the last
// '/'), so passwords holding ':', '@' or '/' are hidden whole.
func Redact(dsn string) string {
	prefix, rest := "", dsn
	for _, p := range []string{"mysql:", "sqlite:"} {
		if strings.HasPrefix(dsn, p) {
			prefix, rest = p, dsn[len(p):]
			break
		}
	}
	end := strings.LastIndex(rest, "/")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return dsn
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 {
		return dsn
	}
	return prefix + rest[:colon+1] + "***" + rest[at:]
}

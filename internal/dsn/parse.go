package dsn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Kinds of database a DSN names.
const (
	SQLite = "sqlite"
	MySQL  = "mysql"
)

// Parse reads a database DSN as every flag of weaveproxy takes it
// (--db, --diff-db): "sqlite:PATH", "mysql:<go-sql-driver DSN>" or
// "mysql://USER:PASSWORD@HOST[:PORT]/DB[?PARAMS]". It returns the kind and
// what that driver opens: a file path, or a go-sql-driver DSN (the URL
// form converted). A value without a kind is refused rather than guessed:
// "weave.db" and "weave:pw@tcp(h:3306)/weave" would otherwise go to two
// different places depending on which flag took them. Errors never show
// the password.
func Parse(s string) (kind, source string, err error) {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		path := strings.TrimPrefix(s, "sqlite:")
		if path == "" {
			return "", "", errors.New("sqlite: DSN needs a file path, e.g. sqlite:weave.db")
		}
		return SQLite, path, nil
	case strings.HasPrefix(s, "mysql://"):
		src, err := fromURL(s)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", Redact(s), err)
		}
		return MySQL, src, nil
	case strings.HasPrefix(s, "mysql:"):
		src := strings.TrimPrefix(s, "mysql:")
		if _, err := mysql.ParseDSN(src); err != nil {
			return "", "", fmt.Errorf("%s: %w (write the server as tcp(HOST:PORT), e.g. mysql:weave:PASSWORD@tcp(127.0.0.1:3306)/weave, or use mysql://weave:PASSWORD@127.0.0.1:3306/weave)",
				Redact(s), err)
		}
		return MySQL, src, nil
	}
	return "", "", fmt.Errorf("%q: name the kind of database: sqlite:PATH, mysql:USER:PASSWORD@tcp(HOST:PORT)/DB or mysql://USER:PASSWORD@HOST:PORT/DB", Redact(s))
}

// fromURL turns mysql://user:pw@host:port/db?params into the driver's
// user:pw@tcp(host:port)/db?params.
func fromURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("not a valid mysql:// URL")
	}
	if u.Host == "" {
		return "", errors.New("mysql:// URL without a host")
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", host
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	src := cfg.FormatDSN()
	if u.RawQuery != "" {
		// The driver's own parameters keep their spelling.
		sep := "?"
		if strings.Contains(src, "?") {
			sep = "&"
		}
		src += sep + u.RawQuery
	}
	if _, err := mysql.ParseDSN(src); err != nil {
		return "", err
	}
	return src, nil
}

package e2e

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite"
)

// storedPassword reads users.md5 and our password_hashes row for name.
func storedPassword(t *testing.T, driver, dsn, name string) (md5, hash string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var h sql.NullString
	err = db.QueryRow(`SELECT u.md5, h.hash FROM users u LEFT JOIN password_hashes h ON h.userid = u.id WHERE u.username = ?`, name).
		Scan(&md5, &h)
	if err != nil {
		t.Fatalf("reading %s's password: %v", name, err)
	}
	return md5, h.String
}

// TestEmbeddedServerStoresBcrypt (issue 10 item 5): the embedded server
// stored unsalted MD5 for every new account and password change.
func TestEmbeddedServerStoresBcrypt(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.URL, "salty", "correct horse battery")
	c.do("PUT", "/user/1.0/salty", `{"password":"correct horse battery"}`, false).want(t, "create", 200, "salty")
	c.do("GET", "/1.1/salty/info/collections", "", true).want(t, "login", 200, "")
	md5, hash := storedPassword(t, "sqlite", "file:"+filepath.Join(s.Dir, "weave.db")+"?mode=ro", "salty")
	if md5 != "!bcrypt" || !strings.HasPrefix(hash, "$2a$") {
		t.Fatalf("new account stored md5=%q hash=%q, want bcrypt", md5, hash)
	}
	c.do("POST", "/user/1.0/salty/password", "another good password", true).want(t, "change password", 200, "success")
	c.pass = "another good password"
	c.do("GET", "/1.1/salty/info/collections", "", true).want(t, "login, new password", 200, "")
	if md5, hash2 := storedPassword(t, "sqlite", "file:"+filepath.Join(s.Dir, "weave.db")+"?mode=ro", "salty"); md5 != "!bcrypt" || hash2 == hash {
		t.Fatalf("password change stored md5=%q, hash changed: %v", md5, hash2 != hash)
	}
}

// TestPHPUserAfterSwitchToBcrypt (issue 10 item 5): an account PHP
// created (md5) keeps logging in through the proxy in legacy mode, then
// logs in natively once Ops switch to --password-hash bcrypt, which
// upgrades it.
func TestPHPUserAfterSwitchToBcrypt(t *testing.T) {
	s := startStack(t, "default: legacy\nroutes:\n  - match: \"GET /{version}/{user}/info/quota\"\n    mode: native\n", stackOptions{})
	c := newUser(t, s.Proxy.URL, s.Proxy.URL, "phpmade")
	c.do("GET", "/1.0/phpmade/info/quota", "", true).want(t, "native login, legacy hashing", 200, "")
	if md5, hash := storedPassword(t, "mysql", s.DSN, "phpmade"); len(md5) != 32 || hash != "" {
		t.Fatalf("legacy mode changed PHP's hash: md5=%q hash=%q", md5, hash)
	}
	c.do("GET", "/1.0/phpmade/info/collections", "", true).want(t, "PHP login", 200, "")

	// Cutover: PHP is gone, a native server on the same database.
	n := startServer(t, "--db", "mysql:"+s.DSN, "--password-hash", "bcrypt")
	c.base = n.URL
	c.do("GET", "/1.0/phpmade/info/collections", "", true).want(t, "PHP-made account, native bcrypt server", 200, "")
	md5, hash := storedPassword(t, "mysql", s.DSN, "phpmade")
	if md5 != "!bcrypt" || !strings.HasPrefix(hash, "$2a$") {
		t.Fatalf("not upgraded at login: md5=%q hash=%q", md5, hash)
	}
	c.do("GET", "/1.0/phpmade/info/collections", "", true).want(t, "login on the upgraded hash", 200, "")
	c.pass = "wrong password"
	if r := c.do("GET", "/1.0/phpmade/info/collections", "", true); r.Status != 401 {
		t.Fatalf("wrong password on the upgraded hash: %d", r.Status)
	}
}

package e2e

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// twoDecimals is how Sync 1.1 prints every timestamp.
var twoDecimals = regexp.MustCompile(`^\d{10}\.\d{2}$`)

// TestWeaveMinimalSession drives the binary started with no configuration
// (only loopback ports chosen) the way a new Sync 1.1 user would: register,
// write, read, delete. It is the "Weave Minimal" promise: a complete server
// on ./weave.db.
func TestWeaveMinimalSession(t *testing.T) {
	s := startServer(t)
	syncSession(t, s)
	if _, err := os.Stat(filepath.Join(s.Dir, "weave.db")); err != nil {
		t.Errorf("no-config server did not create ./weave.db: %v", err)
	}
	cef, err := os.ReadFile(filepath.Join(s.Dir, "cef.log"))
	if err != nil {
		t.Fatalf("no-config server wrote no cef.log: %v", err)
	}
	for _, sig := range []string{"|AccountCreated|", "|AccountDeleted|", "|AuthFail|"} {
		if !strings.Contains(string(cef), sig) {
			t.Errorf("cef.log lacks a %s event:\n%s", sig, cef)
		}
	}
	if strings.Contains(string(cef), "correct horse") {
		t.Errorf("cef.log contains a password:\n%s", cef)
	}
}

// TestMySQLSession is the same session on the legacy MySQL schema.
func TestMySQLSession(t *testing.T) {
	dsn := testenv.MariaDB(t)
	s := startServer(t, "--db", "mysql:"+dsn, "--registration", "open")
	syncSession(t, s)
}

// TestMySQLNameKeyedSession is the session on MySQL tables keyed by
// user name (the older PHP and Python schemas), which the server creates
// as --storage-key says; a second server told nothing finds the keying in
// the tables.
func TestMySQLNameKeyedSession(t *testing.T) {
	dsn := testenv.MariaDB(t)
	syncSession(t, startServer(t, "--db", "mysql:"+dsn, "--registration", "open", "--storage-key", "name"))
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, col := range []string{"wbo.username", "collections.userid"} {
		table, column, _ := strings.Cut(col, ".")
		var typ string
		err := db.QueryRow("SELECT DATA_TYPE FROM information_schema.columns"+
			" WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?", table, column).Scan(&typ)
		if err != nil || typ != "varchar" {
			t.Errorf("%s is %q (%v), want varchar", col, typ, err)
		}
	}
	// A server told nothing keys by name too: the rows it writes carry
	// the user's name.
	s := startServer(t, "--db", "mysql:"+dsn, "--registration", "open")
	const user, pass = "detected", "correct horse battery"
	c := newClient(t, s.URL, user, pass)
	c.do("PUT", "/user/1.0/"+user, `{"password":"`+pass+`"}`, false).want(t, "create", 200, user)
	c.do("PUT", "/1.1/"+user+"/storage/bookmarks/b1", `{"payload":"x"}`, true).want(t, "put", 200, "")
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM wbo WHERE username = ?", user).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows under the name %q: %d (%v), want 1", user, n, err)
	}
}

func syncSession(t *testing.T, s *server) {
	const user, pass = "minimaluser", "correct horse battery"
	c := newClient(t, s.URL, user, pass)

	c.do("GET", "/user/1.0/"+user, "", false).want(t, "exists before", 200, "0")
	c.do("PUT", "/user/1.0/"+user, `{"password":"`+pass+`","email":"m@example.com"}`, false).
		want(t, "create", 200, user)
	c.do("GET", "/user/1.0/"+user, "", false).want(t, "exists after", 200, "1")
	c.do("GET", "/user/1.0/"+user+"/node/weave", "", false).want(t, "node", 200, s.URL+"/")

	bad := newClient(t, s.URL, user, "wrong password")
	bad.do("GET", "/1.1/"+user+"/info/collections", "", true).want(t, "wrong password", 401, "")

	r := c.do("GET", "/1.1/"+user+"/info/collections", "", true).want(t, "empty info", 200, "{}")
	if got := r.Header.Get("X-Weave-Records"); got != "0" {
		t.Errorf("X-Weave-Records on empty info = %q, want 0", got)
	}

	put := c.do("PUT", "/1.1/"+user+"/storage/bookmarks/b1", `{"payload":"ünïcödé ✓","sortindex":3}`, true).
		want(t, "put", 200, "")
	ts := put.Header.Get("X-Weave-Timestamp")
	if put.Body != ts || !twoDecimals.MatchString(ts) {
		t.Fatalf("PUT body %q, X-Weave-Timestamp %q: want equal, two decimals", put.Body, ts)
	}

	post := c.do("POST", "/1.1/"+user+"/storage/history",
		`[{"id":"h1","payload":"a","sortindex":1},{"id":"h2","payload":"b","sortindex":2},{"id":"h3","sortindex":"FAIL"}]`, true).
		want(t, "post", 200, "")
	var batch struct {
		Success  []string            `json:"success"`
		Failed   map[string][]string `json:"failed"`
		Modified json.Number         `json:"modified"`
	}
	mustJSON(t, post.Body, &batch)
	if strings.Join(batch.Success, ",") != "h1,h2" || len(batch.Failed["h3"]) != 1 || !twoDecimals.MatchString(batch.Modified.String()) {
		t.Fatalf("batch answer %s", post.Body)
	}
	if batch.Modified.String() <= ts {
		t.Errorf("POST modified %s not after PUT %s", batch.Modified, ts)
	}

	info := map[string]json.Number{}
	mustJSON(t, c.do("GET", "/1.1/"+user+"/info/collections", "", true).want(t, "info", 200, "").Body, &info)
	if info["bookmarks"].String() != ts || info["history"] != batch.Modified || len(info) != 2 {
		t.Errorf("info/collections = %v, want bookmarks %s history %s", info, ts, batch.Modified)
	}

	c.do("GET", "/1.1/"+user+"/storage/history?sort=index", "", true).want(t, "ids", 200, `["h2","h1"]`)
	c.do("GET", "/1.1/"+user+"/storage/bookmarks/b1", "", true).
		want(t, "item", 200, `{"id":"b1","modified":`+ts+`,"sortindex":3,"payload":"\u00fcn\u00efc\u00f6d\u00e9 \u2713"}`)

	other := newClient(t, s.URL, "someoneelse", pass)
	other.do("PUT", "/user/1.0/someoneelse", `{"password":"`+pass+`"}`, false).want(t, "create other", 200, "someoneelse")
	other.do("GET", "/1.1/"+user+"/storage/bookmarks/b1", "", true).want(t, "cross-user read", 401, "")

	c.do("DELETE", "/1.1/"+user+"/storage/bookmarks/b1", "", true).want(t, "delete item", 200, "")
	c.do("GET", "/1.1/"+user+"/storage/bookmarks/b1", "", true).want(t, "deleted item", 404, "")
	c.do("DELETE", "/1.1/"+user+"/storage", "", true).want(t, "wipe without confirm", 400, "4")
	c.do("DELETE", "/1.1/"+user+"/storage", "", true, "X-Confirm-Delete", "1").want(t, "wipe", 200, "")
	c.do("GET", "/1.1/"+user+"/info/collections", "", true).want(t, "info after wipe", 200, "{}")

	const newPass = "staple horse battery correct"
	c.do("POST", "/user/1.0/"+user+"/password", newPass, true).want(t, "change password", 200, "success")
	c.do("GET", "/1.1/"+user+"/info/collections", "", true).want(t, "old password after change", 401, "")
	c = newClient(t, s.URL, user, newPass)
	c.do("GET", "/1.1/"+user+"/info/collections", "", true).want(t, "new password", 200, "{}")

	c.do("DELETE", "/user/1.0/"+user, "", true).want(t, "delete account", 200, "")
	c.do("GET", "/user/1.0/"+user, "", false).want(t, "exists after delete", 200, "0")
	c.do("GET", "/1.1/"+user+"/info/collections", "", true).want(t, "auth after delete", http.StatusUnauthorized, "")
}

func mustJSON(t testing.TB, body string, v any) {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
}

// TestCEFReopenedOnSIGHUP: logrotate moves cef.log away and sends SIGHUP;
// later events land in a new cef.log.
func TestCEFReopenedOnSIGHUP(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.URL, "rotated", "correct horse battery")
	c.do("PUT", "/user/1.0/rotated", `{"password":"correct horse battery"}`, false).want(t, "create", 200, "rotated")
	logPath := filepath.Join(s.Dir, "cef.log")
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := s.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a fresh cef.log after SIGHUP", func() bool {
		_, err := os.Stat(logPath)
		return err == nil
	})
	c.do("DELETE", "/user/1.0/rotated", "", true).want(t, "delete", 200, "")
	waitFor(t, "AccountDeleted in the fresh cef.log", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "|AccountDeleted|")
	})
	old, _ := os.ReadFile(logPath + ".1")
	if !strings.Contains(string(old), "|AccountCreated|") || strings.Contains(string(old), "|AccountDeleted|") {
		t.Errorf("rotated file holds %q", old)
	}
}

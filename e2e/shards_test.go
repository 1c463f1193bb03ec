package e2e

import (
	"database/sql"
	"fmt"
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

func rowCount(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestWBOShardsSession: the Sync session with the Python server's table
// sharding (wbo0 … wbo2 by user id modulo 3), and the rows of a kept
// user in the table of its id.
func TestWBOShardsSession(t *testing.T) {
	srv := testenv.MariaDBServer(t)
	name := srv.CreateDatabase(t)
	s := startServer(t, "--db", "mysql:"+srv.DSN(name), "--registration", "open", "--wbo-shards", "3")
	syncSession(t, s)
	c := newClient(t, s.URL, "shardkeeper", "correct horse battery")
	c.do("PUT", "/user/1.0/shardkeeper", `{"password":"correct horse battery"}`, false).want(t, "create", 200, "shardkeeper")
	c.do("PUT", "/1.1/shardkeeper/storage/bookmarks/b1", `{"payload":"kept"}`, true).want(t, "write", 200, "")
	db, err := sql.Open("mysql", srv.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int
	if err := db.QueryRow("SELECT id FROM users WHERE username = 'shardkeeper'").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, db, fmt.Sprintf("SELECT COUNT(*) FROM wbo%d WHERE username = %d", id%3, id)); n != 1 {
		t.Fatalf("wbo%d holds %d rows of user %d, want 1", id%3, n, id)
	}
	if n := rowCount(t, db, "SELECT COUNT(*) FROM wbo"); n != 0 {
		t.Fatalf("the unsharded wbo holds %d rows", n)
	}
}

// TestNodeDatabases is docs/scaling.md's full layout in one process: one
// account store (--db), node assignment over two nodes of capacity one,
// and each node's storage in its own database (--node-db). Two users
// registered through the one User API land on the two nodes, and each
// one's data in that node's database only.
func TestNodeDatabases(t *testing.T) {
	srv := testenv.MariaDBServer(t)
	accounts, dbA, dbB := srv.CreateDatabase(t), srv.CreateDatabase(t), srv.CreateDatabase(t)
	s := startServer(t, "--db", "mysql:"+srv.DSN(accounts), "--registration", "open",
		"--nodes", "http://127.0.0.1:1/=1,http://127.0.0.1:2/=1",
		"--node-db", "127.0.0.1:1=mysql:"+srv.DSN(dbA)+";127.0.0.1:2=mysql:"+srv.DSN(dbB))
	nodeOf := map[string]string{}
	for _, u := range []string{"nodedbuser1", "nodedbuser2"} {
		c := newClient(t, s.URL, u, "correct horse battery")
		c.do("PUT", "/user/1.0/"+u, `{"password":"correct horse battery"}`, false).want(t, "register", 200, u)
		nodeOf[u] = c.do("GET", "/user/1.0/"+u+"/node/weave", "", false).want(t, "node", 200, "").Body
		// One process serves every node here: the client stays on s.
		c.do("PUT", "/1.1/"+u+"/storage/bookmarks/b1", `{"payload":"data of `+u+`"}`, true).want(t, "write", 200, "")
		c.do("GET", "/1.1/"+u+"/storage/bookmarks/b1", "", true).want(t, "read", 200, "")
	}
	if nodeOf["nodedbuser1"] == nodeOf["nodedbuser2"] {
		t.Fatalf("both users on %s; capacities are one each", nodeOf["nodedbuser1"])
	}
	for _, name := range []string{dbA, dbB, accounts} {
		db, err := sql.Open("mysql", srv.DSN(name))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		want := 1
		if name == accounts {
			want = 0
		}
		if n := rowCount(t, db, "SELECT COUNT(*) FROM wbo"); n != want {
			t.Errorf("database %s holds %d rows, want %d", name, n, want)
		}
	}
	// The account store knows both users and their nodes.
	db, _ := sql.Open("mysql", srv.DSN(accounts))
	defer db.Close()
	var locs string
	if err := db.QueryRow("SELECT GROUP_CONCAT(location ORDER BY location) FROM users").Scan(&locs); err != nil {
		t.Fatal(err)
	}
	if locs != "127.0.0.1:1,127.0.0.1:2" {
		t.Fatalf("users.location = %q", locs)
	}
	// Deleting an account empties its node's database.
	c := newClient(t, s.URL, "nodedbuser1", "correct horse battery")
	c.do("DELETE", "/user/1.0/nodedbuser1", "", true).want(t, "delete", 200, "")
	n := 0
	for _, name := range []string{dbA, dbB} {
		db, _ := sql.Open("mysql", srv.DSN(name))
		n += rowCount(t, db, "SELECT COUNT(*) FROM wbo")
		db.Close()
	}
	if n != 1 {
		t.Fatalf("%d rows left in the node databases after one of two users was deleted", n)
	}
}

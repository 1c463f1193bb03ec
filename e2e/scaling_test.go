package e2e

import (
	"database/sql"
	"strings"
	"testing"

	"weaveproxy/e2e/testenv"
)

// TestTwoStorageNodes is docs/scaling.md's two-node setup as it can be
// run today: two weaveproxy processes, each the storage node of its own
// MariaDB database and announcing itself with --node-url. A user is placed
// on a node by registering there (the node-assignment service of issue 12
// will do that step); a client then follows node/weave, its data lands in
// that node's database only, and the other node does not serve it.
func TestTwoStorageNodes(t *testing.T) {
	srv := testenv.MariaDBServer(t)
	type node struct {
		name, db string
		s        *server
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*node
	for _, name := range []string{"a", "b"} {
		n := &node{name: name, db: srv.CreateDatabase(t)}
		listen, admin := freeAddr(t), freeAddr(t)
		n.s = startBinary(t, bin, t.TempDir(), listen, admin, "serve", "--listen", listen, "--admin-listen", admin,
			"--db", "mysql:"+srv.DSN(n.db), "--node-url", "http://"+listen+"/", "--registration", "open")
		nodes = append(nodes, n)
	}
	users := []string{"nodeusera", "nodeuserb"} // user i lives on node i
	for i, n := range nodes {
		u, other := users[i], nodes[1-i]
		c := newClient(t, n.s.URL, u, "correct horse battery")
		c.do("PUT", "/user/1.0/"+u, `{"password":"correct horse battery"}`, false).want(t, "register on "+n.name, 200, u)
		// The client asks where its storage is and goes there.
		nodeURL := c.do("GET", "/user/1.0/"+u+"/node/weave", "", false).want(t, "node/weave", 200, n.s.URL+"/").Body
		c.base = strings.TrimSuffix(nodeURL, "/")
		c.do("PUT", "/1.1/"+u+"/storage/bookmarks/b1", `{"payload":"on node `+n.name+`"}`, true).want(t, "write", 200, "")
		c.do("GET", "/1.1/"+u+"/storage/bookmarks/b1", "", true).want(t, "read", 200, "")
		// The other node does not know the user at all.
		o := newClient(t, other.s.URL, u, "correct horse battery")
		o.do("GET", "/user/1.0/"+u, "", false).want(t, "exists on the other node", 200, "0")
		o.do("GET", "/1.1/"+u+"/storage/bookmarks/b1", "", true).want(t, "read on the other node", 401, "")
	}
	// Each database holds its node's users and their data, nothing else.
	for i, n := range nodes {
		db, err := sql.Open("mysql", srv.DSN(n.db))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var names string
		if err := db.QueryRow("SELECT COALESCE(GROUP_CONCAT(username), '') FROM users").Scan(&names); err != nil {
			t.Fatal(err)
		}
		var rows int
		q := "SELECT COUNT(*) FROM wbo w JOIN users u ON u.id = w.username WHERE u.username = ?"
		if err := db.QueryRow(q, users[i]).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		var all int
		if err := db.QueryRow("SELECT COUNT(*) FROM wbo").Scan(&all); err != nil {
			t.Fatal(err)
		}
		if names != users[i] || rows != 1 || all != 1 {
			t.Errorf("node %s database: users %q, %d of its user's rows, %d rows in all", n.name, names, rows, all)
		}
	}
}

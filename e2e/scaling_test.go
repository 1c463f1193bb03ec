package e2e

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// TestTwoStorageNodes is docs/scaling.md's two-node setup, Mozilla's
// layout: accounts in one LDAP directory (mozilla preset: uidNumber,
// primaryNode), a User API that assigns new users to nodes (--nodes, one
// place on each), and two storage nodes, each a weaveproxy on its own
// MariaDB database that serves only its own users (--check-location).
// Two users land on different nodes, their data in different databases,
// and neither node serves the other's user.
func TestTwoStorageNodes(t *testing.T) {
	srv := testenv.MariaDBServer(t)
	_, ldap := ldapArgs(t, "mozilla")
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		db string
		s  *server
	}
	nodes := map[string]*node{} // by URL, as node/weave answers it
	var spec []string
	for range 2 {
		n := &node{db: srv.CreateDatabase(t)}
		listen, admin := freeAddr(t), freeAddr(t)
		n.s = startBinary(t, bin, t.TempDir(), listen, admin, append([]string{"serve", "--listen", listen, "--admin-listen", admin,
			"--db", "mysql:" + srv.DSN(n.db), "--check-location"}, ldap...)...)
		nodes[n.s.URL+"/"] = n
		spec = append(spec, n.s.URL+"/=1")
	}
	userAPI := startServer(t, append([]string{"--nodes", strings.Join(spec, ","), "--registration", "open"}, ldap...)...)

	placed := map[string]string{} // user -> node URL
	for _, u := range []string{"nodeusera", "nodeuserb"} {
		c := newClient(t, userAPI.URL, u, "correct horse battery")
		c.do("PUT", "/user/1.0/"+u, `{"password":"correct horse battery"}`, false).want(t, "register "+u, 200, "")
		// The client asks where its storage is and goes there.
		url := c.do("GET", "/user/1.0/"+u+"/node/weave", "", false).want(t, "node/weave", 200, "").Body
		n := nodes[url]
		if n == nil {
			t.Fatalf("%s was given node %q, not one of the two", u, url)
		}
		placed[u] = url
		c.base = strings.TrimSuffix(url, "/")
		c.do("PUT", "/1.1/"+u+"/storage/bookmarks/b1", `{"payload":"mine"}`, true).want(t, "write on its node", 200, "")
		c.do("GET", "/1.1/"+u+"/storage/bookmarks/b1", "", true).want(t, "read on its node", 200, "")
	}
	if placed["nodeusera"] == placed["nodeuserb"] {
		t.Fatalf("both users on %s: one place per node should have spread them", placed["nodeusera"])
	}
	for u, url := range placed {
		for other, n := range nodes {
			if other == url {
				continue
			}
			newClient(t, n.s.URL, u, "correct horse battery").
				do("GET", "/1.1/"+u+"/info/collections", "", true).want(t, u+" on the other node", 401, "")
		}
	}
	// Each node's database holds its own user's data and nothing else.
	for url, n := range nodes {
		db, err := sql.Open("mysql", srv.DSN(n.db))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var rows, ids int
		if err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT username) FROM wbo").Scan(&rows, &ids); err != nil {
			t.Fatal(err)
		}
		if rows != 1 || ids != 1 {
			t.Errorf("node %s database: %d rows of %d users, want its one user's one row", url, rows, ids)
		}
	}
}

// TestStorageNodesInOneProcess is the same split with the accounts in a
// MySQL users table: one process holds the accounts database and one
// storage database per node (--node-db), and assigns users to nodes
// (--nodes). The two node names are two host names of the one listener,
// so the client following node/weave reaches it either way; the users'
// data lands in their nodes' databases, none in the accounts database.
func TestStorageNodesInOneProcess(t *testing.T) {
	srv := testenv.MariaDBServer(t)
	accounts, dbA, dbB := srv.CreateDatabase(t), srv.CreateDatabase(t), srv.CreateDatabase(t)
	for _, db := range []string{accounts, dbA, dbB} {
		dbInit(t, "mysql:"+srv.DSN(db))
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	listen, admin := freeAddr(t), freeAddr(t)
	_, port, _ := strings.Cut(listen, ":")
	hostA, hostB := "127.0.0.1:"+port, "localhost:"+port
	s := startBinary(t, bin, t.TempDir(), listen, admin, "serve", "--listen", listen, "--admin-listen", admin,
		"--db", "mysql:"+srv.DSN(accounts), "--registration", "open",
		"--nodes", "http://"+hostA+"/=1,http://"+hostB+"/=1",
		"--node-db", hostA+"=mysql:"+srv.DSN(dbA)+";"+hostB+"=mysql:"+srv.DSN(dbB))
	byHost := map[string]string{hostA: dbA, hostB: dbB}
	placed := map[string]bool{}
	for _, u := range []string{"onenodea", "onenodeb"} {
		c := newClient(t, s.URL, u, "correct horse battery")
		c.do("PUT", "/user/1.0/"+u, `{"password":"correct horse battery"}`, false).want(t, "register "+u, 200, "")
		url := c.do("GET", "/user/1.0/"+u+"/node/weave", "", false).want(t, "node/weave", 200, "").Body
		host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
		if byHost[host] == "" || placed[host] {
			t.Fatalf("%s was given node %q (already placed: %v)", u, url, placed)
		}
		placed[host] = true
		c.base = strings.TrimSuffix(url, "/")
		c.do("PUT", "/1.1/"+u+"/storage/bookmarks/b1", `{"payload":"mine"}`, true).want(t, "write", 200, "")
		c.do("GET", "/1.1/"+u+"/storage/bookmarks/b1", "", true).want(t, "read", 200, "")
	}
	for db, want := range map[string]int{dbA: 1, dbB: 1, accounts: 0} {
		h, err := sql.Open("mysql", srv.DSN(db))
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if rows := rowCount(t, h, "SELECT COUNT(*) FROM wbo"); rows != want {
			t.Errorf("database %s holds %d rows, want %d", db, rows, want)
		}
	}
}

package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// ldapArgs starts a slapd with an ou=people branch and returns it with the
// serve flags that keep accounts there (preset inetorgperson or mozilla).
func ldapArgs(t *testing.T, preset string) (*testenv.Slapd, []string) {
	t.Helper()
	sl := testenv.StartSlapd(t, testenv.SlapdOptions{Schemas: []string{"../native/auth/ldapdir/testdata/mozilla-sync.schema"}})
	sl.Add(t, "dn: ou=people,"+sl.Suffix+"\nobjectClass: organizationalUnit\nou: people\n")
	pwFile := filepath.Join(t.TempDir(), "bind.pw")
	if err := os.WriteFile(pwFile, []byte(sl.RootPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return sl, []string{"--auth", "ldap", "--ldap-url", sl.URL, "--ldap-base", "ou=people," + sl.Suffix,
		"--ldap-bind-dn", sl.RootDN, "--ldap-bind-password-file", pwFile, "--ldap-preset", preset}
}

// TestLDAPSession is the Sync session with the accounts in a real slapd
// (both directory layouts) and the storage in SQLite or MySQL.
func TestLDAPSession(t *testing.T) {
	for _, preset := range []string{"inetorgperson", "mozilla"} {
		for _, db := range []string{"sqlite", "mysql"} {
			t.Run(preset+"/"+db, func(t *testing.T) {
				sl, args := ldapArgs(t, preset)
				if db == "mysql" {
					args = append(args, "--db", "mysql:"+testenv.MariaDB(t), "--registration", "open")
				}
				syncSession(t, startServer(t, args...))
				// The session's second account stays: it lives in the
				// directory, with a password written as {SSHA}.
				got := sl.Search(t, "(uid=someoneelse)", "userPassword")
				_, b64, _ := strings.Cut(got, "userPassword:: ")
				pw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
				if !strings.HasPrefix(string(pw), "{SSHA}") {
					t.Fatalf("someoneelse in the directory:\n%s", got)
				}
				if got := sl.Search(t, "(uid=minimaluser)"); got != "" {
					t.Fatalf("deleted account still in the directory:\n%s", got)
				}
			})
		}
	}
}

// TestOperatorSession runs a Sync session whose account calls an operator
// makes go through the internal face (its own listener and token), with
// the public face reduced to what clients need, on SQL and LDAP accounts.
func TestOperatorSession(t *testing.T) {
	for _, accounts := range []string{"sql", "ldap"} {
		t.Run(accounts, func(t *testing.T) {
			var args []string
			if accounts == "ldap" {
				_, args = ldapArgs(t, "mozilla")
			}
			tokFile := filepath.Join(t.TempDir(), "internal.token")
			if err := os.WriteFile(tokFile, []byte("internal-secret-token\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			internal := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
			args = append(args, "--internal-listen", internal, "--internal-token-file", tokFile,
				"--user-api-endpoints", "exists,node,password,email")
			s := startServer(t, args...)
			op := newClient(t, "http://"+internal, "", "")
			bearer := []string{"Authorization", "Bearer internal-secret-token"}
			const user, pass, pass2 = "operated", "first long password", "second long password"
			c := newClient(t, s.URL, user, pass)

			c.do("PUT", "/user/1.0/"+user, `{"password":"`+pass+`"}`, false).want(t, "public create refused", 403, "11")
			op.do("POST", "/internal/1.0/users", `{"username":"`+user+`","password":"`+pass+`"}`, false).
				want(t, "create without token", 401, "")
			op.do("POST", "/internal/1.0/users", `{"username":"`+user+`","password":"`+pass+`","email":"op@example.org"}`, false, bearer...).
				want(t, "internal create", 200, "")
			c.do("GET", "/user/1.0/"+user, "", false).want(t, "exists", 200, "1")
			c.do("PUT", "/1.1/"+user+"/storage/bookmarks/b1", `{"payload":"kept"}`, true).want(t, "write", 200, "")
			c.do("GET", "/1.1/"+user+"/storage/bookmarks/b1", "", true).want(t, "read", 200, "")

			c.do("POST", "/user/1.0/"+user+"/password", pass2, true).want(t, "change password", 200, "success")
			c = newClient(t, s.URL, user, pass2)
			op.do("POST", "/internal/1.0/users/"+user+"/disable", "", false, bearer...).want(t, "disable", 200, "")
			c.do("GET", "/1.1/"+user+"/info/collections", "", true).want(t, "storage while disabled", 403, `"Account disabled"`)
			op.do("POST", "/internal/1.0/users/"+user+"/enable", "", false, bearer...).want(t, "enable", 200, "")
			c.do("GET", "/1.1/"+user+"/info/collections", "", true).want(t, "storage enabled again", 200, "")
			r := op.do("GET", "/internal/1.0/users?email=op@example.org", "", false, bearer...).want(t, "lookup", 200, "")
			if !strings.Contains(r.Body, `"username":"`+user+`"`) {
				t.Fatalf("lookup by e-mail: %s", r.Body)
			}

			c.do("DELETE", "/user/1.0/"+user, "", true).want(t, "public delete refused", 403, "11")
			op.do("DELETE", "/internal/1.0/users/"+user, "", false, bearer...).want(t, "internal delete", 200, `{"deleted":true}`+"\n")
			c.do("GET", "/user/1.0/"+user, "", false).want(t, "exists after delete", 200, "0")
			c.do("GET", "/1.1/"+user+"/info/collections", "", true).want(t, "auth after delete", 401, "")
		})
	}
}

// TestNodeAssignmentLDAP: a user of a Mozilla-style directory without a
// node gets one from --nodes on the first node/weave, written to its
// primaryNode as PHP did; a full node list leaves the next one to 404.
func TestNodeAssignmentLDAP(t *testing.T) {
	sl, args := ldapArgs(t, "mozilla")
	s := startServer(t, append(args, "--nodes", "http://127.0.0.1:1/=1")...)
	for _, u := range []string{"nodeuser1", "nodeuser2"} {
		newClient(t, s.URL, u, "long enough password").
			do("PUT", "/user/1.0/"+u, `{"password":"long enough password"}`, false).want(t, "create "+u, 200, u)
	}
	c := newClient(t, s.URL, "", "")
	c.do("GET", "/user/1.0/nodeuser1/node/weave", "", false).want(t, "assigned", 200, "http://127.0.0.1:1/")
	if got := sl.Search(t, "(uid=nodeuser1)", "primaryNode"); !strings.Contains(got, "primaryNode: weave:127.0.0.1:1") {
		t.Fatalf("primaryNode after assignment:\n%s", got)
	}
	c.do("GET", "/user/1.0/nodeuser1/node/weave", "", false).want(t, "same node again", 200, "http://127.0.0.1:1/")
	c.do("GET", "/user/1.0/nodeuser2/node/weave", "", false).want(t, "nodes full", 404, `"No location"`)
}

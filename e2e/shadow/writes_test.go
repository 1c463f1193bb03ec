package shadow_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/shadow"
)

// write is one request of the write script.
type write struct{ method, path, body string }

// writeScript is n deterministic storage writes for user: single PUTs,
// batches, partial updates, ttls, a custom collection, deletes by id and
// by query, and now and then a whole collection dropped.
func writeScript(user string, n int) []write {
	base := "/1.0/" + user + "/storage/"
	colls := []string{"bookmarks", "history", "custom1"}
	out := make([]write, 0, n)
	for i := 0; len(out) < n; i++ {
		c := colls[i%len(colls)]
		id := fmt.Sprintf("w%d", i%97)
		switch i % 10 {
		case 0, 1, 2:
			out = append(out, write{"PUT", base + c + "/" + id,
				fmt.Sprintf(`{"payload": "p%d", "sortindex": %d, "parentid": "x%d"}`, i, i%50, i%7)})
		case 3:
			out = append(out, write{"PUT", base + c + "/" + id, fmt.Sprintf(`{"sortindex": %d}`, i)})
		case 4, 5:
			var items []string
			for k := range 3 {
				items = append(items, fmt.Sprintf(`{"id": "b%d", "payload": "batch %d", "sortindex": %d}`, (i+k)%89, i, k))
			}
			items = append(items, `{"id": "bad id!", "payload": "refused"}`)
			out = append(out, write{"POST", base + c, "[" + strings.Join(items, ",") + "]"})
		case 6:
			out = append(out, write{"PUT", base + "forms/" + id, fmt.Sprintf(`{"payload": "f%d", "ttl": 86400}`, i)})
		case 7:
			out = append(out, write{"DELETE", base + c + "/" + fmt.Sprintf("w%d", (i+3)%97), ""})
		case 8:
			out = append(out, write{"DELETE", base + c + fmt.Sprintf("?ids=b%d,b%d", i%89, (i+1)%89), ""})
		case 9:
			if i%250 == 249 {
				out = append(out, write{"DELETE", base + c, ""})
			} else {
				out = append(out, write{"DELETE", base + c + "?parentid=x" + fmt.Sprint(i%7) + "&limit=2&sort=index", ""})
			}
		}
	}
	return out
}

// A write shadowed 1,000 times (native dry run, then legacy) leaves the
// database exactly as the same 1,000 writes sent to legacy alone.
func TestShadowedWritesApplyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 writes on two real stacks")
	}
	shadowed, control := newBackend(t), newBackend(t)
	// The diff store on MySQL, as several proxy instances would share it.
	// Every write is to be compared: room for the dry runs still going on
	// a loaded machine when the next write comes (the default bound of 2
	// sheds it, reason dry_run_busy).
	s := newStack(t, shadowed, stackOptions{diffDSN: "mysql:" + testenv.MariaDB(t), shadow: shadow.Options{DryRuns: 64}})
	const user = "writer"
	viaProxy, direct := newClient(t, s.URL, user), newClient(t, control.php.URL, user)
	viaProxy.register()
	direct.register()
	script := writeScript(user, 1000)
	for i, w := range script {
		a, b := viaProxy.do(w.method, w.path, w.body), direct.do(w.method, w.path, w.body)
		if a.status != b.status {
			t.Fatalf("write %d %s %s: %d through the proxy, %d direct", i, w.method, w.path, a.status, b.status)
		}
	}
	s.flush(t)
	want, got := dump(t, control.db), dump(t, shadowed.db)
	if len(want["wbo"]) == 0 {
		t.Fatal("the script left no rows: nothing was compared")
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("database after shadowed writes differs from legacy alone (-legacy +shadowed):\n%s", d)
	}
	// Every write was dry-run natively: the comparison was not skipped.
	var dry int64
	routes, err := s.st.Routes(context.Background(), storeGate)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		dry += r.DryRun
		t.Logf("%s: %+v", r.Route, r.Counts)
	}
	if dry != int64(len(script))+1 {
		t.Fatalf("%d dry-run pairs stored, want %d (the writes and the registration)", dry, len(script)+1)
	}
}

// dump reads every table a write may touch, ordered, with user ids
// replaced by user names and timestamps left out: the two databases got
// the same writes at different moments. (User ids are compared by name
// because InnoDB does not roll back AUTO_INCREMENT: the native dry run
// of the registration used up an id, so legacy's row got the next one.)
func dump(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	queries := map[string]string{
		"users": `SELECT username, md5, email, location, status, alert FROM users ORDER BY username`,
		"collections": `SELECT u.username, c.collectionid, c.name FROM collections c JOIN users u ON u.id = c.userid
			ORDER BY 1, 2`,
		"wbo": `SELECT u.username, w.collection, w.id, w.parentid, w.predecessorid, w.sortindex, w.payload, w.payload_size
			FROM wbo w JOIN users u ON u.id = w.username ORDER BY 1, 2, 3`,
		"wbo_ttl":     `SELECT COUNT(*) FROM wbo_ttl`,
		"reset_codes": `SELECT COUNT(*) FROM reset_codes`,
	}
	out := map[string][]string{}
	for name, q := range queries {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("dump %s: %v", name, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = "NULL"
				if v.Valid {
					parts[i] = fmt.Sprintf("%q", v.String)
				}
			}
			out[name] = append(out[name], strings.Join(parts, " "))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

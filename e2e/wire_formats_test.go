package e2e

import (
	"database/sql"
	"testing"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
)

// TestOutputFormatsAgreeWithLegacy reads the same rows from the legacy
// server and natively, through the proxy, in every output format (JSON,
// application/newlines, application/whoisi), ids and full items, with
// modified times the legacy clock rarely hits: a whole second, a tenth, a
// hundredth. /1.0/ promises PHP's bytes.
func TestOutputFormatsAgreeWithLegacy(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		s := startStack(t, "default: legacy\n", stackOptions{legacy: srv.Start})
		c := newUser(t, s.Proxy.URL, s.Proxy.URL, "formatsuser")
		coll := "/1.0/" + c.user + "/storage/history"
		c.do("POST", coll, `[{"id":"w","payload":"whole","sortindex":3},{"id":"t","payload":"tenth","sortindex":2,"parentid":"p"},`+
			`{"id":"h","payload":"hundredth \u00fc/\"","sortindex":1,"predecessorid":"w"}]`, true).want(t, "seed", 200, "")
		db, err := sql.Open("mysql", s.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for id, hundredths := range map[string]int64{"w": 179609255600, "t": 179609255650, "h": 179609255605} {
			if _, err := db.Exec("UPDATE wbo SET modified = ? WHERE id = ?", hundredths, id); err != nil {
				t.Fatal(err)
			}
		}
		direct := *c
		direct.base = s.PHP.URL
		s.setDefault(t, "native")
		for _, accept := range []string{"application/json", "application/newlines", "application/whoisi"} {
			for _, q := range []string{"?sort=index", "?sort=index&full=1"} {
				want := direct.do("GET", coll+q, "", true, "Accept", accept)
				got := c.do("GET", coll+q, "", true, "Accept", accept)
				if got.Status != want.Status || got.Body != want.Body {
					t.Errorf("%s %s: native %d %q\n\tPHP    %d %q", accept, q, got.Status, got.Body, want.Status, want.Body)
				}
				if got.Header.Get("Content-Type") != want.Header.Get("Content-Type") {
					t.Errorf("%s %s: Content-Type native %q, PHP %q", accept, q, got.Header.Get("Content-Type"), want.Header.Get("Content-Type"))
				}
			}
		}
		for _, id := range []string{"w", "t", "h"} {
			want := direct.do("GET", coll+"/"+id, "", true)
			if got := c.do("GET", coll+"/"+id, "", true); got.Body != want.Body {
				t.Errorf("item %s: native %q, PHP %q", id, got.Body, want.Body)
			}
		}
	})
}

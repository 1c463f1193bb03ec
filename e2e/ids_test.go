package e2e

import (
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
)

// TestIDsWithSlashThroughTheProxy: ids made from base64 ('/', '+', '=')
// written by the PHP server are kept, and native lists them, selects and
// deletes them by ids=, and addresses them by URL with the '/' as %2F, on
// /1.0/ and /1.1/, through the proxy.
func TestIDsWithSlashThroughTheProxy(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		s := startStack(t, "default: legacy\n", stackOptions{legacy: srv.Start})
		c := newUser(t, s.Proxy.URL, s.Proxy.URL, "slashuser")
		coll := "/1.0/" + c.user + "/storage/b64"
		c.do("POST", coll, `[{"id":"ab/cd+e=","payload":"one","sortindex":2},{"id":"x/y","payload":"two","sortindex":1}]`, true).
			want(t, "legacy batch", 200, `{"success":["ab\/cd+e=","x\/y"],"failed":[]}`)

		s.setDefault(t, "native")
		c.do("GET", coll+"?sort=index", "", true).want(t, "native list", 200, `["ab\/cd+e=","x\/y"]`)
		c.do("GET", "/1.1/"+c.user+"/storage/b64?sort=index", "", true).want(t, "native list 1.1", 200, `["ab/cd+e=","x/y"]`)
		got := c.do("GET", coll+"/ab%2Fcd%2Be%3D", "", true).want(t, "native item by URL", 200, "")
		if want := `"id":"ab\/cd+e=",`; !strings.Contains(got.Body, want) || !strings.Contains(got.Body, `"payload":"one"`) {
			t.Errorf("item by URL = %s", got.Body)
		}
		got = c.do("GET", "/1.1/"+c.user+"/storage/b64/x%2Fy", "", true).want(t, "native item by URL 1.1", 200, "")
		if !strings.Contains(got.Body, `"id":"x/y",`) {
			t.Errorf("1.1 item by URL = %s", got.Body)
		}
		got = c.do("GET", coll+"?ids=ab/cd%2Be%3D&full=1", "", true).want(t, "ids=", 200, "")
		if !strings.Contains(got.Body, `"payload":"one"`) || strings.Contains(got.Body, `"payload":"two"`) {
			t.Errorf("ids= selected %s", got.Body)
		}
		c.do("DELETE", coll+"?ids=x/y", "", true).want(t, "delete by ids=", 200, "")
		c.do("PUT", coll+"/q%2Fr", `{"payload":"three","sortindex":0}`, true).want(t, "put by URL", 200, "")
		c.do("GET", coll+"?sort=index", "", true).want(t, "after delete and put", 200, `["ab\/cd+e=","q\/r"]`)
		c.do("DELETE", "/1.1/"+c.user+"/storage/b64/ab%2Fcd%2Be%3D", "", true).want(t, "delete by URL 1.1", 200, "")
		c.do("GET", coll, "", true).want(t, "what is left", 200, `["q\/r"]`)

		// Back on PHP, the natively written item is there too.
		s.setDefault(t, "legacy")
		got = c.do("GET", coll+"?full=1", "", true).want(t, "PHP reads native's write", 200, "")
		if !strings.Contains(got.Body, `"id":"q\/r"`) {
			t.Errorf("PHP list after native writes = %s", got.Body)
		}
	})
}

package legacy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// agreeScript is a session beyond the recordings: odd ids, the filters and
// deletes by query, preconditions on every write, the User API's other
// calls. The stand-in must answer it as the original does.
var agreeScript = []struct{ method, path, body string }{
	{"POST", "storage/b64", `[{"id":"ab/cd+e=","payload":"1","parentid":"p","sortindex":1},{"id":"0","payload":"zero"},` +
		`{"id":"x y","payload":"2","predecessorid":"ab/cd+e=","sortindex":2},{"id":"","payload":"empty"},{"id":"u\u00fc","payload":"3"}]`},
	{"GET", "storage/b64?sort=index", ""},
	{"GET", "storage/b64?full=1&sort=index", ""},
	{"GET", "storage/b64?parentid=p", ""},
	{"GET", "storage/b64?predecessorid=ab/cd%2Be%3D", ""},
	{"GET", "storage/b64?ids=ab/cd%2Be%3D,x%20y&sort=index", ""},
	{"GET", "storage/b64/x%20y", ""},
	{"DELETE", "storage/b64?ids=x%20y", ""},
	{"GET", "storage/b64?sort=index", ""},
	{"PUT", "storage/b64/n", `{"payload":"n","sortindex":"7"}`},
	{"PUT", "storage/b64/f", `{"payload":"f","sortindex":2.9,"parentid":"` + strings.Repeat("p", 64) + `"}`},
	{"PUT", "storage/b64/toolong", `{"payload":"x","parentid":"` + strings.Repeat("p", 65) + `"}`},
	{"PUT", "storage/b64/obj", `{"payload":{"a":1}}`},
	{"PUT", "storage/b64/unknown", `{"payload":"u","extra":[1,2]}`},
	{"GET", "storage/b64?full=1&sort=index", ""},
	{"DELETE", "storage/b64?parentid=p", ""},
	{"DELETE", "storage/b64?sort=index&limit=1", ""},
	{"GET", "storage/b64?sort=index", ""},
	{"POST", "storage/b64", `[{"id":"late","payload":"x"}]`},
	{"GET", "storage/b64?newer=1000&older=9999999999&sort=oldest", ""},
	{"GET", "info/collection_counts", ""},
	{"GET", "info/quota", ""},
	{"DELETE", "storage/b64/nope", ""},
	{"DELETE", "storage/b64", ""},
	{"GET", "storage/b64", ""},
	{"GET", "info/collections", ""},
	{"GET", "/user/1.0/{u}/email", ""},
	{"POST", "/user/1.0/{u}/email", "new@example.com"},
	{"GET", "/user/1.0/{u}/email", ""},
	{"GET", "/user/1.0/{u}/node/weave", ""},
	{"GET", "/user/1.0/{u}", ""},
	{"GET", "/user/1.0/nosuchuser", ""},
	{"DELETE", "/user/1.0/{u}/frob", ""},
	{"GET", "/user/1.0/{u}", ""},
}

// TestStandInAnswersAsTheOriginal runs agreeScript against both servers,
// each on a fresh database, and compares status, headers (transport noise
// aside) and bodies up to timestamps.
func TestStandInAnswersAsTheOriginal(t *testing.T) {
	testenv.RequireLegacyPHP(t)
	answers := map[string][]string{}
	for _, srv := range legacy.Servers {
		f := startFixture(t, srv.Start, legacy.Options{})
		c := f.createUser(t, "agree", "correct horse 1")
		for _, st := range agreeScript {
			path := st.path
			if !strings.HasPrefix(path, "/") {
				path = "/1.0/agree/" + path
			}
			path = strings.ReplaceAll(path, "{u}", "agree")
			// Timestamps are hundredths of a second: two writes within
			// the same hundredth tie, and a listing sorted by time then
			// orders them as the database likes. A step apart, they don't.
			time.Sleep(15 * time.Millisecond)
			w := c.do(st.method, path, st.body)
			var hs []string
			for _, h := range w.Headers {
				if !noiseHeaders[strings.ToLower(h[0])] && h[0] != "X-Weave-Timestamp" {
					hs = append(hs, h[0]+": "+h[1])
				}
			}
			body := stampRE.ReplaceAllString(string(w.Body), "<ts>")
			answers[srv.Name] = append(answers[srv.Name], fmt.Sprintf("%s %s -> %d %v %s", st.method, path, w.Status, hs, body))
		}
	}
	if d := cmp.Diff(answers["original"], answers["stand-in"]); d != "" {
		t.Errorf("stand-in vs original (-original +stand-in):\n%s", d)
	}
}

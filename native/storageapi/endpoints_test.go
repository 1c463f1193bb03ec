package storageapi

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// step is one exchange of the endpoint transcript. Paths starting with "/"
// are absolute ({v} is the version); others are relative to the user.
type step struct {
	method, path, body string
	hdr                []string
	noAuth             bool
}

var unicodePayload = `{"id":"uni1","payload":"ünïcödé ✓ 漢字 😀 \"quoted\" \\ back\nnewline </script>"}`

// endpointSteps walks every endpoint, every query parameter, the routing
// errors and the error bodies. Each backend must produce the same
// transcript per version, byte for byte, so the golden file pins both.
var endpointSteps = []step{
	{method: "GET", path: "info/collections"},
	{method: "GET", path: "info/collection_counts"},
	{method: "GET", path: "info/quota"},
	{method: "GET", path: "info/collection_usage"},
	{method: "GET", path: "info/frob"},
	{method: "POST", path: "info/collections", body: "[]"},
	{method: "GET", path: "storage"},
	{method: "HEAD", path: "info/collections"},
	{method: "GET", path: "storage/bookmarks"},
	{method: "GET", path: "storage/bookmarks/nope"},
	{method: "PUT", path: "storage/bookmarks/item1", body: `{"id":"item1","payload":"hello","sortindex":5}`},
	{method: "PUT", path: "storage/bookmarks/item3", body: `{"id":"item3","payload":"p3","sortindex":-7,"parentid":"item1","predecessorid":"item2"}`},
	{method: "PUT", path: "storage/bookmarks/uni1", body: unicodePayload},
	{method: "PUT", path: "storage/bookmarks/meta", body: `{"sortindex":2}`},
	{method: "PUT", path: "storage/bookmarks/item1", body: `{"sortindex":7}`},
	{method: "PUT", path: "storage/bookmarks/%7B6820f3ca%7D", body: `{"payload":"braces"}`},
	{method: "GET", path: "storage/bookmarks/item1"},
	{method: "GET", path: "storage/bookmarks/item3"},
	{method: "GET", path: "storage/bookmarks/uni1"},
	{method: "GET", path: "storage/bookmarks/meta"},
	{method: "GET", path: "storage/bookmarks/%7B6820f3ca%7D"},
	{method: "PUT", path: "storage/bookmarks/bad", body: `{oops`},
	{method: "PUT", path: "storage/bookmarks/bad", body: "{\"payload\":\"\xff\"}"},
	{method: "PUT", path: "storage/bookmarks/arr", body: `[1, 2]`},
	{method: "PUT", path: "storage/bookmarks/si", body: `{"payload":"x","sortindex":"abc"}`},
	{method: "PUT", path: "storage/bookmarks/" + strings.Repeat("x", 65), body: `{"payload":"x"}`},
	{method: "PUT", path: "storage/bookmarks/a%2Fb", body: `{"payload":"slash"}`},
	{method: "PUT", path: "storage/" + strings.Repeat("c", 70) + "/x", body: `{"payload":"x"}`},
	{method: "PUT", path: "storage/bad%20name/x", body: `{"payload":"x"}`},
	{method: "PUT", path: "storage/bookmarks/item1", body: `{"payload":"new"}`, hdr: []string{"X-If-Unmodified-Since", "1000.00"}},
	{method: "PUT", path: "storage/bookmarks/item1", body: `{"payload":"new"}`, hdr: []string{"X-If-Unmodified-Since", "abc"}},
	{method: "PUT", path: "storage/bookmarks/item4", body: `{"payload":"p4"}`, hdr: []string{"X-If-Unmodified-Since", "9999999999.99"}},
	{method: "POST", path: "storage/history", body: `[{"id":"h0","payload":"visit 0","sortindex":0},{"id":"h1","payload":"visit 1","sortindex":1},` +
		`{"id":"h2","payload":"visit 2","sortindex":2},{"id":"` + strings.Repeat("z", 70) + `","payload":"x"},{"payload":"no id"},"BAD",` +
		`{"id":"si","payload":"x","sortindex":"bad"},{"id":"ünï","payload":"u","sortindex":3}]`},
	{method: "POST", path: "storage/history", body: `[]`},
	{method: "POST", path: "storage/history", body: `{"id":"single","payload":"one","sortindex":10}`},
	{method: "POST", path: "storage/history", body: `{"payload":"no id"}`},
	{method: "POST", path: "storage/history", body: `"notalist"`},
	{method: "POST", path: "storage/history", body: `[{`},
	{method: "POST", path: "storage/history", body: `[{"id":"late","payload":"x"}]`, hdr: []string{"X-If-Unmodified-Since", "1000"}},
	{method: "PUT", path: "storage/history", body: `[{"id":"h3","payload":"visit 3","sortindex":4}]`},
	{method: "GET", path: "storage/history?sort=index"},
	{method: "GET", path: "storage/history?sort=index&full=1"},
	{method: "GET", path: "storage/history?sort=index&full=1&limit=2", hdr: []string{"Accept", "application/newlines"}},
	{method: "GET", path: "storage/history?sort=index&limit=2&offset=1", hdr: []string{"Accept", "application/whoisi"}},
	{method: "GET", path: "storage/history?sort=index&full=1&limit=2", hdr: []string{"Accept", "application/whoisi"}},
	{method: "GET", path: "storage/history?sort=index", hdr: []string{"Accept", "application/newlines, application/json"}},
	{method: "GET", path: "storage/history?ids=h1,h2,nothere&sort=index"},
	{method: "GET", path: "storage/history?ids="},
	{method: "GET", path: "storage/history?index_above=1&index_below=4&sort=index"},
	{method: "GET", path: "storage/history?newer=1795895500.34&sort=index"},
	{method: "GET", path: "storage/history?older=1795895500.45&sort=index"},
	{method: "GET", path: "storage/history?sort=index&blabla=1"},
	{method: "GET", path: "storage/bookmarks?parentid=item1&full=1"},
	{method: "GET", path: "storage/bookmarks?predecessorid=item2"},
	{method: "GET", path: "storage/history?limit=abc"},
	{method: "GET", path: "storage/history?newer=abc"},
	{method: "GET", path: "storage/history?index_above=x"},
	{method: "GET", path: "storage/history?offset=1.5"},
	{method: "GET", path: "info/collections"},
	{method: "GET", path: "info/collection_counts"},
	{method: "GET", path: "info/quota"},
	{method: "GET", path: "info/collection_usage"},
	{method: "GET", path: "info/collections?client=FxHome&v=1.1b2"},
	{method: "DELETE", path: "storage/history/h1"},
	{method: "DELETE", path: "storage/history/never"},
	{method: "DELETE", path: "storage/history?ids=h0,single"},
	{method: "DELETE", path: "storage/history?index_above=3"},
	{method: "DELETE", path: "storage/history/h2", hdr: []string{"X-If-Unmodified-Since", "1000"}},
	{method: "DELETE", path: "storage/bookmarks", hdr: []string{"X-If-Unmodified-Since", "1000"}},
	{method: "DELETE", path: "storage/bookmarks?parentid=item1"},
	{method: "GET", path: "storage/history?sort=index"},
	{method: "DELETE", path: "storage/history?limit=x"},
	{method: "DELETE", path: "storage/tabs"},
	{method: "GET", path: "storage/bookmarks/?sort=newest"},
	{method: "GET", path: "/{v}/alice//storage/bookmarks"},
	{method: "GET", path: "frob/bookmarks"},
	{method: "GET", path: "/__debug__"},
	{method: "GET", path: "/2.0/alice/info/collections"},
	{method: "PATCH", path: "storage/bookmarks"},
	{method: "POST", path: "storage/bookmarks/x", body: "{}"},
	{method: "GET", path: "info/collections", noAuth: true},
	{method: "GET", path: "info/collections", hdr: []string{"Authorization", "Basic YWxpY2U6bm9wZQ=="}},
	{method: "GET", path: "info/collections", hdr: []string{"Authorization", "Basic !!!notbase64"}},
	{method: "GET", path: "/{v}/bob/info/collections"},
	{method: "GET", path: "/{v}/ALICE/info/collections"},
	{method: "DELETE", path: "storage"},
	{method: "DELETE", path: "storage", hdr: []string{"X-Confirm-Delete", "1"}},
	{method: "GET", path: "info/collections"},
	{method: "GET", path: "storage/bookmarks"},
	// Ids with '/' (base64): stored from a batch, listed, selected and
	// deleted by ids=, addressed by URL with the '/' as %2F.
	{method: "PUT", path: "storage/bookmarks/a%2Fb", body: `{"payload":"slash"}`},
	{method: "GET", path: "storage/bookmarks/a%2Fb"},
	{method: "GET", path: "storage/bookmarks?full=1"},
	{method: "DELETE", path: "storage/bookmarks/a%2Fb"},
	{method: "POST", path: "storage/b64", body: `[{"id":"ab/cd+e=","payload":"b64","sortindex":3},{"id":"x/y","payload":"xy","sortindex":2},{"id":"k","payload":"k","sortindex":1,"extra":[1,{"a":2}]}]`},
	{method: "GET", path: "storage/b64?sort=index"},
	{method: "GET", path: "storage/b64?ids=ab/cd%2Be%3D,x%2Fy&full=1&sort=index"},
	{method: "GET", path: "storage/b64/ab%2Fcd%2Be%3D"},
	{method: "DELETE", path: "storage/b64?ids=x/y"},
	{method: "DELETE", path: "storage/b64/ab%2Fcd%2Be%3D"},
	{method: "GET", path: "storage/b64?sort=index"},
	{method: "DELETE", path: "storage/b64/k"},
}

// TestEndpoints runs the transcript on both engines and both versions.
func TestEndpoints(t *testing.T) {
	for _, v := range versions {
		var first string
		for _, b := range storetest.Backends() {
			t.Run(b.Name+"/"+v, func(t *testing.T) {
				e := newEnv(t, b, v, nil)
				e.addUser("bob", "bob password")
				var out strings.Builder
				for _, s := range endpointSteps {
					e.clock.Advance(10 * time.Millisecond)
					path := strings.ReplaceAll(s.path, "{v}", v)
					if !strings.HasPrefix(path, "/") {
						path = "/" + v + "/alice/" + path
					}
					hdr := s.hdr
					if !s.noAuth && !hasHeader(hdr, "Authorization") {
						hdr = append([]string{"Authorization", e.auth}, hdr...)
					}
					transcribe(&out, s.method, path, e.raw(s.method, path, s.body, hdr...))
				}
				got := out.String()
				golden(t, fmt.Sprintf("endpoints-%s.golden", v), []byte(got))
				if first == "" {
					first = got
				} else if got != first {
					t.Errorf("%s transcript differs from the first backend's", b.Name)
				}
			})
		}
	}
}

func hasHeader(hdr []string, name string) bool {
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], name) {
			return true
		}
	}
	return false
}

// TestVersionOneIsPython: /1/ speaks the 1.1 dialect.
func TestVersionOneIsPython(t *testing.T) {
	e := newEnv(t, storetest.SQLite(), "1", nil)
	rec := e.do("GET", "info/collections", "")
	if e.ok(rec) != "{}" || rec.Header().Get("X-Weave-Timestamp") != "1795895500.00" {
		t.Errorf("got %q, timestamp %q", rec.Body.String(), rec.Header().Get("X-Weave-Timestamp"))
	}
}

package syncapi

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"weaveproxy/native/auth"
	"weaveproxy/native/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// step is one request of the golden transcript. path is relative to
// /<version>/alice/ unless it starts with '/'.
type step struct {
	method, path, body string
	hdr                []string // name, value pairs; "Authorization" "" removes credentials
}

// goldenHeaders are the response headers the transcript records.
var goldenHeaders = []string{"Allow", "Content-Type", "Retry-After", "WWW-Authenticate", "X-Weave-Alert",
	"X-Weave-Backoff", "X-Weave-Quota-Remaining", "X-Weave-Records", "X-Weave-Timestamp"}

var (
	unicodePayload = "ünïcödé ✓ 漢字 😀 \"quoted\" \\ back\nnewline / slash \x01 \x7f"
	historyBatch   = `[{"id":"h0","payload":"visit 0","sortindex":0},{"id":"h1","payload":"visit 1","sortindex":1},` +
		`{"id":"a/b","payload":"x"},{"payload":"no id"},"notanobject",{"id":"si","payload":"x","sortindex":"bad"},` +
		`{"id":"é","payload":"😀","sortindex":2},{"id":"big","sortindex":1000000000},{"id":"t","ttl":-1}]`
)

// transcript is every endpoint with its usual answers and its errors.
var transcript = []step{
	{method: "GET", path: "info/collections"},
	{method: "GET", path: "info/collection_counts"},
	{method: "GET", path: "info/quota"},
	{method: "GET", path: "info/collection_usage"},
	{method: "GET", path: "storage/bookmarks"},
	{method: "GET", path: "storage/bookmarks/nope"},
	{method: "PUT", path: "storage/bookmarks/item1", body: `{"id":"other","payload":"hello","sortindex":5}`},
	{method: "PUT", path: "storage/bookmarks/item3", body: `{"payload":"p3","sortindex":-7,"parentid":"item1","predecessorid":"item2"}`},
	{method: "PUT", path: "storage/bookmarks/uni1", body: `{"sortindex":2,"payload":` + jsonString(unicodePayload) + `}`},
	{method: "PUT", path: "storage/bookmarks/item1", body: `{"sortindex":99}`},
	{method: "PUT", path: "storage/bookmarks/meta1", body: `{"sortindex":1}`},
	{method: "PUT", path: "storage/bookmarks/%C3%BC%F0%9F%98%80", body: `{"payload":"escaped id","sortindex":3}`},
	{method: "POST", path: "storage/history", body: historyBatch},
	{method: "POST", path: "storage/history", body: `{"id":"x","payload":"single","sortindex":3}`},
	{method: "POST", path: "storage/history", body: `[]`},
	{method: "GET", path: "storage/history?full=1&sort=index"},
	{method: "GET", path: "storage/history?sort=index", hdr: []string{"Accept", "application/newlines"}},
	{method: "GET", path: "storage/history?full=1&sort=index", hdr: []string{"Accept", "application/newlines"}},
	{method: "GET", path: "storage/history?sort=index", hdr: []string{"Accept", "application/whoisi"}},
	{method: "GET", path: "storage/history?full=1&sort=index&limit=2", hdr: []string{"Accept", "application/whoisi"}},
	{method: "GET", path: "storage/history?sort=index&limit=-1&offset=1", hdr: []string{"Accept", "application/newlines;q=0.5, application/json;q=0.9"}},
	{method: "GET", path: "storage/history?ids=", hdr: []string{"Accept", "*/*"}},
	{method: "GET", path: "storage/bookmarks/uni1"},
	{method: "GET", path: "storage/bookmarks/item1"},
	{method: "GET", path: "storage/bookmarks/meta1"},
	{method: "GET", path: "storage/bookmarks?sort=index"},
	{method: "GET", path: "info/collections"},
	{method: "GET", path: "info/collection_counts"},
	{method: "GET", path: "info/quota"},
	{method: "GET", path: "info/collection_usage"},
	{method: "PUT", path: "storage/bookmarks/item1", body: `{"payload":"new"}`, hdr: []string{"X-If-Unmodified-Since", "1000.00"}},
	{method: "PUT", path: "storage/bookmarks/item1", body: `{"payload":"new"}`, hdr: []string{"X-If-Unmodified-Since", "soon"}},
	{method: "PUT", path: "storage/bookmarks/item4", body: `{"payload":"p4","sortindex":4}`, hdr: []string{"X-If-Unmodified-Since", "9999999999.99"}},
	{method: "POST", path: "storage/history", body: `[{"id":"late","payload":"x"}]`, hdr: []string{"X-If-Unmodified-Since", "1000"}},
	{method: "DELETE", path: "storage/bookmarks", hdr: []string{"X-If-Unmodified-Since", "1000"}},
	{method: "DELETE", path: "storage/history?ids=h1,nothere"},
	{method: "DELETE", path: "storage/bookmarks/item3"},
	{method: "DELETE", path: "storage/bookmarks/never"},
	{method: "GET", path: "storage/history?newer=abc"},
	{method: "GET", path: "storage/history?limit=abc"},
	{method: "PUT", path: "storage/bookmarks/bad", body: `{oops`},
	{method: "PUT", path: "storage/bookmarks/bad", body: "{\"payload\":\"\xff\"}"},
	{method: "PUT", path: "storage/bookmarks/bad", body: `[1, 2]`},
	{method: "PUT", path: "storage/bookmarks/" + strings.Repeat("x", 65), body: `{"payload":"x"}`},
	{method: "PUT", path: "storage/bookmarks/bad", body: `{"payload":"x","sortindex":"abc"}`},
	{method: "PUT", path: "storage/bookmarks/bad", body: `{"payload":"x","ttl":31536001}`},
	{method: "PUT", path: "storage/bookmarks/bad", body: `{"payload":{"a":1}}`},
	{method: "PUT", path: "storage/" + strings.Repeat("c", 70) + "/x", body: `{"payload":"x"}`},
	{method: "POST", path: "storage/history", body: `{"payload":"no id"}`},
	{method: "POST", path: "storage/history", body: `[{`},
	{method: "HEAD", path: "info/collections"},
	{method: "GET", path: "storage"},
	{method: "PUT", path: "storage", body: `[]`},
	{method: "POST", path: "info/collections", body: `[]`},
	{method: "GET", path: "info/frob"},
	{method: "GET", path: "frob/bookmarks"},
	{method: "POST", path: "storage/bookmarks/item1", body: `{}`},
	{method: "GET", path: "storage/bookmarks/?sort=index"},
	{method: "GET", path: "storage/bookmarks/item1/"},
	{method: "PUT", path: "storage/bookmarks/a%2Fb", body: `{"payload":"slash"}`},
	{method: "GET", path: "storage/bad%20name"},
	{method: "GET", path: "/{v}/alice//storage/bookmarks"},
	{method: "GET", path: "/{v}//info/collections"},
	{method: "GET", path: "/{v}/alice/storage/bookmarks/a/b"},
	{method: "GET", path: "info/collections", hdr: []string{"Authorization", ""}},
	{method: "GET", path: "info/collections", hdr: []string{"Authorization", "Basic !!!notbase64"}},
	{method: "GET", path: "info/collections", hdr: []string{"Authorization", basic("alice", "nope")}},
	{method: "GET", path: "/{v}/bob/info/collections"},
	{method: "GET", path: "/{v}/ALICE/info/collections"},
	{method: "GET", path: "/{v}/alerted/info/collections", hdr: []string{"Authorization", basic("alerted", testPassword)}},
	{method: "DELETE", path: "storage"},
	{method: "DELETE", path: "storage", hdr: []string{"X-Confirm-Delete", "1"}},
	{method: "GET", path: "info/collections"},
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestGolden runs the transcript on a frozen clock, on each engine and
// version, and compares the answers (status, the Weave headers, body)
// with testdata/transcript-<version>.golden: the wire of both dialects,
// for every endpoint, format and error. Both engines must give the same.
func TestGolden(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			var first string
			forEachEngine(t, func(t *testing.T, kind string) {
				got := runTranscript(t, openEngine(t, kind), v)
				if first == "" {
					first = got
					checkGolden(t, filepath.Join("testdata", "transcript-"+v+".golden"), got)
				} else if got != first {
					t.Errorf("%s answers differ from the first engine's:\n%s", kind, firstDiff(first, got))
				}
			})
		})
	}
}

func runTranscript(t *testing.T, eng store.Engine, v string) string {
	e := newEnv(t, eng, Config{})
	e.v = v
	e.createUser("bob", "bob's password")
	id, err := eng.CreateUser(t.Context(), store.User{Username: "alerted",
		MD5: auth.HashPassword(testPassword), Status: 1, Alert: "Service moving,\r\nsee https://example.com/"})
	if err != nil || id == 0 {
		t.Fatal(err)
	}
	e.clock.freeze(time.Unix(1795895500, 0))
	var b strings.Builder
	for _, s := range transcript {
		target := e.path(s.path)
		if strings.HasPrefix(s.path, "/") {
			target = strings.ReplaceAll(s.path, "{v}", v)
		}
		r := e.do(s.method, target, s.body, s.hdr...)
		fmt.Fprintf(&b, "%s %s", s.method, target)
		for i := 0; i+1 < len(s.hdr); i += 2 {
			fmt.Fprintf(&b, " [%s: %s]", s.hdr[i], s.hdr[i+1])
		}
		fmt.Fprintf(&b, "\n  %d\n", r.status)
		for _, h := range goldenHeaders {
			if vals, ok := r.hdr[http.CanonicalHeaderKey(h)]; ok {
				fmt.Fprintf(&b, "  %s: %s\n", h, strings.Join(vals, ", "))
			}
		}
		fmt.Fprintf(&b, "  body %s\n\n", printable(r.body))
	}
	return b.String()
}

// printable shows a body as is when it is one line of UTF-8 text, quoted
// otherwise (newlines and whoisi framing stay visible).
func printable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "|" + s + "|"
	}
	return strconv.Quote(s)
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update after checking):\n%s", path, firstDiff(string(want), got))
	}
}

// firstDiff shows the first differing line of two transcripts.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range min(len(w), len(g)) {
		if w[i] != g[i] {
			lo := max(i-3, 0)
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q\ncontext:\n%s", i+1, w[i], g[i],
				strings.Join(slices.Clone(w[lo:i]), "\n"))
		}
	}
	return fmt.Sprintf("lengths differ: %d lines, want %d", len(g), len(w))
}

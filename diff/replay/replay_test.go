package replay

import (
	"context"
	"github.com/weaveproxy/weaveproxy/internal/testfiles"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff"
)

func recordingsPath() string { return testfiles.Recordings() }

func TestLoadRecordings(t *testing.T) {
	es, err := Load(recordingsPath())
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 137 {
		t.Fatalf("%d entries, want 137", len(es))
	}
	for i, e := range es {
		if e.Seq != i+1 {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
	}
	put := es[34] // seq 35, put.basic
	if put.Scenario != "put.basic" || put.Request.Method != "PUT" ||
		string(put.Request.Body) != `{"id": "item1", "payload": "hello", "sortindex": 5}` ||
		put.RequestHeaders[0][0] != "Host" || put.Request.Header.Get("Authorization") == "" {
		t.Errorf("seq 35: %+v", put)
	}
	if ct := put.Response.Header["Content-type"]; len(ct) != 1 || ct[0] != "application/json" {
		t.Errorf("response header names keep their spelling: %v", put.Response.Header)
	}
	whoisi := es[95] // seq 96
	if !strings.HasPrefix(string(whoisi.Response.Body), "\x00\x00\x00F{") {
		t.Errorf("seq 96 whoisi body: %q", whoisi.Response.Body[:8])
	}
	if es[122].Request.Path != "/1.0/daliceq4b296//storage/bookmarks" || es[123].Request.Path != "/1.0/daliceq4b296/storage/bookmarks/a%2Fb" {
		t.Errorf("raw paths: %q %q", es[122].Request.Path, es[123].Request.Path)
	}
	if es[0].At.Unix() != 1795895500 {
		t.Errorf("at: %v", es[0].At)
	}
}

func TestParse(t *testing.T) {
	good := `{"seq": 2, "scenario": "b", "request": {"method": "GET", "path": "/x", "headers": [], "body": ""}, "response": {"status": 200, "headers": [["A","1"],["a","2"]], "body_b64": "AAEC/w=="}, "elapsed_ms": 1, "at": 1.5}
{"seq": 1, "scenario": "a", "request": {"method": "GET", "path": "/y", "headers": [], "body": ""}, "response": {"status": 204, "headers": [], "body": ""}, "elapsed_ms": 1, "at": 1}
`
	es, err := Parse(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if es[0].Seq != 1 || es[1].Seq != 2 || string(es[1].Response.Body) != "\x00\x01\x02\xff" || len(es[1].Response.Header) != 2 {
		t.Errorf("parsed %+v", es)
	}
	bad := map[string]string{
		`{"seq": 1, "request": {"method": "GET", "path": "/x"}, "response": {"status": 200, "body": "a", "body_b64": "YQ=="}}`: "both body and body_b64",
		`{"seq": 1, "request": {"method": "GET", "path": "/x"}, "response": {"status": 200, "body_b64": "!!"}}`:                "illegal base64",
		`{"seq": 1, "request": {"method": "GET", "path": "x"}, "response": {"status": 200}}`:                                   "path starting with /",
		`{"seq": 1, "request": {"method": "GET", "path": "/x"}, "response": {"status": 200}, "extra": 1}`:                      "unknown field",
		"\n\n{not json": "line 3",
		`{"seq": 1, "request": {"method": "GET", "path": "/x"}, "response": {"status": 200}}` + "\n" +
			`{"seq": 1, "request": {"method": "GET", "path": "/x"}, "response": {"status": 200}}`: "seq 1 already on line 1",
	}
	for in, want := range bad {
		if _, err := Parse(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q", in, err, want)
		}
	}
}

// received is what the test server saw of one request.
type received struct {
	requestURI, host, method string
	header                   http.Header
	body                     string
}

// TestRunSendsAsRecorded replays the recordings at a real HTTP server that
// notes what arrives: every request must reach it in seq order, with its
// raw target, headers and body as recorded and only the host changed.
func TestRunSendsAsRecorded(t *testing.T) {
	es, err := Load(recordingsPath())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.RequestURI, r.Host, r.Method, r.Header.Clone(), string(b)})
		n := len(got)
		mu.Unlock()
		w.Header().Set("X-Arrival", strconv.Itoa(n))
		w.WriteHeader(299)
		io.WriteString(w, "answer "+strconv.Itoa(n))
	}))
	defer srv.Close()
	shuffled := append([]Entry(nil), es[70:]...)
	shuffled = append(shuffled, es[:70]...)
	var pairs []diff.Pair
	if err := Run(context.Background(), shuffled, srv.URL, srv.Client(), func(p diff.Pair) { pairs = append(pairs, p) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(es) || len(pairs) != len(es) {
		t.Fatalf("%d requests, %d pairs, want %d", len(got), len(pairs), len(es))
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	for i, e := range es {
		g := got[i]
		if g.requestURI != e.Request.Path || g.method != e.Request.Method || g.body != string(e.Request.Body) || g.host != host {
			t.Errorf("seq %d: got %s %s host %s body %q", e.Seq, g.method, g.requestURI, g.host, g.body)
		}
		for _, kv := range e.RequestHeaders {
			if notSent[strings.ToLower(kv[0])] {
				continue
			}
			if v := g.header.Values(kv[0]); len(v) == 0 || v[0] != kv[1] {
				t.Errorf("seq %d: header %s = %q, recorded %q", e.Seq, kv[0], v, kv[1])
			}
		}
		if ua := g.header.Get("User-Agent"); ua != "" {
			t.Errorf("seq %d: a User-Agent the recording did not have: %q", e.Seq, ua)
		}
		p := pairs[i]
		want := "answer " + strconv.Itoa(i+1)
		if e.Request.Method == "HEAD" {
			want = ""
		}
		if p.Native.Status != 299 || string(p.Native.Body) != want ||
			p.Legacy.Status != e.Response.Status || p.Request.Path != e.Request.Path || p.Route == "" {
			t.Errorf("seq %d: pair %+v", e.Seq, p)
		}
	}
	if pairs[34].Route != "PUT /{version}/{user}/storage/{collection}/{id}" {
		t.Errorf("route of seq 35: %q", pairs[34].Route)
	}
}

func TestRunErrors(t *testing.T) {
	es := []Entry{{Seq: 1, Request: diff.Exchange{Method: "GET", Path: "/x"}}}
	for _, base := range []string{"ftp://x", "http://", "http://h/prefix", "::"} {
		if err := Run(context.Background(), es, base, nil, func(diff.Pair) {}); err == nil {
			t.Errorf("base %q accepted", base)
		}
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := Run(context.Background(), es, url, nil, func(diff.Pair) { t.Error("no answer, no pair") })
	if err == nil || !strings.Contains(err.Error(), "seq 1") {
		t.Errorf("a dead server: %v", err)
	}
}

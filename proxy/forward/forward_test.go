package forward

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

func upstreamCfg(url string) routes.Upstream {
	t, err := routes.Parse([]byte("legacy:\n  url: "+url+"\n"), "t")
	if err != nil {
		panic(err)
	}
	return t.Legacy
}

// proxyServer runs an Upstream behind a real HTTP server, as in production.
func proxyServer(t *testing.T, cfg routes.Upstream, done func(Result)) (*httptest.Server, *Upstream) {
	t.Helper()
	u := New(cfg, Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { u.Forward(w, r, done) }))
	t.Cleanup(func() { srv.Close(); u.Close() })
	return srv, u
}

// rawLegacy is an upstream speaking HTTP/1.1 by hand, so the test controls
// every byte legacy sends (PHP spells "Content-type") and sees every byte
// the proxy sends.
type rawLegacy struct {
	ln       net.Listener
	requests chan []byte
	response string
}

func newRawLegacy(t *testing.T, response string) *rawLegacy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &rawLegacy{ln: ln, requests: make(chan []byte, 10), response: response}
	t.Cleanup(func() { ln.Close() })
	go l.serve()
	return l
}

func (l *rawLegacy) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				var raw bytes.Buffer
				req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(br, &raw)))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				l.requests <- raw.Bytes()
				io.WriteString(c, l.response)
			}
		}()
	}
}

func headerLines(t *testing.T, raw []byte) (first string, lines []string, body []byte) {
	t.Helper()
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no end of headers in %q", raw)
	}
	all := strings.Split(string(head), "\r\n")
	lines = all[1:]
	sort.Strings(lines)
	return all[0], lines, body
}

func TestForwardByteExact(t *testing.T) {
	legacy := newRawLegacy(t, "HTTP/1.1 412 Precondition Failed\r\n"+
		"Content-type: application/json\r\n"+
		"X-Weave-Timestamp: 1795895500.7\r\n"+
		"X-Multi: a\r\nX-Multi: b\r\n"+
		"Connection: keep-alive, X-Hop-Resp\r\n"+
		"X-Hop-Resp: secret\r\n"+
		"Keep-Alive: timeout=5\r\n"+
		"Content-Length: 1\r\n\r\n4")
	srv, _ := proxyServer(t, upstreamCfg("http://"+legacy.ln.Addr().String()), nil)

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"id":"a/b","payload":"x"}`
	fmt.Fprintf(c, "PUT /1.0/Alice/storage/bookmarks/a%%2Fb?full=1&ids=a;b&x=%%41&&y HTTP/1.1\r\n"+
		"Host: sync.example.com\r\n"+
		"Authorization: Basic YWxpY2U6cHc=\r\n"+
		"X-If-Unmodified-Since: 1795895500.70\r\n"+
		"X-Forwarded-For: 10.0.0.1\r\n"+
		"X-Forwarded-Proto: https\r\n"+
		"Content-Type: application/json; charset=UTF-8\r\n"+
		"Connection: keep-alive, X-Hop-Req\r\n"+
		"X-Hop-Req: secret\r\n"+
		"Proxy-Connection: keep-alive\r\n"+
		"Upgrade: h2c\r\n"+
		"Content-Length: %d\r\n\r\n%s", len(body), body)

	var got []byte
	select {
	case got = <-legacy.requests:
	case <-time.After(10 * time.Second):
		t.Fatal("legacy never got the request")
	}
	first, lines, gotBody := headerLines(t, got)
	if first != "PUT /1.0/Alice/storage/bookmarks/a%2Fb?full=1&ids=a;b&x=%41&&y HTTP/1.1" {
		t.Errorf("request line changed: %q", first)
	}
	wantLines := []string{
		"Authorization: Basic YWxpY2U6cHc=",
		fmt.Sprintf("Content-Length: %d", len(body)),
		"Content-Type: application/json; charset=UTF-8",
		"Host: sync.example.com",
		"X-Forwarded-For: 10.0.0.1, 127.0.0.1",
		"X-Forwarded-Proto: https",
		"X-If-Unmodified-Since: 1795895500.70",
	}
	if d := cmp.Diff(wantLines, lines); d != "" {
		t.Errorf("headers legacy got (-want +got):\n%s", d)
	}
	if string(gotBody) != body {
		t.Errorf("body %q", gotBody)
	}

	res, err := http.ReadResponse(bufio.NewReader(io.TeeReader(c, io.Discard)), nil)
	if err != nil {
		t.Fatal(err)
	}
	resBody, _ := io.ReadAll(res.Body)
	if res.Status != "412 Precondition Failed" || string(resBody) != "4" {
		t.Errorf("status %q body %q", res.Status, resBody)
	}
	wantRes := http.Header{
		"Content-Type":      {"application/json"}, // legacy's "Content-type", canonical on the wire
		"X-Weave-Timestamp": {"1795895500.7"},
		"X-Multi":           {"a", "b"},
		"Content-Length":    {"1"},
	}
	if d := cmp.Diff(wantRes, res.Header); d != "" {
		t.Errorf("client headers (-want +got): no Date, no hop-by-hop, nothing added:\n%s", d)
	}
}

func TestForwardStatusesAndBodies(t *testing.T) {
	cases := []struct {
		status int
		header http.Header
		body   string
	}{
		{200, http.Header{"Content-Type": {"application/json"}, "X-Weave-Records": {"2"}}, `["a","b"]`},
		{401, http.Header{"Www-Authenticate": {`Basic realm="Weave"`}, "Content-Type": {"application/json"}}, "5"},
		{404, http.Header{"Content-Type": {"application/json"}}, `"record not found"`},
		{400, http.Header{"Content-Type": {"text/html; charset=UTF-8"}}, "9"},
		{400, http.Header{}, ""},
		{200, http.Header{}, "success\t"}, // no Content-Type: the proxy must not sniff one
		{204, http.Header{"X-Weave-Timestamp": {"1795895500"}}, ""},
		{503, http.Header{"X-Weave-Backoff": {"1800"}, "Content-Type": {"application/json"}}, `"Database unavailable"`},
	}
	for _, c := range cases {
		legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range c.header {
				w.Header()[k] = v
			}
			w.Header()["Date"] = nil
			if _, ok := c.header["Content-Type"]; !ok {
				w.Header()["Content-Type"] = nil
			}
			w.WriteHeader(c.status)
			io.WriteString(w, c.body)
		}))
		srv, _ := proxyServer(t, upstreamCfg(legacy.URL), nil)
		res, err := http.Get(srv.URL + "/1.0/alice/storage/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		res.Header.Del("Content-Length")
		want := c.header.Clone()
		if res.StatusCode != c.status || string(body) != c.body || !cmp.Equal(want, res.Header) {
			t.Errorf("legacy %d %v %q → client %d %v %q", c.status, c.header, c.body, res.StatusCode, res.Header, body)
		}
		legacy.Close()
	}
}

// pattern is an endless deterministic byte stream, so large bodies cost no
// memory in the test itself.
type pattern struct{ n, limit int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.n >= p.limit {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.limit-p.n)]
	for i := range b {
		b[i] = byte((p.n + int64(i)) % 251)
	}
	p.n += int64(len(b))
	return len(b), nil
}

func sum(r io.Reader) (int64, [32]byte) {
	h := sha256.New()
	n, _ := io.Copy(h, r)
	return n, [32]byte(h.Sum(nil))
}

func TestForwardStreamsBothWays(t *testing.T) {
	gotFirst := make(chan struct{})
	sentFirst := make(chan struct{})
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Legacy sees the start of the body while the client is still
		// holding the rest back: the proxy does not buffer requests.
		if _, err := io.ReadFull(r.Body, make([]byte, 1<<20)); err != nil {
			t.Error(err)
			return
		}
		close(gotFirst)
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Received", fmt.Sprint(n+1<<20))
		w.WriteHeader(200)
		w.Write(bytes.Repeat([]byte("x"), 64<<10))
		w.(http.Flusher).Flush()
		// The client reads this first part while legacy waits: the proxy
		// does not buffer responses either.
		<-sentFirst
		io.WriteString(w, "end")
	}))
	defer legacy.Close()
	srv, _ := proxyServer(t, upstreamCfg(legacy.URL), nil)

	pr, pw := io.Pipe()
	go func() {
		pw.Write(bytes.Repeat([]byte("y"), 1<<20))
		select {
		case <-gotFirst:
		case <-time.After(10 * time.Second):
			pw.CloseWithError(errors.New("legacy never saw the first MiB: request buffered"))
			return
		}
		pw.Write(bytes.Repeat([]byte("z"), 1<<20))
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", srv.URL+"/1.0/alice/storage/history", pr)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.ReadFull(res.Body, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	close(sentFirst)
	rest, _ := io.ReadAll(res.Body)
	if string(rest) != "end" || res.Header.Get("X-Received") != fmt.Sprint(2<<20) {
		t.Errorf("rest %q, legacy received %s bytes", rest, res.Header.Get("X-Received"))
	}
}

func TestForwardLargeBodiesInLittleMemory(t *testing.T) {
	const size = 10 << 20
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, s := sum(r.Body)
		w.Header().Set("X-Sum", fmt.Sprintf("%d-%x", n, s[:8]))
		io.Copy(w, &pattern{limit: size})
	}))
	defer legacy.Close()
	srv, _ := proxyServer(t, upstreamCfg(legacy.URL), nil)
	wantN, wantSum := sum(&pattern{limit: size})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := http.Post(srv.URL+"/1.0/alice/storage/history", "application/octet-stream", &pattern{limit: size})
	if err != nil {
		t.Fatal(err)
	}
	n, s := sum(res.Body)
	res.Body.Close()
	runtime.ReadMemStats(&after)
	if n != wantN || s != wantSum || res.Header.Get("X-Sum") != fmt.Sprintf("%d-%x", wantN, wantSum[:8]) {
		t.Fatalf("bodies corrupted: got %d bytes, legacy saw %s", n, res.Header.Get("X-Sum"))
	}
	// Client, proxy and legacy all run in this process; 2×10 MiB went
	// through. Buffering either body would allocate at least 10 MiB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6<<20 {
		t.Errorf("allocated %d MiB for 2×10 MiB of bodies", alloc>>20)
	}
}

func TestDoneRunsBeforeTheClientHasTheBody(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !chunked {
				w.Header().Set("Content-Length", fmt.Sprint(256<<10))
			}
			io.Copy(w, &pattern{limit: 256 << 10})
		}))
		var clientDone, clientDoneAtDone atomic.Bool
		var results []Result
		srv, _ := proxyServer(t, upstreamCfg(legacy.URL), func(r Result) {
			time.Sleep(50 * time.Millisecond) // room for a client that was not held back
			clientDoneAtDone.Store(clientDone.Load())
			results = append(results, r)
		})
		res, err := http.Post(srv.URL+"/1.0/a/storage/x", "text/plain", strings.NewReader("w"))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		clientDone.Store(true)
		res.Body.Close()
		if clientDoneAtDone.Load() || len(results) != 1 || n != 256<<10 {
			t.Fatalf("chunked=%v: client had the body before done ran (%v), results %+v", chunked, clientDoneAtDone.Load(), results)
		}
		if r := results[0]; r.Status != 200 || r.Err != nil || !r.Reached || r.Synthetic {
			t.Errorf("result %+v", r)
		}
		legacy.Close()
	}
}

func TestPing(t *testing.T) {
	var status atomic.Int32
	status.Store(404)
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" {
			t.Errorf("probe path %q", r.URL.Path)
		}
		w.WriteHeader(int(status.Load()))
	}))
	cfg := upstreamCfg(legacy.URL)
	cfg.ReadyPath = "/ready"
	u := New(cfg, Options{})
	if err := u.Ping(t.Context()); err != nil {
		t.Errorf("a 404 still means legacy answers: %v", err)
	}
	status.Store(500)
	if err := u.Ping(t.Context()); err == nil {
		t.Error("500 reported ready")
	}
	legacy.Close()
	if err := u.Ping(t.Context()); err == nil {
		t.Error("dead legacy reported ready")
	}
}

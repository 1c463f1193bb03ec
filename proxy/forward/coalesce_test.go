package forward

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the writes the proxy makes on its client
// connections: each is a system call and, on loopback, a TCP segment.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	return &countingConn{Conn: c, n: &l.writes}, err
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// nginxLike answers the way nginx in front of php-fpm does: chunked, the
// body in 4 KB pieces that each leave in their own write, with a trailer
// when asked (nginx never sends one; HTTP allows it).
func nginxLike(t *testing.T, body string, trailer bool) string {
	t.Helper()
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if trailer {
			w.Header().Set("Trailer", "X-Weave-Check")
		}
		w.WriteHeader(200)
		for rest := body; rest != ""; {
			n := min(4096, len(rest))
			io.WriteString(w, rest[:n])
			w.(http.Flusher).Flush()
			rest = rest[n:]
		}
		if trailer {
			w.Header().Set("X-Weave-Check", "ok")
		}
	}))
	t.Cleanup(legacy.Close)
	return legacy.URL
}

// A chunked answer of 37 KB in 4 KB pieces reached the client in one
// write per piece (ReverseProxy flushes after each read of a body of
// unknown length); the proxy now gathers it into a few.
func TestForwardGathersChunkedBody(t *testing.T) {
	body := strings.Repeat(`{"id":"abcdefgh","payload":"xyz"},`, 1100) // ~37 KB
	u := New(upstreamCfg(nginxLike(t, body, false)), Options{})
	t.Cleanup(u.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv := &httptest.Server{Listener: cl, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.Forward(w, r, nil)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)

	// A raw client, so that the count holds only this answer's writes.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /1.0/alice/storage/history?full=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	if err != nil || string(got) != body {
		t.Fatalf("body of %d bytes (%v), want the %d legacy sent", len(got), err, len(body))
	}
	// Head and body, the connection's 4 KB buffer splitting the first
	// write: 2 writes; 6 here before gathering (11 behind a real nginx,
	// whose pieces arrive apart), 3 with the chunked framing's last chunk.
	if n := cl.writes.Load(); n > 2 {
		t.Errorf("the answer left the proxy in %d writes, want at most 2", n)
	}
	if res.ContentLength != int64(len(body)) || len(res.TransferEncoding) != 0 {
		t.Errorf("Content-Length %d, Transfer-Encoding %v: want the gathered answer's length, %d", res.ContentLength,
			res.TransferEncoding, len(body))
	}
}

// An answer legacy cuts off never reaches the client looking whole: what
// was gathered goes out without a length and the connection is cut, so the
// client sees the answer fail.
func TestForwardCutAnswerGetsNoLength(t *testing.T) {
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, strings.Repeat("x", 10<<10))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection closes mid-body
	}))
	t.Cleanup(legacy.Close)
	srv, _ := proxyServer(t, upstreamCfg(legacy.URL), nil)
	res, err := http.Get(srv.URL + "/1.0/alice/storage/history")
	if err != nil {
		return // cut before the header: the client sees a failure too
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err == nil || res.ContentLength >= 0 {
		t.Errorf("the cut answer arrived whole-looking: %d bytes, Content-Length %d, read error %v", len(got), res.ContentLength, err)
	}
}

// Trailers still arrive, and gathering never writes on the timer's
// goroutine while ReverseProxy sets them (run with -race): legacy takes
// longer than flushDelay between pieces.
func TestForwardGatheredBodyKeepsTrailersAndStreams(t *testing.T) {
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Weave-Check")
		w.WriteHeader(200)
		for i := range 3 {
			fmt.Fprintf(w, "piece %d;", i)
			w.(http.Flusher).Flush()
			time.Sleep(flushDelay * 3 / 2)
		}
		w.Header().Set("X-Weave-Check", "ok")
	}))
	defer legacy.Close()
	srv, _ := proxyServer(t, upstreamCfg(legacy.URL), nil)
	start := time.Now()
	res, err := http.Get(srv.URL + "/1.0/alice/storage/x")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	first := make([]byte, len("piece 0;"))
	if _, err := io.ReadFull(res.Body, first); err != nil || string(first) != "piece 0;" {
		t.Fatalf("first piece %q, %v", first, err)
	}
	// It came while legacy was still sending: the answer streams.
	if d := time.Since(start); d >= 3*flushDelay*3/2 {
		t.Errorf("first piece after %v: held until the end", d)
	}
	rest, _ := io.ReadAll(res.Body)
	if string(rest) != "piece 1;piece 2;" || res.Trailer.Get("X-Weave-Check") != "ok" {
		t.Errorf("rest %q, trailer %v", rest, res.Trailer)
	}
}

// Forwarding an answer allocates little: the copy and gathering buffers
// are pooled (ReverseProxy alone took a fresh 32 KB per answer, two
// thirds of the proxy's allocations under load).
func TestForwardAllocatesLittlePerAnswer(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool keeps nothing reliably under the race detector")
	}
	body := strings.Repeat("x", 37<<10)
	srv, _ := proxyServer(t, upstreamCfg(nginxLike(t, body, false)), nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	get := func() {
		res, err := client.Get(srv.URL + "/1.0/alice/storage/history")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if n != int64(len(body)) {
			t.Fatalf("%d bytes", n)
		}
	}
	for range 20 {
		get() // connections and pools warm
	}
	const n = 200
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		get()
	}
	runtime.ReadMemStats(&after)
	// Client, legacy and proxy together, in this one process.
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 24<<10 {
		t.Errorf("%d bytes allocated per forwarded answer, want under 24 KB", per)
	}
}

package forward

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"
)

// heldConn is the proxy's connection to legacy. Once the bytes written
// on it end with hold, the Write that completed them (already on the wire)
// returns only when release is closed: the transport's write side is
// parked between sending the request body and its last look at it.
type heldConn struct {
	net.Conn
	hold    []byte
	release <-chan struct{}

	mu     sync.Mutex
	tail   []byte
	held   bool
	closed chan struct{}
	once   sync.Once
}

func (c *heldConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.tail = append(c.tail, p[:n]...)
	if len(c.tail) > len(c.hold) {
		c.tail = c.tail[len(c.tail)-len(c.hold):]
	}
	wait := !c.held && bytes.Equal(c.tail, c.hold)
	c.held = c.held || wait
	c.mu.Unlock()
	if wait {
		<-c.release
	}
	return n, err
}

func (c *heldConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// phpLikeLegacy answers one request the way php -S does: after reading the
// whole body, with "Connection: close", no Content-Length, the body ended
// by closing the socket. It sends first, waits for finish, then sends rest.
func phpLikeLegacy(t *testing.T, first, rest string, finish <-chan struct{}) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-type: application/json\r\n\r\n"+first)
		<-finish
		io.WriteString(c, rest)
	}()
	return "http://" + ln.Addr().String()
}

// await guards against a hang only; it is no timing goal.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("still waiting for %s", what)
		panic("unreachable")
	}
}

// A PUT forwarded while its answer streams back: net/http's server, at the
// answer's first write, drains and closes the request body the transport
// is still reading (its check for bytes past Content-Length). That read
// failing made the transport close the legacy connection under the answer
// (about 5 in 1,500 PUTs against php -S); the client got a cut body.
func TestAnswerOutlivesTheRequestBody(t *testing.T) {
	const body, first, rest = `{"payload": "held body"}`, `1795895500`, `.65`
	release, finish := make(chan struct{}), make(chan struct{})
	url := phpLikeLegacy(t, first, rest, finish)

	u := New(upstreamCfg(url), Options{})
	var conns = make(chan *heldConn, 1)
	dial := u.transport.DialContext
	u.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		hc := &heldConn{Conn: c, hold: []byte(body), release: release, closed: make(chan struct{})}
		conns <- hc
		return hc, nil
	}
	wrote := make(chan error, 1)
	results := make(chan Result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
			WroteRequest: func(i httptrace.WroteRequestInfo) { wrote <- i.Err }})
		u.Forward(w, r.WithContext(ctx), func(res Result) { results <- res })
	}))
	t.Cleanup(func() { srv.Close(); u.Close() })

	req, err := http.NewRequest(http.MethodPut, srv.URL+"/1.0/u/storage/bookmarks/a", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got := make([]byte, len(first))
	if _, err := io.ReadFull(res.Body, got); err != nil || string(got) != first {
		t.Fatalf("start of the answer: %q, %v", got, err)
	}

	// The client holds the headers: the server has had its chance at the
	// request body. Now let the transport finish with it.
	close(release)
	conn := await(t, conns, "the legacy connection")
	if err := await(t, wrote, "the request write"); err != nil {
		t.Errorf("sending the request to legacy failed after legacy answered: %v", err)
		await(t, conn.closed, "the failed connection to close")
	}
	close(finish)

	tail, err := io.ReadAll(res.Body)
	if err != nil || first+string(tail) != first+rest {
		t.Errorf("answer %q + %q, %v; want %q + %q, no error", first, tail, err, first, rest)
	}
	if r := await(t, results, "done"); r.Err != nil || r.Status != http.StatusOK || !r.Reached {
		t.Errorf("done got %+v, want status 200, reached, no error", r)
	}
}

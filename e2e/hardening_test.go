package e2e

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// closedWithin reports whether the server closes conn (EOF or reset on
// read) before limit passes; whatever it answers first is read and
// dropped.
func closedWithin(t *testing.T, conn net.Conn, limit time.Duration) bool {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// TestConnectionsTimeOut (issue 10 item 3): a client that announces a
// gigabyte and sends a few bytes, and a keep-alive connection left idle,
// are both cut off by the server, on the Sync and the admin listener.
// Before --body-timeout and --idle-timeout both stayed open for good.
func TestConnectionsTimeOut(t *testing.T) {
	s := startServer(t, "--body-timeout", "1s", "--idle-timeout", "1s", "--header-timeout", "2s")
	for _, base := range []string{s.URL, s.Admin} {
		addr := strings.TrimPrefix(base, "http://")

		slow, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		io.WriteString(slow, "PUT /user/1.0/slowpoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
			"Content-Length: 1073741824\r\n\r\n{\"pass")
		if !closedWithin(t, slow, 20*time.Second) {
			t.Errorf("%s: a trickled body held its connection past the body deadline", base)
		}

		idle, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(idle)
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 ") {
			t.Fatalf("%s: first answer %q, %v", base, line, err)
		}
		if !closedWithin(t, idle, 20*time.Second) {
			t.Errorf("%s: an idle keep-alive connection stayed open past the idle timeout", base)
		}
	}
}

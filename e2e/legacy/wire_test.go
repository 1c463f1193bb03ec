package legacy_test

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// wire is one HTTP response as it crossed the wire: header names keep the
// server's spelling and order, which net/http would canonicalize away.
type wire struct {
	Status  int
	Headers [][2]string
	Body    []byte
}

func (w wire) header(name string) (string, bool) {
	for _, h := range w.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

// roundTrip sends one request over a fresh connection and reads the answer
// to EOF (php -S closes every connection). target is sent as is, so encoded
// slashes and double slashes reach the server untouched.
func roundTrip(t testing.TB, addr, method, target string, headers [][2]string, body []byte) wire {
	t.Helper()
	w, err := send(addr, method, target, headers, body)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func send(addr, method, target string, headers [][2]string, body []byte) (wire, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return wire{}, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, addr)
	for _, h := range headers {
		fmt.Fprintf(&req, "%s: %s\r\n", h[0], h[1])
	}
	if body != nil {
		fmt.Fprintf(&req, "Content-Length: %d\r\n", len(body))
	}
	req.WriteString("Connection: close\r\n\r\n")
	req.Write(body)
	if _, err := conn.Write(req.Bytes()); err != nil {
		return wire{}, fmt.Errorf("%s %s: write: %w", method, target, err)
	}
	w, err := readWire(bufio.NewReader(conn))
	if err != nil {
		return wire{}, fmt.Errorf("%s %s: %w", method, target, err)
	}
	return w, nil
}

func readWire(r *bufio.Reader) (wire, error) {
	var w wire
	line, err := r.ReadString('\n')
	if err != nil {
		return w, fmt.Errorf("status line: %w", err)
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return w, fmt.Errorf("status line %q", line)
	}
	if w.Status, err = strconv.Atoi(f[1]); err != nil {
		return w, fmt.Errorf("status line %q: %w", line, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return w, fmt.Errorf("headers: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return w, fmt.Errorf("header line %q", line)
		}
		w.Headers = append(w.Headers, [2]string{name, strings.TrimSpace(value)})
	}
	w.Body, err = io.ReadAll(r)
	return w, err
}

// client talks to one fixture as one user.
type client struct {
	t    testing.TB
	addr string
	auth string
}

func newClient(t testing.TB, php *testenv.PHP, user, password string) *client {
	return &client{t: t, addr: php.Addr, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
}

func (c *client) do(method, target string, body string, headers ...[2]string) wire {
	c.t.Helper()
	if c.auth != "" {
		headers = append(headers, [2]string{"Authorization", c.auth})
	}
	var b []byte
	if method == "PUT" || method == "POST" {
		b = []byte(body)
	}
	return roundTrip(c.t, c.addr, method, target, headers, b)
}

// mustDo is do that wants a given status.
func (c *client) mustDo(status int, method, target, body string, headers ...[2]string) wire {
	c.t.Helper()
	w := c.do(method, target, body, headers...)
	if w.Status != status {
		c.t.Fatalf("%s %s: status %d, want %d; body %q", method, target, w.Status, status, w.Body)
	}
	return w
}

// fixture is a fresh database with the legacy tables and a legacy server
// (the stand-in or the original) on it.
type fixture struct {
	php *testenv.PHP
	db  *sql.DB
	cfg legacy.DBConfig
}

func newDB(t testing.TB) (*sql.DB, legacy.DBConfig) {
	t.Helper()
	dsn := testenv.MariaDB(t)
	cfg, err := legacy.DBConfigFromDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// The tables come from the Go engine's Init, the path operators use,
	// so the fixture runs on exactly the schema the proxy shares with it.
	eng, err := sqlstore.Open(t.Context(), "mysql:"+dsn, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if err := eng.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	return eng.DB(), cfg
}

func startFixture(t testing.TB, start legacy.Starter, opts legacy.Options) *fixture {
	t.Helper()
	db, cfg := newDB(t)
	return &fixture{php: start(t, cfg, opts), db: db, cfg: cfg}
}

// createUser registers name through the User API, as a client would.
func (f *fixture) createUser(t testing.TB, name, password string) *client {
	t.Helper()
	anon := &client{t: t, addr: f.php.Addr}
	body := fmt.Sprintf(`{"password": %q, "email": "%s@example.com"}`, password, name)
	if w := anon.do("PUT", "/user/1.0/"+name, body); w.Status != 200 || string(w.Body) != `"`+name+`"` {
		t.Fatalf("create %s: %d %q", name, w.Status, w.Body)
	}
	return newClient(t, f.php, name, password)
}

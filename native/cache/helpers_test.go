package cache

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// counting passes every call to a real engine and counts the reads the
// cache is meant to spare it.
type counting struct {
	store.Engine
	calls atomic.Int64
}

// Sequenced passes through (the embedded interface hides it).
func (c *counting) Sequenced(ctx context.Context, u int64, at store.Timestamp, fn func(store.Timestamp, store.Engine) error) error {
	return c.Engine.(store.Sequencer).Sequenced(ctx, u, at, fn)
}

func (c *counting) CollectionTimestamps(ctx context.Context, u int64) (map[string]store.Timestamp, error) {
	c.calls.Add(1)
	return c.Engine.CollectionTimestamps(ctx, u)
}

func (c *counting) CollectionCounts(ctx context.Context, u int64, now store.Timestamp) (map[string]int64, error) {
	c.calls.Add(1)
	return c.Engine.CollectionCounts(ctx, u, now)
}

func (c *counting) CollectionUsage(ctx context.Context, u int64, now store.Timestamp) (map[string]int64, error) {
	c.calls.Add(1)
	return c.Engine.CollectionUsage(ctx, u, now)
}

func (c *counting) TotalSize(ctx context.Context, u int64, now store.Timestamp) (int64, error) {
	c.calls.Add(1)
	return c.Engine.TotalSize(ctx, u, now)
}

func (c *counting) CollectionMax(ctx context.Context, u int64, coll string) (store.Timestamp, bool, error) {
	c.calls.Add(1)
	return c.Engine.CollectionMax(ctx, u, coll)
}

func (c *counting) GetItems(ctx context.Context, u int64, coll string, q store.Query) ([]store.WBO, error) {
	c.calls.Add(1)
	return c.Engine.GetItems(ctx, u, coll, q)
}

func (c *counting) GetItem(ctx context.Context, u int64, coll, id string, now store.Timestamp) (store.WBO, error) {
	c.calls.Add(1)
	return c.Engine.GetItem(ctx, u, coll, id, now)
}

// errCount records what the engine reported through OnError.
type errCount struct {
	mu  sync.Mutex
	ops map[string]int
}

func (c *errCount) record(op string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops == nil {
		c.ops = map[string]int{}
	}
	c.ops[op]++
}

func (c *errCount) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.ops {
		n += v
	}
	return n
}

// fixture is one cache engine over one real inner engine and memcached.
type fixture struct {
	inner  *counting
	sql    *sqlstore.Engine
	cache  *Engine
	client *memcache.Client
	errs   *errCount
	user   int64
	name   string
}

// newFixture wraps inner (already open) with a cache on addr and creates a
// user. The cache engine is closed at cleanup, which closes inner.
func newFixture(t testing.TB, inner *sqlstore.Engine, addr string, cfg Config) *fixture {
	t.Helper()
	f := &fixture{inner: &counting{Engine: inner}, sql: inner, errs: &errCount{}, client: memcache.New(addr)}
	cfg.OnError = f.errs.record
	if cfg.Backoff == 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	// The production default (100ms) reads a slow answer as an outage.
	// On a loaded test machine memcached itself answers that slowly now
	// and then, and tests that assert no error saw one; tests about a
	// hung or cut memcached set their own short timeout.
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	f.cache = New(f.inner, f.client, cfg)
	t.Cleanup(func() { f.cache.Close() })
	f.name = fmt.Sprintf("user%d", time.Now().UnixNano())
	id, err := inner.CreateUser(context.Background(), store.User{Username: f.name, MD5: "x"})
	if err != nil {
		t.Fatal(err)
	}
	f.user = id
	waitUsable(t, f.cache)
	return f
}

// waitUsable waits until the engine has paid its start-up epoch bump (or
// any other debt) and uses memcache again.
func waitUsable(t testing.TB, e *Engine) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !e.mc.usable() {
		if time.Now().After(deadline) {
			t.Fatal("cache never became usable")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stats reads memcached's counters with the text protocol.
func stats(t testing.TB, addr string) map[string]int64 {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "stats\r\n")
	out := map[string]int64{}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		line = strings.TrimSpace(line)
		if line == "END" {
			return out
		}
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "STAT" {
			if v, err := strconv.ParseInt(f[2], 10, 64); err == nil {
				out[f[1]] = v
			}
		}
	}
}

// link is a TCP relay between the client and a real memcached that the
// test can cut (connections reset, as a network failure) or stall
// (connections accepted, nothing answered, as a hung server) while
// memcached itself keeps its data.
type link struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  string // "up", "cut", "stall"
	conns map[net.Conn]struct{}
}

func newLink(t testing.TB, target string) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: target, mode: "up", conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); l.set("cut") })
	go l.serve()
	return l
}

func (l *link) Addr() string { return l.ln.Addr().String() }

func (l *link) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		mode := l.mode
		if mode == "cut" {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		if mode == "up" {
			go l.relay(c)
		}
	}
}

func (l *link) relay(c net.Conn) {
	up, err := net.Dial("tcp", l.target)
	if err != nil {
		c.Close()
		return
	}
	l.mu.Lock()
	l.conns[up] = struct{}{}
	l.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// set changes the mode; every open connection is closed, so that the
// client's pooled connections feel the change.
func (l *link) set(mode string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mode = mode
	for c := range l.conns {
		c.Close()
		delete(l.conns, c)
	}
}

package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/noise"
	"github.com/weaveproxy/weaveproxy/diff/recorder"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// clock is a settable clock with deterministic ids.
type clock struct {
	*testenv.Clock
	mu  sync.Mutex
	ids int
}

func (c *clock) NewID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids++
	return fmt.Sprintf("%016x", c.ids)
}

var t0 = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)

// env is a store under test on one backend, with the raw database beside
// it for tests that look at what was written.
type env struct {
	st  *store.Store
	db  *sql.DB
	clk *clock
	rec *recorder.Recorder
}

// backends runs f once on SQLite and once on a real MariaDB.
func backends(t *testing.T, opt store.Options, f func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, open(t, "sqlite", "sqlite:"+filepath.Join(t.TempDir(), "diff.db"), opt))
	})
	t.Run("mysql", func(t *testing.T) {
		f(t, open(t, "mysql", "mysql:"+testenv.MariaDB(t), opt))
	})
}

func open(t *testing.T, name, dsn string, opt store.Options) *env {
	t.Helper()
	clk := &clock{Clock: testenv.NewClock(t0)}
	opt.Now, opt.NewID = clk.Now, clk.NewID
	if opt.Noise == (noise.Params{}) {
		opt.Noise = noise.Params{MinPairs: 4, MinNoiseSamples: 4, Ratio: 0.5, Absolute: 0.01}
	}
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, opt)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { st.Close() })
	driver, raw := "sqlite", strings.TrimPrefix(dsn, "sqlite:")
	if name == "mysql" {
		driver, raw = "mysql", strings.TrimPrefix(dsn, "mysql:")
	}
	db, err := sql.Open(driver, raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &env{st: st, db: db, clk: clk, rec: recorder.New(st, nil)}
}

const (
	infoPath   = "/1.0/alice/info/collections"
	infoRoute  = "GET /{version}/{user}/info/collections"
	quotaPath  = "/1.0/alice/info/quota"
	quotaRoute = "GET /{version}/{user}/info/quota"
)

func answer(status int, body string, kv ...string) diff.Answer {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return diff.Answer{Status: status, Header: h, Body: []byte(body)}
}

// pair builds a GET pair on route at the env's clock.
func (e *env) pair(route, target string, legacy, native diff.Answer) diff.Pair {
	return diff.Pair{Route: route, At: e.clk.Now(),
		Request: diff.Exchange{Method: "GET", Path: target, Header: http.Header{"Authorization": {"Basic xyz"}}},
		Legacy:  legacy, Native: native}
}

// observe records a pair and checks its class.
func (e *env) observe(t *testing.T, p diff.Pair, want diff.Class) {
	t.Helper()
	out, err := e.rec.Observe(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Class != want {
		t.Fatalf("%s %s: class %s, want %s (findings %+v)", p.Route, p.Request.Path, out.Class, want, out.Result.Findings)
	}
}

func (e *env) route(t *testing.T, route string) store.RouteSummary {
	t.Helper()
	rs, err := e.st.Route(context.Background(), route, store.Gate{MinPairs: 1, LastM: 3})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func (e *env) fields(t *testing.T, route string) map[string]store.FieldSummary {
	t.Helper()
	fs, err := e.st.Fields(context.Background(), route)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]store.FieldSummary{}
	for _, f := range fs {
		m[f.Field] = f
	}
	return m
}

// dump returns every value of every diff table, as text.
func (e *env) dump(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"diff_shapes", "diff_counts", "diff_noise", "diff_pairs",
		"diff_samples", "diff_sample_refs", "diff_waivers"} {
		rows, err := e.db.Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v\t", v)
			}
			b.WriteString("\n")
		}
		rows.Close()
	}
	return b.String()
}

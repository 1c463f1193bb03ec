package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backend is one of the two databases every conformance test runs on.
type backend struct {
	name string
	// dsn gives a fresh, empty database for the test.
	dsn func(t testing.TB) string
}

var backends = []backend{
	{"sqlite", func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "weave.db") }},
	{"mysql", func(t testing.TB) string { return "mysql:" + testenv.MariaDB(t) }},
}

// forEach runs fn once per backend, on a fresh initialised engine.
func forEach(t *testing.T, fn func(t *testing.T, e *Engine)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			fn(t, openEngine(t, b.dsn(t), Config{}))
		})
	}
}

// forEachDSN is forEach for tests that open engines themselves.
func forEachDSN(t *testing.T, fn func(t *testing.T, b backend, dsn string)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b, b.dsn(t)) })
	}
}

func openEngine(t testing.TB, dsn string, cfg Config) *Engine {
	t.Helper()
	ctx := context.Background()
	e, err := Open(ctx, dsn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.Init(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

func ptr[T any](v T) *T { return &v }

func ts(v int64) *store.Timestamp { return ptr(store.Timestamp(v)) }

// wbo is a full item, payload and all, at modified m.
func wbo(id, payload string, m int64) store.WBO {
	return store.WBO{ID: id, Payload: &payload, Modified: ts(m)}
}

func mustPut(t testing.TB, e *Engine, user int64, coll string, items ...store.WBO) []*store.Timestamp {
	t.Helper()
	olds, err := e.PutItems(context.Background(), user, coll, items)
	if err != nil {
		t.Fatalf("PutItems(%d, %q): %v", user, coll, err)
	}
	return olds
}

func mustGet(t testing.TB, e *Engine, user int64, coll string, q store.Query) []store.WBO {
	t.Helper()
	items, err := e.GetItems(context.Background(), user, coll, q)
	if err != nil {
		t.Fatalf("GetItems(%d, %q, %+v): %v", user, coll, q, err)
	}
	return items
}

func ids(items []store.WBO) []string {
	out := make([]string, len(items))
	for i, w := range items {
		out[i] = w.ID
	}
	return out
}

// count runs a COUNT(*) query on the engine's database.
func count(t testing.TB, e *Engine, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB().QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

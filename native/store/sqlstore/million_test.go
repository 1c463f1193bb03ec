package sqlstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// BenchmarkMillion is issue 8's growth case: one user with 1,000,000 WBOs
// (300-byte payloads, random ids, increasing timestamps) in one collection,
// against the summing reads and a write's quota check. Building the rows
// takes minutes, so it runs only when WEAVE_BENCH_1M is set (to a row
// count, or 1 for a million):
//
//	WEAVE_BENCH_1M=1 go test -run '^$' -bench Million -benchtime 20x ./native/store/sqlstore/
func BenchmarkMillion(b *testing.B) {
	rows := million()
	if rows == 0 {
		b.Skip("set WEAVE_BENCH_1M=1 (or a row count) to build and measure a million-row collection")
	}
	ctx := context.Background()
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			e := openEngine(b, be.dsn(b), Config{})
			if be.name == "mysql" {
				// The test server runs on a 16 MB buffer pool; a real one
				// holds the user's indexes.
				if _, err := e.DB().ExecContext(ctx, "SET GLOBAL innodb_buffer_pool_size = 1073741824"); err != nil {
					b.Fatal(err)
				}
			}
			fillMillion(b, e, 1, "history", rows)
			now := store.Timestamp(2_000_000_000_00)
			for _, c := range []struct {
				name string
				fn   func() error
			}{
				{"CollectionCounts", func() error { _, err := e.CollectionCounts(ctx, 1, now); return err }},
				{"CollectionUsage", func() error { _, err := e.CollectionUsage(ctx, 1, now); return err }},
				{"TotalSize", func() error { _, err := e.TotalSize(ctx, 1, now); return err }},
				{"CollectionTimestamps", func() error { _, err := e.CollectionTimestamps(ctx, 1); return err }},
				{"GetItems-newer-limit100", func() error {
					_, err := e.GetItems(ctx, 1, "history", store.Query{Newer: ts(1_000_000), Limit: 100, Sort: store.SortNewest, Now: now})
					return err
				}},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						if err := c.fn(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

func million() int {
	v := os.Getenv("WEAVE_BENCH_1M")
	if v == "" {
		return 0
	}
	var n int
	fmt.Sscan(v, &n)
	if n <= 1 {
		n = 1_000_000
	}
	return n
}

// fillMillion writes n rows with multi-row INSERTs straight into wbo, in
// one transaction per 2,000 rows, within a bounded time, then refreshes
// the statistics as a live table has them.
func fillMillion(b *testing.B, e *Engine, user int64, coll string, n int) {
	ctx := context.Background()
	cid := fixedIDs[coll]
	payload := strings.Repeat("x", 300)
	deadline := time.Now().Add(20 * time.Minute)
	const chunk = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	for done := 0; done < n; done += chunk {
		if time.Now().After(deadline) {
			b.Fatalf("filling stopped at %d rows after %v", done, time.Since(start))
		}
		m := min(chunk, n-done)
		args := make([]any, 0, 6*m)
		for i := range m {
			id := fmt.Sprintf("%016x", rng.Uint64())
			args = append(args, user, cid, id, int64(100_000+done+i), payload, len(payload))
		}
		q := "INSERT INTO " + e.d.quote(e.t.wbo) + " (username, collection, id, modified, payload, payload_size) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", m), ", ")
		if _, err := e.DB().ExecContext(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	analyze := map[string]string{"mysql": "ANALYZE TABLE wbo", "sqlite": "ANALYZE wbo"}[e.d.name]
	if _, err := e.DB().ExecContext(ctx, analyze); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d rows in %v", n, time.Since(start).Round(time.Second))
}

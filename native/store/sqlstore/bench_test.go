package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// BenchmarkEngine measures the hot paths on both backends, with a user
// holding 10k items of ~300-byte payloads (a typical history collection):
// go test -run '^$' -bench Engine -benchmem ./native/store/sqlstore/
func BenchmarkEngine(b *testing.B) {
	ctx := context.Background()
	payload := strings.Repeat("x", 300)
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			e := openEngine(b, be.dsn(b), Config{})
			var items []store.WBO
			for i := range 10_000 {
				w := wbo(fmt.Sprintf("item%05d", i), payload, int64(100_000+i))
				w.SortIndex = ptr(int64(i % 100))
				items = append(items, w)
			}
			for chunk := range slices.Chunk(items, 500) {
				mustPut(b, e, 1, "history", chunk...)
			}
			// A live table has index statistics; a freshly filled one may
			// not yet, and MySQL's plan for GROUP BY depends on them.
			analyze := map[string]string{"mysql": "ANALYZE TABLE wbo", "sqlite": "ANALYZE wbo"}[be.name]
			if _, err := e.DB().ExecContext(ctx, analyze); err != nil {
				b.Fatal(err)
			}
			b.Run("GetItems", func(b *testing.B) {
				q := store.Query{Limit: 100, Sort: store.SortNewest, Newer: ts(100_500), Now: 1_000_000}
				for b.Loop() {
					if got, err := e.GetItems(ctx, 1, "history", q); err != nil || len(got) != 100 {
						b.Fatal(len(got), err)
					}
				}
			})
			b.Run("PutItems", func(b *testing.B) {
				batch := make([]store.WBO, 100)
				n := 0
				for b.Loop() {
					for i := range batch {
						// Ids cycle through 20k: inserts at first, then updates.
						id := fmt.Sprintf("item%05d", n%20_000)
						batch[i] = wbo(id, payload, int64(200_000+n))
						n++
					}
					if _, err := e.PutItems(ctx, 2, "history", batch); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("TotalSize", func(b *testing.B) {
				for b.Loop() {
					if n, err := e.TotalSize(ctx, 1, 1_000_000); err != nil || n != 300*10_000 {
						b.Fatal(n, err)
					}
				}
			})
			b.Run("CollectionTimestamps", func(b *testing.B) {
				for b.Loop() {
					if m, err := e.CollectionTimestamps(ctx, 1); err != nil || len(m) != 1 {
						b.Fatal(m, err)
					}
				}
			})
		})
	}
}

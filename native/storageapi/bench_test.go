package storageapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// BenchmarkAPI measures whole requests through the handler on each real
// engine: a collection GET of 100 full items out of 10,000, a POST of 100
// items, and info/collections. Run with -benchmem.
func BenchmarkAPI(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be, "1.1", nil)
			seed(b, e, "history", 10000)
			seed(b, e, "bookmarks", 500)
			seed(b, e, "tabs", 50)
			analyze(b, e, be.Name)
			post := batchBody(100, 300)
			cases := []struct{ name, method, path, body string }{
				{"get-collection-limit100", "GET", "storage/history?full=1&limit=100&sort=newest", ""},
				{"post-100", "POST", "storage/forms", post},
				{"info-collections", "GET", "info/collections", ""},
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						e.clock.Advance(10 * time.Millisecond)
						rec := httptest.NewRecorder()
						req := httptest.NewRequest(c.method, "/1.1/alice/"+c.path, strings.NewReader(c.body))
						req.Header.Set("Authorization", e.auth)
						e.h.ServeHTTP(rec, req)
						if rec.Code != 200 {
							b.Fatalf("%s: %d %s", c.name, rec.Code, rec.Body.String())
						}
					}
				})
			}
		})
	}
}

// seed writes n items of 300-byte payloads straight to the engine.
// analyze gives the seeded wbo table index statistics (backend "mysql" or
// "sqlite"): a live table has them; a freshly filled one may not yet, and
// MySQL's plan for info/collections depends on them.
func analyze(b testing.TB, e *env, backend string) {
	q := map[string]string{"mysql": "ANALYZE TABLE wbo", "sqlite": "ANALYZE wbo"}[backend]
	if _, err := e.engine.DB().ExecContext(context.Background(), q); err != nil {
		b.Fatal(err)
	}
}

func seed(b testing.TB, e *env, coll string, n int) {
	b.Helper()
	payload := strings.Repeat("p", 300)
	for start := 0; start < n; start += 1000 {
		var items []store.WBO
		for i := start; i < min(start+1000, n); i++ {
			ts := store.FromTime(e.clock.Now()) + store.Timestamp(i)
			si := int64(i)
			items = append(items, store.WBO{ID: fmt.Sprintf("%s%05d", coll, i), Payload: &payload,
				PayloadSize: int64(len(payload)), Modified: &ts, SortIndex: &si})
		}
		if _, err := e.engine.PutItems(context.Background(), e.userID, coll, items); err != nil {
			b.Fatal(err)
		}
	}
}

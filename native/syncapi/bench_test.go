package syncapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"weaveproxy/native/store"
)

// benchPayload is the size of a typical encrypted record (base64 text).
var benchPayload = strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", 9)

// BenchmarkAPI measures the handler with its engine, per engine and
// operation: a GET of 100 full items from a collection of 10 000, a POST
// of 100 items, and info/collections.
func BenchmarkAPI(b *testing.B) {
	for _, kind := range engineKinds {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, openEngine(b, kind), Config{})
			fill(b, e, "history", 10000)
			var post strings.Builder
			post.WriteByte('[')
			for i := range 100 {
				if i > 0 {
					post.WriteByte(',')
				}
				fmt.Fprintf(&post, `{"id":"bench%03d","sortindex":%d,"payload":"%s"}`, i, i, benchPayload)
			}
			post.WriteByte(']')
			b.Run("get100", func(b *testing.B) {
				benchRequest(b, e, "GET", "storage/history?full=1&limit=100&sort=newest", "")
			})
			b.Run("post100", func(b *testing.B) {
				benchRequest(b, e, "POST", "storage/bookmarks", post.String())
			})
			b.Run("info_collections", func(b *testing.B) {
				benchRequest(b, e, "GET", "info/collections", "")
			})
		})
	}
}

// fill writes n items into coll through the engine, in chunks.
func fill(b *testing.B, e *env, coll string, n int) {
	b.Helper()
	ctx := context.Background()
	now := store.FromTime(e.clock.Now())
	for start := 0; start < n; start += 1000 {
		var ws []store.WBO
		for i := start; i < min(start+1000, n); i++ {
			p, m, si := benchPayload, now+store.Timestamp(i), int64(i)
			ws = append(ws, store.WBO{ID: fmt.Sprintf("item%05d", i), Payload: &p,
				PayloadSize: int64(len(p)), Modified: &m, SortIndex: &si})
		}
		if _, err := e.eng.PutItems(ctx, e.uid, coll, ws); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRequest(b *testing.B, e *env, method, rest, body string) {
	auth := basic(e.user, e.pass)
	target := e.path(rest)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
	}
}

package cache

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// benchWBOs is the size of the benchmark user's storage, as the issue asks.
const benchWBOs = 10000

// BenchmarkInfo measures info/collections and info/collection_counts with
// and without memcache on a user with 10k WBOs, and the cost the cache adds
// to a write (the generation increment, the timestamps updated in place
// and PHP's key dropped):
//
//	go test ./native/cache -run '^$' -bench Info
func BenchmarkInfo(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			mc := testenv.StartMemcached(b)
			inner := be.Open(b)
			user := populate(b, inner)
			cached := New(noClose{inner}, memcache.New(mc.Addr), Config{})
			b.Cleanup(func() { cached.Close() })
			waitUsable(b, cached)
			for _, mode := range []struct {
				name string
				e    store.Engine
			}{{"cached", cached}, {"direct", inner}} {
				b.Run(mode.name, func(b *testing.B) { benchOps(b, mode.e, user) })
			}
		})
	}
}

func benchOps(b *testing.B, e store.Engine, user int64) {
	ctx := context.Background()
	b.Run("CollectionTimestamps", func(b *testing.B) {
		for b.Loop() {
			if m, err := e.CollectionTimestamps(ctx, user); err != nil || len(m) != 10 {
				b.Fatal(m, err)
			}
		}
	})
	b.Run("CollectionCounts", func(b *testing.B) {
		for b.Loop() {
			m, err := e.CollectionCounts(ctx, user, store.FromTime(time.Now()))
			if err != nil || m["history"] != benchWBOs/10 {
				b.Fatal(m, err)
			}
		}
	})
	b.Run("PutItems", func(b *testing.B) {
		payload := strings.Repeat("p", 100)
		for b.Loop() {
			w := item("bench", payload, store.FromTime(time.Now()))
			if _, err := e.PutItems(ctx, user, "prefs", []store.WBO{w}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// populate gives a new user benchWBOs items of 100 bytes over ten
// collections.
func populate(b *testing.B, e store.Engine) int64 {
	b.Helper()
	ctx := context.Background()
	user, err := e.CreateUser(ctx, store.User{Username: "bench", MD5: "x"})
	if err != nil {
		b.Fatal(err)
	}
	colls := []string{"clients", "crypto", "forms", "history", "keys", "meta", "bookmarks", "prefs", "tabs", "passwords"}
	now := store.FromTime(time.Now())
	payload := strings.Repeat("x", 100)
	for _, c := range colls {
		for start := 0; start < benchWBOs/len(colls); start += 100 {
			batch := make([]store.WBO, 100)
			for i := range batch {
				batch[i] = item(fmt.Sprintf("%s%05d", c, start+i), payload, now)
			}
			if _, err := e.PutItems(ctx, user, c, batch); err != nil {
				b.Fatal(err)
			}
			now++
		}
	}
	return user
}

package storageapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// TestConcurrentWritesCommitInTimestampOrder plays a client syncing with
// newer=<highest modified seen> while other clients of the same user write
// concurrently. If a write could commit after a later-stamped one, the
// syncing client would move its high-water mark past it and never see it.
func TestConcurrentWritesCommitInTimestampOrder(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		checkWriteOrder(t, e, []*Handler{e.h})
	})
}

// TestTwoInstancesOrderOneUser is the same with the writes spread over two
// handlers on two engines (two connection pools on one database), as two
// weaveproxy processes would be: no memory or lock of one process orders
// them, only the database.
func TestTwoInstancesOrderOneUser(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			var hs []*Handler
			var first *env
			for range 2 {
				eng := storetest.Open(t, dsn)
				e := newEnvOn(t, eng, "1.1", func(c *Config) { c.Now = time.Now })
				if first == nil {
					first = e
				}
				hs = append(hs, e.h)
			}
			checkWriteOrder(t, first, hs)
		})
	}
}

// checkWriteOrder plays a client syncing with newer=<highest modified
// seen> while other clients of the same user write concurrently through
// the handlers hs. If a write could commit after a later-stamped one, the
// syncing client would move its high-water mark past it and never see it.
// Every write must also get a timestamp of its own.
func checkWriteOrder(t *testing.T, e *env, hs []*Handler) {
	const writers, each = 4, 20
	var wg sync.WaitGroup
	errs := make(chan string, writers*each)
	var mu sync.Mutex
	stamps := map[string]string{}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hs[w%len(hs)]
			for i := range each {
				rec := e.via(h, "PUT", fmt.Sprintf("storage/col/%d-%d", w, i), `{"payload":"x"}`)
				if rec.Code != 200 {
					errs <- fmt.Sprintf("put %d-%d: %d %s", w, i, rec.Code, rec.Body)
					continue
				}
				mu.Lock()
				if other, dup := stamps[rec.Body.String()]; dup {
					errs <- fmt.Sprintf("put %d-%d got timestamp %s, as %s did", w, i, rec.Body, other)
				}
				stamps[rec.Body.String()] = fmt.Sprintf("%d-%d", w, i)
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[string]bool{}
	high := "0"
	poll := func(h *Handler) {
		rec := e.via(h, "GET", "storage/col?full=1&newer="+high, "")
		var items []struct {
			ID       string      `json:"id"`
			Modified json.Number `json:"modified"`
		}
		d := json.NewDecoder(strings.NewReader(rec.Body.String()))
		d.UseNumber()
		if err := d.Decode(&items); err != nil {
			t.Fatalf("poll: %v in %q", err, rec.Body)
		}
		for _, it := range items {
			seen[it.ID] = true
			if f, _ := it.Modified.Float64(); f > mustFloat(high) {
				high = it.Modified.String()
			}
		}
	}
	for n, finished := 0, false; !finished; n++ {
		select {
		case <-done:
			finished = true
		default:
		}
		poll(hs[n%len(hs)])
	}
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if len(seen) != writers*each {
		t.Fatalf("incremental sync saw %d of %d items: a write committed behind a later timestamp", len(seen), writers*each)
	}
}

func mustFloat(s string) float64 {
	var f float64
	fmt.Sscan(s, &f)
	return f
}

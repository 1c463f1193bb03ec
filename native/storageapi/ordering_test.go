package storageapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWritesCommitInTimestampOrder plays a client syncing with
// newer=<highest modified seen> while other clients of the same user write
// concurrently. If a write could commit after a later-stamped one, the
// syncing client would move its high-water mark past it and never see it.
func TestConcurrentWritesCommitInTimestampOrder(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		const writers, each = 4, 20
		var wg sync.WaitGroup
		errs := make(chan string, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					rec := e.do("PUT", fmt.Sprintf("storage/col/%d-%d", w, i), `{"payload":"x"}`)
					if rec.Code != 200 {
						errs <- fmt.Sprintf("put %d-%d: %d %s", w, i, rec.Code, rec.Body)
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()

		seen := map[string]bool{}
		high := "0"
		poll := func() {
			rec := e.do("GET", "storage/col?full=1&newer="+high, "")
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
		for finished := false; !finished; {
			select {
			case <-done:
				finished = true
			default:
			}
			poll()
		}
		close(errs)
		for msg := range errs {
			t.Error(msg)
		}
		if len(seen) != writers*each {
			t.Fatalf("incremental sync saw %d of %d items: a write committed behind a later timestamp", len(seen), writers*each)
		}
	})
}

func mustFloat(s string) float64 {
	var f float64
	fmt.Sscan(s, &f)
	return f
}

package testenv

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	c := NewClock(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("Now = %v, want %v", got, t0)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), t0.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance: %v, want %v", got, want)
	}
	c.Set(t0.Add(-time.Hour))
	if got, want := c.Now(), t0.Add(-time.Hour); !got.Equal(want) {
		t.Fatalf("after Set: %v, want %v", got, want)
	}
	// Concurrent advances all count (run with -race to check the locking).
	c.Set(t0)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			c.Advance(time.Millisecond)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got, want := c.Now(), t0.Add(50*time.Millisecond); !got.Equal(want) {
		t.Fatalf("after 50 concurrent advances: %v, want %v", got, want)
	}
}

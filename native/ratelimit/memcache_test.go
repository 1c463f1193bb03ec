package ratelimit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/counter"
)

// instance is one proxy instance: its own Limiter and memcache client,
// behind its own HTTP server.
func instance(t *testing.T, addr string, cfg Config, ev *ceftest.Recorder) *httptest.Server {
	t.Helper()
	l := New(counter.NewMemcache(counter.NewMemcacheClient(addr)), cfg, ev)
	srv := httptest.NewServer(l.Wrap(&okHandler{}, ByUser))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// TestSharedAcrossInstances: two instances on one memcached enforce one
// budget between them, and only one of them logs the CEF event.
func TestSharedAcrossInstances(t *testing.T) {
	mc := testenv.StartMemcached(t)
	clk := testenv.NewClock(base)
	evA, evB := &ceftest.Recorder{}, &ceftest.Recorder{}
	cfg := Config{Read: Budget{Limit: 10}, Now: clk.Now}
	a, b := instance(t, mc.Addr, cfg, evA), instance(t, mc.Addr, cfg, evB)

	for i := 0; i < 10; i++ {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		if code, _ := get(t, srv.URL+"/1.0/alice/info/collections"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	for _, srv := range []*httptest.Server{a, b, a} {
		code, h := get(t, srv.URL+"/1.0/alice/info/collections")
		if code != 503 || h.Get("Retry-After") != "40" || h.Get("X-Weave-Backoff") != "40" {
			t.Errorf("over the shared budget: %d %v", code, h)
		}
	}
	if n := evA.Len() + evB.Len(); n != 1 {
		t.Errorf("%d RateLimited events across instances, want 1", n)
	}
	if code, _ := get(t, b.URL+"/1.0/bob/info/collections"); code != 200 {
		t.Errorf("bob: %d", code)
	}
}

// TestMemcachedKilledFailsOpen: traffic keeps flowing with zero errors
// while memcached dies and comes back; with it down nobody is limited.
func TestMemcachedKilledFailsOpen(t *testing.T) {
	mc := testenv.StartMemcached(t)
	var storeErrs atomic.Int64
	cfg := Config{Read: Budget{Limit: 1_000_000}, Write: Budget{Limit: 1}, OnStoreError: func(error) { storeErrs.Add(1) }}
	srv := instance(t, mc.Addr, cfg, &ceftest.Recorder{})

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var bad atomic.Int64
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(srv.URL + "/1.0/alice/storage/history")
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					bad.Add(1)
				}
			}
		}()
	}
	post := func() int {
		resp, err := http.Post(srv.URL+"/1.0/carol/storage/tabs", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	time.Sleep(50 * time.Millisecond)
	if post() != 200 || post() != 503 {
		t.Fatal("write budget of 1 not enforced with memcached up")
	}
	mc.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for storeErrs.Load() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("no store errors with memcached down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c := post(); c != 200 {
		t.Errorf("write with memcached down: %d, want 200 (fail open)", c)
	}
	mc.Start(t)
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d failed requests", bad.Load())
	}
}

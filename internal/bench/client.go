package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// request is one Sync request a workload sends.
type request struct {
	kind   string // the table's row, e.g. "GET info/collections"
	method string
	path   string // after the target's base URL, query included
	user   string // Basic credentials for this user; "" sends none
	body   []byte
	header [][2]string
}

// client is one simulated Sync client: a worker of a slice. It is used by
// one goroutine.
type client struct {
	r      *runner
	base   string
	rng    *rand.Rand
	worker int
	stop   <-chan struct{}
	admit  func() bool // false: the slice's request budget is spent
	rec    func(kind string, status int, lat time.Duration, err error)
}

func (c *client) stopped() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// do sends req and records it, unless the slice is over. It returns the
// status; ok is false when the session must end (slice over, or the
// request failed without an answer).
func (c *client) do(ctx context.Context, req request) (status int, ok bool) {
	if c.stopped() || !c.admit() {
		return 0, false
	}
	start := time.Now()
	status, err := c.r.send(ctx, c.base, req, io.Discard)
	c.rec(req.kind, status, time.Since(start), err)
	return status, err == nil
}

// send performs req against base and copies the answer's body to w. Only
// a transport failure is an error; every status is an answer.
func (r *runner) send(ctx context.Context, base string, req request, w io.Writer) (int, error) {
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, base+req.path, body)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	if req.user != "" {
		hr.SetBasicAuth(req.user, r.cfg.Password)
	}
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	for _, h := range req.header {
		hr.Header.Set(h[0], h[1])
	}
	resp, err := r.client.Do(hr)
	if err != nil {
		return 0, fmt.Errorf("bench: %s %s: %w", req.method, req.path, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return resp.StatusCode, fmt.Errorf("bench: %s %s: reading the answer: %w", req.method, req.path, err)
	}
	return resp.StatusCode, nil
}

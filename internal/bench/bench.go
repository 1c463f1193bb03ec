// Package bench drives a population of Sync 1.0 clients against one or
// more Weave servers in one run and reports, per target and per request
// kind, requests/s, p50/p90/p99 latency, statuses and ratios to the first
// target. It is what `weaveproxy bench` runs.
//
// Targets take turns: each round runs every target in turn (the order
// rotates from round to round) for a slice of the time and request budget,
// at the full concurrency, so that noise on a shared machine falls on all
// targets alike and no target ever competes with another for the database.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one server under test.
type Target struct {
	Name string // label in the table
	URL  string // base URL, e.g. http://127.0.0.1:8080
}

// Config is one benchmark run. Targets and Workloads are required.
type Config struct {
	Targets []Target
	// Workloads are names from Workloads(): info, history, post1, post8,
	// mozilla.
	Workloads []string
	// Concurrency is the number of clients at once per target; 0 uses
	// each workload's own (16 for reads and the load profile, 8 writers).
	Concurrency int
	// Duration bounds the measured time per target and workload, Requests
	// the measured requests (0: no count bound). Both are split evenly
	// over the rounds; whichever is reached first ends a slice.
	Duration time.Duration
	Requests int
	// Rounds is how many times the targets take turns; 0 means 3.
	Rounds int
	// Warmup runs each target unmeasured before the first round.
	Warmup time.Duration
	// Users is the size of the load profile's user pool; 0 means 50.
	Users int
	// Prefix starts every user name the bench uses; "" means "bench".
	Prefix   string
	Password string // "" means a fixed default
	// Register creates the users first (User API PUT /user/1.0/NAME) on
	// every target where they do not exist; Seed fills the read
	// workloads' user with 10,000 WBOs of 300 bytes where it has fewer.
	Register bool
	Seed     bool
	// SeedItems overrides the 10,000 (tests use fewer).
	SeedItems int
	// Progress receives a line every ProgressEvery while a slice runs
	// (nil: silent).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Timeout bounds one request (default 60 s).
	Timeout time.Duration
	// Seed for the random choices; 0 picks one from the clock.
	RandSeed uint64
	// OnSlice, if set, is called as each measured slice starts; the
	// function it returns is called as the slice ends, with the requests
	// it answered. A caller measures what the servers spent meanwhile.
	OnSlice func(workload string, t Target) (end func(requests int64))
}

func (c *Config) defaults() error {
	if len(c.Targets) == 0 {
		return errors.New("bench: no target")
	}
	for i, t := range c.Targets {
		if t.URL == "" {
			return fmt.Errorf("bench: target %d has no URL", i+1)
		}
		if t.Name == "" {
			c.Targets[i].Name = fmt.Sprintf("t%d", i+1)
		}
		c.Targets[i].URL = strings.TrimRight(t.URL, "/")
	}
	if len(c.Workloads) == 0 {
		return errors.New("bench: no workload")
	}
	for _, w := range c.Workloads {
		if _, ok := workloadByName(w); !ok {
			return fmt.Errorf("bench: unknown workload %q (have %s)", w, strings.Join(WorkloadNames(), ", "))
		}
	}
	if c.Duration <= 0 && c.Requests <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Rounds <= 0 {
		c.Rounds = 3
	}
	if c.Users <= 0 {
		c.Users = 50
	}
	if c.Prefix == "" {
		c.Prefix = "bench"
	}
	// User names go into paths and JSON bodies as they are.
	if strings.Trim(c.Prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" {
		return fmt.Errorf("bench: user prefix %q: letters, digits, '_', '.' and '-' only", c.Prefix)
	}
	if c.Password == "" {
		c.Password = "bench-password-1"
	}
	if c.SeedItems <= 0 {
		c.SeedItems = 10000
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 2 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 60 * time.Second
	}
	if c.RandSeed == 0 {
		c.RandSeed = uint64(time.Now().UnixNano())
	}
	return nil
}

// Run prepares the users (when asked), runs each workload in turn and
// writes its table to out as soon as it is done. It returns the results.
func Run(ctx context.Context, cfg Config, out io.Writer) ([]*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := newRunner(cfg)
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	var results []*Result
	for _, name := range cfg.Workloads {
		wl, _ := workloadByName(name)
		res, err := r.run(ctx, wl)
		if err != nil {
			return results, err
		}
		results = append(results, res)
		if err := res.WriteTable(out); err != nil {
			return results, err
		}
	}
	return results, nil
}

// runner holds what every slice of a run shares.
type runner struct {
	cfg    Config
	client *http.Client
	seq    atomic.Uint64 // makes every worker's random stream distinct
}

func newRunner(cfg Config) *runner {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 256,
		MaxIdleConns:        1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &runner{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.Timeout}}
}

// rng is a fresh random stream for one worker. The sequence number is
// spread over 64 bits first: PCG streams from neighbouring small seeds are
// correlated enough to skew the profile's proportions over a few hundred
// sessions.
func (r *runner) rng() *rand.Rand {
	return rand.New(rand.NewPCG(r.cfg.RandSeed, r.seq.Add(1)*0x9E3779B97F4A7C15))
}

// run measures one workload on every target.
func (r *runner) run(ctx context.Context, wl *workload) (*Result, error) {
	cfg := r.cfg
	conc := cfg.Concurrency
	if conc <= 0 {
		conc = wl.concurrency
	}
	res := &Result{Workload: wl.name, Description: wl.describe(cfg), Concurrency: conc, Rounds: cfg.Rounds}
	for _, t := range cfg.Targets {
		res.Targets = append(res.Targets, newTargetStats(t))
	}
	n := len(cfg.Targets)
	if cfg.Warmup > 0 {
		for i := range cfg.Targets {
			r.slice(ctx, wl, cfg.Targets[i], nil, conc, cfg.Warmup, 0, "warm-up")
		}
	}
	sliceDur := cfg.Duration / time.Duration(cfg.Rounds)
	sliceReqs := 0
	if cfg.Requests > 0 {
		sliceReqs = max(1, cfg.Requests/cfg.Rounds)
	}
	for round := 0; round < cfg.Rounds; round++ {
		for j := 0; j < n; j++ {
			i := (j + round) % n
			label := fmt.Sprintf("round %d/%d", round+1, cfg.Rounds)
			r.slice(ctx, wl, cfg.Targets[i], res.Targets[i], conc, sliceDur, sliceReqs, label)
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// slice runs conc clients against t until dur has passed or limit
// requests were started (0: no limit); requests in flight then finish and
// count. st nil: nothing is recorded (warm-up).
func (r *runner) slice(ctx context.Context, wl *workload, t Target, st *TargetStats, conc int, dur time.Duration, limit int, label string) {
	stop := make(chan struct{})
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }) }
	var started, done atomic.Int64
	rec := func(kind string, status int, lat time.Duration, err error) {
		done.Add(1)
		if st != nil {
			st.record(kind, status, lat, err)
		}
	}
	var end func(int64)
	if st != nil && r.cfg.OnSlice != nil {
		end = r.cfg.OnSlice(wl.name, t)
	}
	begin := time.Now()
	if dur > 0 {
		timer := time.AfterFunc(dur, halt)
		defer timer.Stop()
	}
	finished := make(chan struct{})
	progressDone := r.progress(wl, t, label, &done, begin, finished)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		c := &client{r: r, base: t.URL, rng: r.rng(), worker: w, stop: stop, rec: rec,
			admit: func() bool {
				if limit > 0 && started.Add(1) > int64(limit) {
					halt()
					return false
				}
				return true
			}}
		wg.Go(func() {
			for !c.stopped() && ctx.Err() == nil {
				wl.session(ctx, c, &r.cfg)
			}
		})
	}
	wg.Wait()
	halt()
	close(finished)
	<-progressDone
	if st != nil {
		st.Elapsed += time.Since(begin)
	}
	if end != nil {
		end(done.Load())
	}
}

// progress prints the slice's running count until finished closes; the
// returned channel closes once it has printed its last line.
func (r *runner) progress(wl *workload, t Target, label string, done *atomic.Int64, begin time.Time, finished <-chan struct{}) <-chan struct{} {
	fin := make(chan struct{})
	if r.cfg.Progress == nil {
		close(fin)
		return fin
	}
	line := func() {
		n := done.Load()
		secs := time.Since(begin).Seconds()
		fmt.Fprintf(r.cfg.Progress, "bench: %-8s %-10s %-11s %6d requests %8.1f req/s %5.1fs\n",
			wl.name, t.Name, label, n, float64(n)/max(secs, 1e-9), secs)
	}
	go func() {
		defer close(fin)
		tick := time.NewTicker(r.cfg.ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-finished:
				line()
				return
			case <-tick.C:
				line()
			}
		}
	}()
	return fin
}

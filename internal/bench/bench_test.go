package bench

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
	"github.com/weaveproxy/weaveproxy/native/userapi"
)

// nativeServer is the Go Weave server on a fresh SQLite file, in process.
// seen, when not nil, gets every request's method and path.
func nativeServer(t *testing.T, seen func(r *http.Request)) *httptest.Server {
	t.Helper()
	eng := storetest.Open(t, "sqlite:"+filepath.Join(t.TempDir(), "weave.db"))
	nat, err := native.New(native.Config{Engine: eng, Registration: userapi.Open})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = nat
	if seen != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen(r)
			nat.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestRunFixedWorkloadsSideBySide(t *testing.T) {
	a := nativeServer(t, nil)
	b := nativeServer(t, nil)
	var out, progress bytes.Buffer
	res, err := Run(context.Background(), Config{
		Targets:   []Target{{Name: "first", URL: a.URL}, {Name: "second", URL: b.URL + "/"}},
		Workloads: []string{"info", "history", "post1", "post8"},
		Requests:  30, Duration: 20 * time.Second, Rounds: 3, Concurrency: 3,
		Register: true, Seed: true, SeedItems: 250,
		Progress: &progress, ProgressEvery: 10 * time.Millisecond,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("%d results, want 4", len(res))
	}
	for _, r := range res {
		for _, ts := range r.Targets {
			all := ts.Kind("all")
			// The count bound is split over the rounds (10 a slice);
			// requests admitted are exactly that many.
			if all.Count() != 30 {
				t.Errorf("%s on %s: %d requests, want 30", r.Workload, ts.Target.Name, all.Count())
			}
			if all.Statuses[200] != all.Count() {
				t.Errorf("%s on %s: statuses %s, want all 200", r.Workload, ts.Target.Name, all.StatusString())
			}
			if ts.Elapsed <= 0 {
				t.Errorf("%s on %s: no measured time", r.Workload, ts.Target.Name)
			}
		}
	}
	text := out.String()
	for _, want := range []string{
		"== info: GET info/collections of one user holding 250 WBOs",
		"== history: GET storage/history?full=1&limit=100&sort=index",
		"== post8: POST of 100 WBOs of 300 bytes, 8 users writing in parallel",
		"3 clients, 3 rounds",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	// One row per target and kind: the first target's ratio is 1 by
	// definition, the second's is computed.
	row := regexp.MustCompile(`(?m)^GET info/collections\s+first\s+30\s+[0-9.]+\s+[0-9.]+ms\s+[0-9.]+ms\s+[0-9.]+ms\s+1\.00× req/s, p50 1\.00×\s+200×30\s*$`)
	if !row.MatchString(text) {
		t.Errorf("no first-target row for info/collections:\n%s", text)
	}
	row2 := regexp.MustCompile(`(?m)^\s+second\s+30\s+[0-9.]+\s+[0-9.]+ms\s+[0-9.]+ms\s+[0-9.]+ms\s+[0-9.]+× req/s, p50 [0-9.]+×\s+200×30\s*$`)
	if len(row2.FindAllString(text, -1)) != 4 {
		t.Errorf("want 4 second-target rows:\n%s", text)
	}
	p := progress.String()
	for _, want := range []string{"registering", "seeding bench-big on first with 250 WBOs", "round 3/3"} {
		if !strings.Contains(p, want) {
			t.Errorf("progress lacks %q:\n%s", want, p)
		}
	}
	// The second target shared nothing with the first: it was seeded too.
	if strings.Count(p, "seeding bench-big") != 2 {
		t.Errorf("want both targets seeded:\n%s", p)
	}
}

func TestRunStopsAtDuration(t *testing.T) {
	a := nativeServer(t, nil)
	start := time.Now()
	var slices, answered atomic.Int64
	res, err := Run(context.Background(), Config{
		Targets: []Target{{URL: a.URL}}, Workloads: []string{"info"},
		Duration: 300 * time.Millisecond, Rounds: 2, Register: true, Seed: true, SeedItems: 10,
		OnSlice: func(wl string, t Target) func(int64) {
			slices.Add(1)
			return func(n int64) { answered.Add(n) }
		},
	}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("a 300 ms run took %v", d)
	}
	ts := res[0].Targets[0]
	if ts.Target.Name != "t1" || ts.Kind("all").Count() == 0 {
		t.Fatalf("target %q, %d requests", ts.Target.Name, ts.Kind("all").Count())
	}
	// The hook saw both measured slices (not the warm-up) and every request.
	if slices.Load() != 2 || answered.Load() != int64(ts.Kind("all").Count()) {
		t.Errorf("OnSlice: %d slices, %d requests; want 2, %d", slices.Load(), answered.Load(), ts.Kind("all").Count())
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Workloads: []string{"info"}},
		{Targets: []Target{{URL: "http://x"}}},
		{Targets: []Target{{URL: "http://x"}}, Workloads: []string{"nope"}},
		{Targets: []Target{{URL: "http://x"}}, Workloads: []string{"info"}, Prefix: `a"b`},
	} {
		if _, err := Run(context.Background(), c, &bytes.Buffer{}); err == nil {
			t.Errorf("Run(%+v) accepted", c)
		}
	}
}

// The load profile, run against a real server, sends what Mozilla's
// profile says in roughly its proportions.
func TestProfileProportions(t *testing.T) {
	var mu sync.Mutex
	var badIDs []string
	idRE := regexp.MustCompile(`^[A-Za-z0-9_-]{14}[0-9]{1,7}$`)
	srv := nativeServer(t, func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == "POST" && strings.Contains(r.URL.Path, "/storage/") {
			var buf bytes.Buffer
			buf.ReadFrom(r.Body)
			r.Body = readCloser{bytes.NewReader(buf.Bytes())}
			for _, m := range regexp.MustCompile(`"id":"([^"]*)"`).FindAllStringSubmatch(buf.String(), -1) {
				if !idRE.MatchString(m[1]) {
					badIDs = append(badIDs, m[1])
				}
			}
		}
	})
	// About 2.7 requests a session: some 900 sessions.
	res, err := Run(context.Background(), Config{
		Targets: []Target{{URL: srv.URL}}, Workloads: []string{"mozilla"},
		Users: 20, Requests: 2500, Duration: 2 * time.Minute, Rounds: 1, Concurrency: 4,
		Register: true, RandSeed: 7,
	}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	ts := res[0].Targets[0]
	n := float64(ts.Kind(kindInfo).Count())
	if n < 200 {
		t.Fatalf("only %v sessions", n)
	}
	per := func(kind string) float64 { return float64(ts.Kind(kind).Count()) / n }
	within := func(kind string, want, tol float64) {
		t.Helper()
		if got := per(kind); got < want-tol || got > want+tol {
			t.Errorf("%s: %.3f per session, want %.3f ± %.3f", kind, got, want, tol)
		}
	}
	within(kindMetaGet, 0.60, 0.07)
	within(kindCollGet, 0.71*0+0.15*1+0.07*2+0.04*3+0.03*4, 0.12)
	within(kindCollPost, 0.18*1+0.09*2+0.04*3+0.02*4, 0.12)
	within(kindCollDelete, 0.01, 0.012)
	within(kindStorageDel, 0.0099, 0.012)
	// meta/global is written only when a read found it missing: once per
	// user, and again after a user's storage was deleted.
	puts := ts.Kind(kindMetaPut)
	if puts.Count() < 1 || puts.Count() > ts.Kind(kindMetaGet).Count() {
		t.Errorf("PUT meta/global %d times for %d reads", puts.Count(), ts.Kind(kindMetaGet).Count())
	}
	if all := ts.Kind("all"); all.Errors > 0 || all.Statuses[200]+all.Statuses[404] != all.Count() {
		t.Errorf("statuses %s", all.StatusString())
	}
	if len(badIDs) > 0 {
		t.Errorf("ids not 10 random bytes in base64 plus a suffix: %q", badIDs[:min(5, len(badIDs))])
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func TestPickDistribution(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, weights := range [][]int{metaGetWeights, collGetWeights, postWeights} {
		got := make([]int, len(weights))
		const n = 200000
		for range n {
			got[pick(rng, weights)]++
		}
		for i, w := range weights {
			if share := float64(got[i]) / n * 100; share < float64(w)-0.6 || share > float64(w)+0.6 {
				t.Errorf("weights %v: index %d drawn %.2f%%, want %d%%", weights, i, share, w)
			}
		}
	}
}

func TestProfileBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	body := string(profileBatchBody(rng, "alice", time.Unix(1_700_000_012, 345_678_000)))
	ids := regexp.MustCompile(`"id":"([A-Za-z0-9_-]{14})(\d+)"`).FindAllStringSubmatch(body, -1)
	if len(ids) != 10 {
		t.Fatalf("%d ids in %s", len(ids), body)
	}
	for _, m := range ids {
		if m[2] != "1234567" {
			t.Errorf("suffix %q, want the clock's 1234567", m[2])
		}
	}
	for _, m := range regexp.MustCompile(`"payload":"([^"]*)"`).FindAllStringSubmatch(body, -1) {
		if r := len(m[1]) / len("alice"); r < 50 || r > 200 || strings.ReplaceAll(m[1], "alice", "") != "" {
			t.Errorf("payload of %d bytes is not alice ×50..200", len(m[1]))
		}
	}
	if got := distinct(rng, profileCollections, 4); len(got) != 4 || got[0] == got[1] || got[2] == got[3] || got[0] == got[3] {
		t.Errorf("distinct gave %v", got)
	}
}

func TestPercentileAndTable(t *testing.T) {
	k := &KindStats{Statuses: map[int]int{200: 3, 503: 1}, Errors: 1}
	for _, ms := range []int{5, 1, 4, 2, 3} {
		k.Latencies = append(k.Latencies, time.Duration(ms)*time.Millisecond)
	}
	if k.Percentile(50) != 3*time.Millisecond || k.Percentile(90) != 5*time.Millisecond || k.Percentile(99) != 5*time.Millisecond {
		t.Errorf("p50/p90/p99 = %v %v %v", k.Percentile(50), k.Percentile(90), k.Percentile(99))
	}
	if k.StatusString() != "200×3 503×1 err×1" {
		t.Errorf("statuses %q", k.StatusString())
	}
	a, b := newTargetStats(Target{Name: "php"}), newTargetStats(Target{Name: "native"})
	a.Elapsed, b.Elapsed = time.Second, time.Second
	for range 10 {
		a.record(kindInfo, 200, 20*time.Millisecond, nil)
	}
	for range 40 {
		b.record(kindInfo, 200, 5*time.Millisecond, nil)
	}
	var out bytes.Buffer
	r := &Result{Workload: "info", Description: "d", Concurrency: 16, Rounds: 3, Targets: []*TargetStats{a, b}}
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "4.00× req/s, p50 0.25×") || !strings.Contains(out.String(), "measured php 1.0s, native 1.0s") {
		t.Errorf("table:\n%s", out.String())
	}
	b.record(kindInfo, 503, 5*time.Millisecond, nil)
	out.Reset()
	if err := WriteMarkdown(&out, []*Result{r}); err != nil {
		t.Fatal(err)
	}
	want := "| workload | php | native |\n|---|---|---|\n" +
		"| info (16 clients) | 10 rps, p50 20.0ms, p99 20.0ms | 41 rps (**4.10×**), p50 5.00ms, p99 5.00ms, 1 not 200/404 |\n"
	if out.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", out.String(), want)
	}
}

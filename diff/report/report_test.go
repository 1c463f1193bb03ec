package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/noise"
	"github.com/weaveproxy/weaveproxy/diff/recorder"
	"github.com/weaveproxy/weaveproxy/diff/report"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden.json")

func TestMain(m *testing.M) { testenv.Main(m) }

// clock is a settable clock with deterministic ids.
type clock struct {
	*testenv.Clock
	mu  sync.Mutex
	ids int
}

func (c *clock) NewID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids++
	return fmt.Sprintf("%016x", c.ids)
}

var t0 = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)

const (
	infoRoute  = "GET /{version}/{user}/info/collections"
	quotaRoute = "GET /{version}/{user}/info/quota"
	putRoute   = "PUT /{version}/{user}/storage/{collection}/{id}"
	collRoute  = "GET /{version}/{user}/storage/{collection}"
)

func answer(status int, body string, kv ...string) diff.Answer {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return diff.Answer{Status: status, Header: h, Body: []byte(body)}
}

// seeded builds a store holding every kind of pair: identical, equal after
// rules, learned noise, a waived known legacy defect, real differences,
// dry runs, over two hours.
func seeded(t *testing.T) (*store.Store, *clock) {
	t.Helper()
	ctx := context.Background()
	clk := &clock{Clock: testenv.NewClock(t0)}
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "diff.db"), store.Options{
		Now: clk.Now, NewID: clk.NewID,
		Noise: noise.Params{MinPairs: 4, MinNoiseSamples: 4, Ratio: 0.5, Absolute: 0.01},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := store.SeedKnownDefects(ctx, st, "seed"); err != nil {
		t.Fatal(err)
	}
	rec := recorder.New(st, nil)
	at := t0
	obs := func(route, method, target, reqBody string, legacy, native diff.Answer, legacy2 *diff.Answer, dry bool) {
		t.Helper()
		at = at.Add(time.Minute)
		clk.Set(at)
		p := diff.Pair{Route: route, At: at, DryRun: dry, Legacy: legacy, Native: native, Legacy2: legacy2,
			Request: diff.Exchange{Method: method, Path: target, Body: []byte(reqBody),
				Header: http.Header{"Authorization": {"Basic c2VjcmV0OnNlY3JldA=="}}}}
		if _, err := rec.Observe(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	info := answer(200, `{"forms":1795895500.62,"history":1795895500.69}`, "X-Weave-Timestamp", "1795895500.7")
	obs(infoRoute, "GET", "/1.0/alice/info/collections", "", info, info, nil, false)
	obs(infoRoute, "GET", "/1.0/alice/info/collections", "", info, info, nil, false)
	obs(infoRoute, "GET", "/1.0/alice/info/collections", "", info,
		answer(200, `{"history":1795895500.69,"forms":1795895500.620}`, "X-Weave-Timestamp", "1795895500.70"), nil, false)
	for i := 0; i < 4; i++ {
		l2 := answer(200, fmt.Sprintf(`[%d,5000]`, 190+i))
		obs(quotaRoute, "GET", "/1.0/alice/info/quota", "", answer(200, `[196,5000]`), answer(200, `[197,5000]`), &l2, false)
	}
	fatal := "<br />\n<b>Fatal error</b>:  Uncaught TypeError: join()"
	obs(putRoute, "PUT", "/1.0/alice/storage/bookmarks/item1", `{"id": "item1", "sortindex": 99}`,
		answer(200, fatal, "X-Weave-Timestamp", "1795895500.54"), answer(200, "1795895500.46", "X-Weave-Timestamp", "1795895500.54"), nil, true)
	obs(putRoute, "PUT", "/1.0/alice/storage/bookmarks/item2", `{"id": "item2", "payload": "x"}`,
		answer(200, "1795895500.55", "X-Weave-Timestamp", "1795895500.55"), answer(200, "1795895500.55", "X-Weave-Timestamp", "1795895500.55"), nil, true)
	// Hour two: real differences.
	at = t0.Add(time.Hour)
	obs(infoRoute, "GET", "/1.0/alice/info/collections", "", info,
		answer(200, `{"forms":1795895500.62,"history":1795895500.69}`, "X-Weave-Timestamp", "1795895500.7", "X-Weave-Records", "2"), nil, false)
	obs(quotaRoute, "GET", "/1.0/alice/info/quota", "", answer(200, `[196,5000]`), answer(200, `[196.5,5120]`), nil, false)
	obs(collRoute, "GET", "/1.0/alice/storage/history?full=1&sort=index", "",
		answer(200, `[{"id":"h9","payload":"<script>alert(1)</script>","sortindex":9},{"id":"h8","payload":"b","sortindex":8}]`),
		answer(200, `[{"id":"h8","payload":"b","sortindex":8},{"id":"h9","payload":"<script>alert(1)</script>","sortindex":9}]`), nil, false)
	// Shadowed and not compared (shed on a busy machine): coverage.
	if err := st.AddUncompared(ctx, map[store.Uncompared]int64{{Route: infoRoute, Reason: "cpu_busy"}: 6,
		{Route: putRoute, Reason: "dry_run_busy"}: 2}); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(2 * time.Hour))
	return st, clk
}

func opts(clk *clock) report.Options {
	return report.Options{Gate: store.Gate{MinPairs: 2, LastM: 3}, Now: clk.Now}
}

func TestReportJSONGolden(t *testing.T) {
	st, clk := seeded(t)
	dir := t.TempDir()
	if err := report.WriteWith(context.Background(), st, dir, opts(clk)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report.json differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	// The names QA's tools rely on.
	var doc struct {
		Routes []map[string]any `json:"routes"`
	}
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"route", "pairs", "identical", "equal_after_rules", "noise", "different", "accepted", "match_rate", "ready", "verdict"} {
		if _, ok := doc.Routes[0][k]; !ok {
			t.Errorf("routes[0] has no %q", k)
		}
	}
	if strings.Contains(string(got), "c2VjcmV0OnNlY3JldA==") {
		t.Error("a credential reached the report")
	}
}

func TestReportHTML(t *testing.T) {
	st, clk := seeded(t)
	dir := t.TempDir()
	if err := report.WriteWith(context.Background(), st, dir, opts(clk)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		`href="#r1"`, `id="r1"`, `<svg class="chart"`, "known legacy defect", "not ready", `class="hl"`,
		"&lt;script&gt;alert(1)&lt;/script&gt;", "Authorization: [redacted]", "Learned noise", `id="r2-f1"`,
		"60.0% of 20 shadowed requests compared", "<td>40.0% of 10</td>",
		"Compared 4 of 10 shadowed requests (40.0%); not compared: cpu_busy 6.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>alert", "<script src", "<link ", `src="http`, "@import", "c2VjcmV0OnNlY3JldA=="} {
		if strings.Contains(page, bad) {
			t.Errorf("report.html must be self-contained and escaped, found %q", bad)
		}
	}
}

func TestHandler(t *testing.T) {
	st, clk := seeded(t)
	srv := httptest.NewServer(http.StripPrefix("/diff", report.Handler(st, opts(clk))))
	defer srv.Close()
	for _, tt := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/diff/", 200, "text/html; charset=utf-8"},
		{"GET", "/diff/report.html", 200, "text/html; charset=utf-8"},
		{"GET", "/diff/report.json", 200, "application/json"},
		{"POST", "/diff/", 405, ""},
		{"GET", "/diff/nope", 404, ""},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype) {
			t.Errorf("%s %s: %d %s", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if tt.path == "/diff/report.json" {
			var rep report.Report
			if err := json.Unmarshal(body.Bytes(), &rep); err != nil || len(rep.Routes) != 4 || rep.Totals.Pairs != 12 {
				t.Errorf("live report.json: %v %+v", err, rep.Totals)
			}
		}
	}
}

func stripPrefix(prefix string, h http.Handler) http.Handler { return http.StripPrefix(prefix, h) }

// A short run still gets a chart: buckets are sized to the run, not to an
// hour, so five minutes of pairs are many points, and a long run is at
// most about chartPoints.
func TestBucketsFitTheRun(t *testing.T) {
	for _, tc := range []struct {
		span     time.Duration
		min, max int
	}{
		{5 * time.Minute, 10, 40},
		{3 * 24 * time.Hour, 10, 40},
	} {
		var bs []store.Bucket
		step := tc.span / 300
		for i := 0; i < 300; i++ {
			bs = append(bs, store.Bucket{Start: t0.Add(time.Duration(i) * step), Counts: store.Counts{Pairs: 2, Identical: 1, Different: 1}})
		}
		got := report.FitBuckets(bs)
		var pairs int64
		for _, b := range got {
			pairs += b.Pairs
		}
		if len(got) < tc.min || len(got) > tc.max || pairs != 600 {
			t.Errorf("%v run: %d points holding %d pairs; want %d–%d points holding 600", tc.span, len(got), pairs, tc.min, tc.max)
		}
	}
}

package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/redact/redacttest"
	"github.com/weaveproxy/weaveproxy/diff/rules"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

func TestCountsByClassAndBucket(t *testing.T) {
	backends(t, store.Options{}, func(t *testing.T, e *env) {
		same := answer(200, `{"forms":1795895500.62}`, "X-Weave-Timestamp", "1795895500.7")
		e.observe(t, e.pair(infoRoute, infoPath, same, same), diff.Identical)
		e.observe(t, e.pair(infoRoute, infoPath, same,
			answer(200, `{"forms":1795895500.620}`, "X-Weave-Timestamp", "1795895500.70")), diff.EqualAfterRules)
		e.clk.Advance(time.Hour)
		e.observe(t, e.pair(infoRoute, infoPath, same,
			answer(200, `{"forms":1795895500.62}`, "X-Weave-Timestamp", "1795895500.7", "X-Weave-Records", "1")), diff.Different)
		dry := e.pair(infoRoute, infoPath, same, answer(404, `[]`))
		dry.DryRun = true
		e.observe(t, dry, diff.Different)

		rs := e.route(t, infoRoute)
		want := store.Counts{Pairs: 4, Identical: 1, EqualAfterRules: 1, Different: 2, DryRun: 1}
		if rs.Counts != want {
			t.Errorf("counts %+v, want %+v", rs.Counts, want)
		}
		if rs.MatchRate() != 0.5 {
			t.Errorf("match rate %v", rs.MatchRate())
		}
		if len(rs.Buckets) != 2 || !rs.Buckets[0].Start.Equal(t0) || rs.Buckets[0].Pairs != 2 ||
			rs.Buckets[1].Different != 2 || !rs.Buckets[1].Start.Equal(t0.Add(time.Hour)) {
			t.Errorf("buckets %+v", rs.Buckets)
		}
		f := e.fields(t, infoRoute)
		if f["header.x-weave-records"].Real != 1 || f["status"].Real != 1 || f["body"].Occurrences != 1 {
			t.Errorf("fields %+v", f)
		}
		names, err := e.st.RouteNames(context.Background())
		if err != nil || len(names) != 1 || names[0] != infoRoute {
			t.Errorf("route names %v %v", names, err)
		}
	})
}

// A field that differs legacy-vs-legacy about as often as legacy-vs-native
// becomes noise once both have enough samples (4 in these tests); a field
// that legacy keeps stable stays real.
func TestLearnedNoise(t *testing.T) {
	backends(t, store.Options{}, func(t *testing.T, e *env) {
		// "used" jitters in legacy itself; "quota" differs only in native.
		legacy := func(used string) diff.Answer { return answer(200, `[`+used+`,5000]`) }
		for i, u := range []string{"1", "2", "3", "4"} {
			p := e.pair(quotaRoute, quotaPath, legacy(u), legacy("9"))
			l2 := legacy(u + "1")
			p.Legacy2 = &l2
			// Until four noise samples exist, nothing is excused.
			want := diff.Different
			if i == 3 {
				want = diff.Noise
			}
			e.observe(t, p, want)
		}
		e.observe(t, e.pair(quotaRoute, quotaPath, legacy("1"), answer(200, `[7,5120]`)), diff.Different)
		f := e.fields(t, quotaRoute)
		if u := f["body[0]"]; u.Learned != "noise" || u.Noise != 5 || u.Real != 0 || u.Rates.NoiseDiffs != 4 {
			t.Errorf("body[0] must be noise: %+v", u)
		}
		if q := f["body[1]"]; q.Learned != "real" || q.Real != 1 {
			t.Errorf("body[1] is real: %+v", q)
		}
		// Learning is retroactive: the first three pairs are noise now.
		rs := e.route(t, quotaRoute)
		if rs.Noise != 4 || rs.Different != 1 {
			t.Errorf("counts %+v", rs.Counts)
		}
	})
}

func TestStableFieldIsNotNoise(t *testing.T) {
	backends(t, store.Options{}, func(t *testing.T, e *env) {
		for i := 0; i < 6; i++ {
			p := e.pair(quotaRoute, quotaPath, answer(200, `[1,5000]`), answer(200, `[1,5120]`))
			l2 := answer(200, `[1,5000]`)
			p.Legacy2 = &l2
			e.observe(t, p, diff.Different)
		}
		f := e.fields(t, quotaRoute)["body[1]"]
		if f.Learned != "real" || f.Real != 6 || f.Rates.NoiseSamples != 6 || f.Rates.NoiseDiffs != 0 {
			t.Errorf("a field legacy never varies is real: %+v", f)
		}
	})
}

func TestWaivers(t *testing.T) {
	backends(t, store.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		legacy := answer(200, `[196,5000]`)
		native := answer(200, `[196,5120]`, "X-Weave-Records", "2")
		e.observe(t, e.pair(quotaRoute, quotaPath, legacy, native), diff.Different)

		w1, err := e.st.Accept(ctx, store.Waiver{Route: quotaRoute, Field: "body[*]", Reason: "quota is configurable", By: "qa"})
		if err != nil {
			t.Fatal(err)
		}
		// One field waived, the other still real.
		if rs := e.route(t, quotaRoute); rs.Different != 1 || rs.Accepted != 0 {
			t.Errorf("partly waived: %+v", rs.Counts)
		}
		w2, err := e.st.Accept(ctx, store.Waiver{Route: "*", Field: "header.x-weave-records", Reason: "1.1 sends it", By: "qa"})
		if err != nil {
			t.Fatal(err)
		}
		if rs := e.route(t, quotaRoute); rs.Different != 0 || rs.Accepted != 1 {
			t.Errorf("fully waived: %+v", rs.Counts)
		}
		f := e.fields(t, quotaRoute)["body[1]"]
		if f.Accepted != 1 || len(f.Waivers) != 1 || f.Waivers[0].Reason != "quota is configurable" || f.Waivers[0].By != "qa" {
			t.Errorf("field shows its waiver: %+v", f)
		}
		e.observe(t, e.pair(quotaRoute, quotaPath, legacy, native), diff.Accepted)

		if err := e.st.Revoke(ctx, w2.ID, "lead"); err != nil {
			t.Fatal(err)
		}
		if err := e.st.Revoke(ctx, w2.ID, "lead"); !errors.Is(err, store.ErrNoWaiver) {
			t.Errorf("revoking twice: %v", err)
		}
		if rs := e.route(t, quotaRoute); rs.Different != 2 {
			t.Errorf("revoked waiver no longer applies: %+v", rs.Counts)
		}
		all, _ := e.st.ListWaivers(ctx, true)
		active, _ := e.st.ListWaivers(ctx, false)
		if len(all) != 2 || len(active) != 1 || active[0].ID != w1.ID || all[1].RevokedBy != "lead" || all[1].Revoked.IsZero() {
			t.Errorf("lists: all %+v active %+v", all, active)
		}
		// A whole-shape waiver.
		if _, err := e.st.Accept(ctx, store.Waiver{Route: quotaRoute, Shape: []string{"header.x-weave-records", "body[1]"},
			Reason: "both at once", By: "qa"}); err != nil {
			t.Fatal(err)
		}
		if rs := e.route(t, quotaRoute); rs.Different != 0 || rs.Accepted != 2 {
			t.Errorf("shape waiver: %+v", rs.Counts)
		}
		e.observe(t, e.pair(quotaRoute, quotaPath, legacy, answer(404, `[]`)), diff.Different)
	})
}

func TestWaiverValidation(t *testing.T) {
	backends(t, store.Options{}, func(t *testing.T, e *env) {
		bad := []store.Waiver{
			{Field: "body", Reason: "r", By: "b"},
			{Route: "*", Field: "body", By: "b"},
			{Route: "*", Field: "body", Reason: "r"},
			{Route: "*", Reason: "r", By: "b"},
			{Route: "*", Field: "body", Shape: []string{"status"}, Reason: "r", By: "b"},
			{Route: "*", Field: "body..x", Reason: "r", By: "b"},
			{Route: "*", RequestMatch: "(", Reason: "r", By: "b"},
		}
		for _, w := range bad {
			if _, err := e.st.Accept(context.Background(), w); err == nil {
				t.Errorf("%+v accepted", w)
			}
		}
	})
}

// The recorded PHP 8 fatal-error pages are accepted as known legacy
// defects, for pairs recorded after the seed.
func TestKnownDefects(t *testing.T) {
	backends(t, store.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		added, err := store.SeedKnownDefects(ctx, e.st, "seed")
		if err != nil || len(added) != 3 {
			t.Fatalf("seed: %v %v", added, err)
		}
		if again, err := store.SeedKnownDefects(ctx, e.st, "seed"); err != nil || len(again) != 0 {
			t.Errorf("seeding twice adds nothing: %v %v", again, err)
		}
		fatal := "<br />\n<b>Fatal error</b>:  Uncaught TypeError: join(): Argument #2 ($array) must be of type ?array"
		put := diff.Pair{Route: "PUT /{version}/{user}/storage/{collection}/{id}", At: e.clk.Now(),
			Request: diff.Exchange{Method: "PUT", Path: "/1.0/alice/storage/bookmarks/item1", Body: []byte(`{"sortindex": 99}`)},
			Legacy:  answer(200, fatal, "X-Weave-Timestamp", "1795895500.54"),
			Native:  answer(200, `1795895500.46`, "X-Weave-Timestamp", "1795895500.54")}
		e.observe(t, put, diff.Accepted)
		newer := e.pair("GET /{version}/{user}/storage/{collection}", "/1.0/alice/storage/history?newer=abc",
			answer(200, "<br />\n"+fatal), answer(400, "1"))
		e.observe(t, newer, diff.Accepted)
		captcha := e.pair("GET /misc/1.0/captcha_html", "/misc/1.0/captcha_html",
			answer(200, fatal), answer(404, ""))
		e.observe(t, captcha, diff.Accepted)
		// The same request with a real legacy answer is not excused.
		e.observe(t, e.pair("GET /{version}/{user}/storage/{collection}", "/1.0/alice/storage/history?newer=abc",
			answer(200, `[]`), answer(400, "1")), diff.Different)
		f := e.fields(t, "PUT /{version}/{user}/storage/{collection}/{id}")["body"]
		if f.Accepted != 1 || len(f.Waivers) != 1 || !strings.Contains(f.Waivers[0].Reason, "known legacy defect") {
			t.Errorf("the waiver's reason is shown: %+v", f)
		}
	})
}

func TestReady(t *testing.T) {
	backends(t, store.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		gate := store.Gate{MinPairs: 5, LastM: 3}
		same := answer(200, `[1,5000]`)
		v, err := e.st.Ready(ctx, quotaRoute, gate)
		if err != nil || v.Ready || v.Reason != "no pairs compared yet — not ready" {
			t.Errorf("empty: %+v %v", v, err)
		}
		e.observe(t, e.pair(quotaRoute, quotaPath, same, answer(200, `[2,5000]`)), diff.Different)
		for i := 0; i < 3; i++ {
			e.clk.Advance(time.Second)
			e.observe(t, e.pair(quotaRoute, quotaPath, same, same), diff.Identical)
		}
		v, _ = e.st.Ready(ctx, quotaRoute, gate)
		if v.Ready || !strings.Contains(v.Reason, "4 pairs, the gate needs 5") {
			t.Errorf("too few: %+v", v)
		}
		e.clk.Advance(time.Second)
		e.observe(t, e.pair(quotaRoute, quotaPath, same, answer(200, `[3,5000]`)), diff.Different)
		v, _ = e.st.Ready(ctx, quotaRoute, gate)
		if v.Ready || v.Different != 1 || v.Window != 3 || len(v.Fields) != 1 || v.Fields[0] != "body[0]" {
			t.Errorf("difference in the window: %+v", v)
		}
		for i := 0; i < 3; i++ {
			e.clk.Advance(time.Second)
			e.observe(t, e.pair(quotaRoute, quotaPath, same, same), diff.Identical)
		}
		v, _ = e.st.Ready(ctx, quotaRoute, gate)
		if !v.Ready || v.Pairs != 8 || v.Window != 3 || v.Reason != "none of the last 3 pairs differs (8 pairs in all, 1 users, 1 distinct requests) — ready" {
			t.Errorf("clean window: %+v", v)
		}
		// Pairs where neither side answered are neither evidence nor a
		// difference: they leave the window and the count alone.
		for i := 0; i < 3; i++ {
			e.clk.Advance(time.Second)
			e.observe(t, e.pair(quotaRoute, quotaPath, answer(503, "busy"), answer(0, "")), diff.BothFailed)
		}
		v, _ = e.st.Ready(ctx, quotaRoute, gate)
		if !v.Ready || v.Pairs != 8 || v.BothFailed != 3 || v.Window != 3 || !strings.Contains(v.Reason, "3 pairs where both sides failed not counted") {
			t.Errorf("both failed: %+v", v)
		}
		if rs, _ := e.st.Route(ctx, quotaRoute, gate); rs.BothFailed != 3 || rs.Different != 2 || rs.Pairs != 11 {
			t.Errorf("route counts: %+v", rs.Counts)
		}
		// One user repeating one request is little evidence: a gate
		// asking for more distinct users and requests says so, and is
		// met once others come.
		distinct := store.Gate{MinPairs: 5, LastM: 3, MinUsers: 2, MinRequests: 2}
		if v, _ := e.st.Ready(ctx, quotaRoute, distinct); v.Ready || v.Users != 1 || v.Requests != 1 ||
			!strings.HasPrefix(v.Reason, "only 1 distinct users, the gate needs 2") {
			t.Errorf("one user: %+v", v)
		}
		e.clk.Advance(time.Second)
		e.observe(t, e.pair(quotaRoute, "/1.0/Bob/info/quota", same, same), diff.Identical)
		e.clk.Advance(time.Second)
		e.observe(t, e.pair(quotaRoute, "/1.0/bob/info/quota", same, same), diff.Identical)
		if v, _ := e.st.Ready(ctx, quotaRoute, distinct); !v.Ready || v.Users != 2 || v.Requests != 3 {
			t.Errorf("two users (Bob and bob are one): %+v", v)
		}
		// A waiver clears the older differences for a wider window.
		wide := store.Gate{MinPairs: 5, LastM: 100}
		if v, _ := e.st.Ready(ctx, quotaRoute, wide); v.Ready || v.Different != 2 {
			t.Errorf("wide window: %+v", v)
		}
		if _, err := e.st.Accept(ctx, store.Waiver{Route: quotaRoute, Field: "body[*]", Reason: "usage rounding", By: "qa"}); err != nil {
			t.Fatal(err)
		}
		if v, _ := e.st.Ready(ctx, quotaRoute, wide); !v.Ready || v.Window != 10 || !strings.HasPrefix(v.Reason, "none of the last 10 pairs differs") {
			t.Errorf("waived: %+v", v)
		}
		if _, err := e.st.Ready(ctx, quotaRoute, store.Gate{MinPairs: 1, LastM: 0}); err == nil {
			t.Error("last_m 0 must be refused")
		}
		if _, err := e.st.Ready(ctx, quotaRoute, store.Gate{MinPairs: 1, LastM: 1 << 20}); err == nil {
			t.Error("last_m beyond the kept pairs must be refused")
		}
	})
}

// Waiver field patterns cover subtrees: body.failed accepts body.failed.*.
func TestWaiverFieldPattern(t *testing.T) {
	backends(t, store.Options{}, func(t *testing.T, e *env) {
		route := "POST /{version}/{user}/storage/{collection}"
		p := diff.Pair{Route: route, At: e.clk.Now(),
			Request: diff.Exchange{Method: "POST", Path: "/1.0/alice/storage/history"},
			Legacy:  answer(200, `{"success":[],"failed":{"x":["invalid id"]}}`),
			Native:  answer(200, `{"success":[],"failed":{"x":["invalid wbo"]}}`)}
		e.observe(t, p, diff.Different)
		if _, err := e.st.Accept(context.Background(), store.Waiver{Route: route, Field: "body.failed",
			Reason: "messages follow PY", By: "qa"}); err != nil {
			t.Fatal(err)
		}
		e.observe(t, p, diff.Accepted)
	})
}

func TestSamplesBounded(t *testing.T) {
	opt := store.Options{SamplesPerField: 3, SampleEvery: time.Minute, MaxBodyBytes: 64}
	backends(t, opt, func(t *testing.T, e *env) {
		ctx := context.Background()
		big := `["` + strings.Repeat("ü", 100) + `"]`
		for i := 0; i < 5; i++ {
			e.clk.Advance(time.Second)
			e.observe(t, e.pair(quotaRoute, quotaPath, answer(200, big), answer(200, `[2,5000]`)), diff.Different)
		}
		ss, err := e.st.Samples(ctx, quotaRoute, "body[0]")
		if err != nil || len(ss) != 3 {
			t.Fatalf("samples: %d %v", len(ss), err)
		}
		// Within SampleEvery of the newest, no new sample is taken once
		// three exist; after it, the oldest makes room.
		if !ss[0].At.Equal(t0.Add(3*time.Second)) || !ss[2].At.Equal(t0.Add(time.Second)) {
			t.Errorf("kept %v %v %v", ss[0].At, ss[1].At, ss[2].At)
		}
		e.clk.Advance(2 * time.Minute)
		e.observe(t, e.pair(quotaRoute, quotaPath, answer(200, big), answer(200, `[2,5000]`)), diff.Different)
		ss, _ = e.st.Samples(ctx, quotaRoute, "body[0]")
		if len(ss) != 3 || !ss[0].At.Equal(e.clk.Now()) || !ss[2].At.Equal(t0.Add(2*time.Second)) {
			t.Errorf("after refresh: %d, newest %v", len(ss), ss[0].At)
		}
		var orphans int
		if err := e.db.QueryRow("SELECT COUNT(*) FROM diff_samples s WHERE NOT EXISTS " +
			"(SELECT 1 FROM diff_sample_refs r WHERE r.sample_id = s.id)").Scan(&orphans); err != nil || orphans != 0 {
			t.Errorf("orphan samples: %d %v", orphans, err)
		}
		s := ss[0]
		if !s.Cut || len(s.Pair.Legacy.Body) > 64 || !strings.HasPrefix(string(s.Pair.Legacy.Body), `["ü`) {
			t.Errorf("bodies are cut to MaxBodyBytes: cut=%v %q", s.Cut, s.Pair.Legacy.Body)
		}
		if s.Pair.Request.Header.Get("Authorization") != "[redacted]" || len(s.Findings) == 0 {
			t.Errorf("sample %+v", s)
		}
		one, err := e.st.Sample(ctx, s.ID)
		if err != nil || one.ID != s.ID {
			t.Errorf("by id: %+v %v", one, err)
		}
		if _, err := e.st.Sample(ctx, "nope"); !errors.Is(err, store.ErrNoSample) {
			t.Errorf("unknown sample: %v", err)
		}
	})
}

// No secret reaches the database, whatever table.
func TestNothingSecretIsStored(t *testing.T) {
	backends(t, store.Options{}, func(t *testing.T, e *env) {
		pairs := redacttest.Pairs(rules.RouteOf)
		for _, p := range pairs {
			if _, err := e.rec.Observe(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		}
		dump := e.dump(t)
		for _, s := range redacttest.Secrets {
			if strings.Contains(dump, s) {
				t.Errorf("secret %q is in the database", s)
			}
		}
		// The test must be able to fail: the samples are there.
		if !strings.Contains(dump, "[redacted]") || !strings.Contains(dump, "/user/1.0/alice/password") {
			t.Fatalf("no samples stored:\n%s", dump)
		}
	})
}

func TestPairLogTrimmed(t *testing.T) {
	backends(t, store.Options{KeepPairs: 3}, func(t *testing.T, e *env) {
		same := answer(200, `[1,5000]`)
		for i := 0; i < 203; i++ {
			e.clk.Advance(time.Millisecond)
			e.observe(t, e.pair(quotaRoute, quotaPath, same, same), diff.Identical)
		}
		var n int
		if err := e.db.QueryRow("SELECT COUNT(*) FROM diff_pairs").Scan(&n); err != nil || n > 3+200 || n < 3 {
			t.Errorf("pair log: %d rows %v", n, err)
		}
		// Counts are not affected by the trimming.
		if rs := e.route(t, quotaRoute); rs.Pairs != 203 {
			t.Errorf("pairs %d", rs.Pairs)
		}
	})
}

// Several proxy instances write to one store: two Store values on one
// database, writing at once, add up.
func TestTwoInstances(t *testing.T) {
	for _, backend := range []string{"sqlite", "mysql"} {
		t.Run(backend, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "shared.db")
			if backend == "mysql" {
				dsn = "mysql:" + testenv.MariaDB(t)
			}
			a, b := open(t, backend, dsn, store.Options{}), open(t, backend, dsn, store.Options{})
			b.clk.ids = 1 << 20 // the two instances must not share ids
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for _, e := range []*env{a, b} {
				wg.Add(1)
				go func(e *env) {
					defer wg.Done()
					for i := 0; i < 40; i++ {
						e.clk.Advance(time.Millisecond)
						p := e.pair(quotaRoute, quotaPath, answer(200, `[1,5000]`), answer(200, `[1,5120]`))
						if _, err := e.rec.Observe(context.Background(), p); err != nil {
							errs <- err
							return
						}
					}
				}(e)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for _, e := range []*env{a, b} {
				if rs := e.route(t, quotaRoute); rs.Pairs != 80 || rs.Different != 80 {
					t.Errorf("counts %+v", rs.Counts)
				}
			}
		})
	}
}

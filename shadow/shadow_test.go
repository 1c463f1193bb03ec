package shadow

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weaveproxy/weaveproxy/diff/noise"
	"github.com/weaveproxy/weaveproxy/internal/dryrun"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff"
)

const (
	infoRoute   = "GET /{version}/{user}/info/collections"
	countsRoute = "GET /{version}/{user}/info/collection_counts"
	putRoute    = "PUT /{version}/{user}/storage/{collection}/{id}"
)

func TestReadIsComparedOffTheRequestPath(t *testing.T) {
	r := newRig(t, "", Options{Workers: 1})
	g := newGate()
	r.native = g.wrap(r.native)
	var w *http.Response
	within(t, "ServeShadow", func() {
		w = r.serve("GET", "/1.0/alice/info/collections", "").Result()
	})
	// The client has legacy's whole answer while native has not even
	// started: the native run happens after, in a worker.
	if w.StatusCode != 200 || !strings.Contains(readAll(t, w), `"side":"legacy"`) {
		t.Fatalf("client got %d, want legacy's answer", w.StatusCode)
	}
	<-g.entered
	close(g.open)
	r.flush()
	c := r.counts(infoRoute)
	if c.Pairs != 1 || c.Different != 1 || c.DryRun != 0 {
		t.Fatalf("counts %+v, want one read pair, different", c)
	}
	if got := counter(r.sh.m.pairs, infoRoute, string(diff.Different)); got != 1 {
		t.Fatalf("pairs metric %v, want 1", got)
	}
}

func TestIdenticalAnswersAreIdentical(t *testing.T) {
	r := newRig(t, "", Options{})
	r.native = r.legacy
	r.serve("GET", "/1.0/alice/info/collections", "")
	r.flush()
	if c := r.counts(infoRoute); c.Pairs != 1 || c.Identical != 1 {
		t.Fatalf("counts %+v, want one identical pair", c)
	}
}

// A full queue drops pairs and counts them; ServeShadow never waits.
func TestFullQueueDropsAndCounts(t *testing.T) {
	r := newRig(t, "", Options{Workers: 1, QueueSize: 2})
	g := newGate()
	r.native = g.wrap(r.native)
	const n = 10
	within(t, "ServeShadow with a full queue", func() {
		r.serve("GET", "/1.0/alice/info/collections", "")
		<-g.entered // the worker holds the first pair
		for range n - 1 {
			if w := r.serve("GET", "/1.0/alice/info/collections", ""); w.Code != 200 {
				t.Errorf("client got %d", w.Code)
			}
		}
	})
	// One pair in the worker, two queued, the rest dropped.
	if got := counter(r.sh.m.dropped, infoRoute, string(dropFull)); got != n-3 {
		t.Fatalf("dropped %v, want %d", got, n-3)
	}
	close(g.open)
	r.flush()
	if c := r.counts(infoRoute); c.Pairs != 3 {
		t.Fatalf("stored %d pairs, want 3", c.Pairs)
	}
}

// The byte bound holds even when the pair count would fit.
func TestQueueBytesBound(t *testing.T) {
	r := newRig(t, "", Options{Workers: 1, QueueSize: 100, QueueBytes: 64 << 10})
	big := strings.Repeat("x", 20<<10)
	r.legacy = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(big)) })
	g := newGate()
	r.native = g.wrap(r.native)
	for range 10 {
		r.serve("GET", "/1.0/alice/info/collections", "")
	}
	<-g.entered
	if got := r.sh.q.bytes.Load(); got > 64<<10 {
		t.Fatalf("queue holds %d bytes, bound is %d", got, 64<<10)
	}
	if got := counter(r.sh.m.dropped, infoRoute, string(dropBytes)); got < 6 {
		t.Fatalf("dropped by bytes %v, want at least 6 of 10 answers of 20 KiB into 64 KiB", got)
	}
	close(g.open)
	r.flush()
	if got := r.sh.q.bytes.Load(); got != 0 {
		t.Fatalf("queue still accounts %d bytes once idle", got)
	}
}

// The dry run of a write runs before legacy and sees the state legacy
// will see; nothing is applied twice.
func TestWriteDryRunRunsBeforeLegacy(t *testing.T) {
	r := newRig(t, "", Options{})
	var (
		mu    sync.Mutex
		order []string
		state int // the "database": legacy's writes increment it
		saw   = -1
	)
	r.dry = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		order, saw = append(order, "dry run"), state
		mu.Unlock()
		weaveHeaders(w, "1795895500.46")
		w.Write([]byte(`1795895500.46`))
	})
	r.legacy = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		order = append(order, "legacy")
		state++
		mu.Unlock()
		weaveHeaders(w, "1795895500.47")
		w.Write([]byte(`1795895500.47`))
	})
	r.native = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a write ran on the native handler, which applies it for real")
	})
	w := r.serve("PUT", "/1.0/alice/storage/bookmarks/a", `{"payload":"x"}`)
	if w.Body.String() != "1795895500.47" {
		t.Fatalf("client got %q, want legacy's answer", w.Body.String())
	}
	r.flush()
	if strings.Join(order, ",") != "dry run,legacy" || saw != 0 || state != 1 {
		t.Fatalf("order %v, dry run saw state %d, final %d; want dry run then legacy, on state 0, ending at 1", order, saw, state)
	}
	c := r.counts(putRoute)
	if c.Pairs != 1 || c.DryRun != 1 || c.Different != 0 {
		t.Fatalf("counts %+v, want one dry-run pair equal under the timestamp rules", c)
	}
}

// Legacy gets a write as soon as the dry run's snapshot is taken: the
// rest of the dry run goes on beside and after legacy, off the client's
// path, and is still compared.
func TestDryRunFinishesAfterTheClientsAnswer(t *testing.T) {
	r := newRig(t, "", Options{})
	answered := make(chan struct{})
	var after atomic.Bool
	r.dry = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		dryrun.Opened(req.Context())
		select {
		case <-answered:
			after.Store(true)
		case <-time.After(10 * time.Second):
		}
		weaveHeaders(w, "1795895500.46")
		w.Write([]byte(`1795895500.46`))
	})
	r.legacy = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		weaveHeaders(w, "1795895500.47")
		w.Write([]byte(`1795895500.47`))
	})
	if w := r.serve("PUT", "/1.0/alice/storage/bookmarks/a", `{"payload":"x"}`); w.Body.String() != "1795895500.47" {
		t.Fatalf("client got %q, want legacy's answer", w.Body.String())
	}
	close(answered)
	r.flush()
	if !after.Load() {
		t.Fatal("the client waited for the whole dry run")
	}
	if c := r.counts(putRoute); c.Pairs != 1 || c.DryRun != 1 || c.Different != 0 {
		t.Fatalf("counts %+v, want the dry-run pair compared", c)
	}
}

// Dry runs in progress are bounded: a write beyond goes to legacy alone,
// at once, and is counted as not compared.
func TestDryRunsBounded(t *testing.T) {
	r := newRig(t, "", Options{DryRuns: 1})
	release := make(chan struct{})
	r.dry = http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		dryrun.Opened(req.Context())
		<-release
	})
	r.serve("PUT", "/1.0/alice/storage/bookmarks/a", `{}`)
	if w := r.serve("PUT", "/1.0/alice/storage/bookmarks/b", `{}`); !strings.Contains(w.Body.String(), "legacy") {
		t.Fatalf("client got %q", w.Body.String())
	}
	close(release)
	r.flush()
	if got := counter(r.sh.m.skipped, putRoute, "dry_run_busy"); got != 1 {
		t.Fatalf("skipped busy %v, want 1", got)
	}
	if c := r.counts(putRoute); c.Pairs != 1 {
		t.Fatalf("counts %+v, want the first write compared", c)
	}
}

func TestShadowWritesOff(t *testing.T) {
	yaml := defaultRoutes + "routes:\n  - match: \"" + putRoute + "\"\n    mode: shadow\n    shadow_writes: false\n"
	r := newRig(t, yaml, Options{})
	var dry atomic.Int64
	r.dry = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { dry.Add(1) })
	if w := r.serve("PUT", "/1.0/alice/storage/bookmarks/a", `{}`); !strings.Contains(w.Body.String(), "legacy") {
		t.Fatalf("client got %q", w.Body.String())
	}
	r.flush()
	if dry.Load() != 0 || counter(r.sh.m.skipped, putRoute, "writes_off") != 1 || r.counts(putRoute).Pairs != 0 {
		t.Fatalf("shadow_writes: false: dry runs %d, skipped %v", dry.Load(), counter(r.sh.m.skipped, putRoute, "writes_off"))
	}
}

// A dry run that hangs is cut off; the write still reaches legacy.
func TestDryRunTimeout(t *testing.T) {
	r := newRig(t, "", Options{DryRunTimeout: 50e6})
	r.dry = http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) { <-req.Context().Done() })
	if w := r.serve("PUT", "/1.0/alice/storage/bookmarks/a", `{}`); !strings.Contains(w.Body.String(), "legacy") {
		t.Fatalf("client got %q", w.Body.String())
	}
	r.flush()
	if got := counter(r.sh.m.skipped, putRoute, "dry_run_timeout"); got != 1 {
		t.Fatalf("skipped %v, want 1", got)
	}
}

// A write by the same user between legacy's answer and native's run makes
// the read pair stale: it is skipped, not reported as a difference.
func TestReadOvertakenByWriteIsSkipped(t *testing.T) {
	r := newRig(t, "", Options{Workers: 1})
	g := newGate()
	r.native = g.wrap(r.legacy) // would be identical if compared
	r.serve("GET", "/1.0/alice/info/collections", "")
	<-g.entered
	r.serve("PUT", "/1.0/alice/storage/bookmarks/a", `{}`)
	close(g.open)
	r.flush()
	if got := counter(r.sh.m.skipped, infoRoute, "stale"); got != 1 {
		t.Fatalf("stale %v, want 1", got)
	}
	if c := r.counts(infoRoute); c.Pairs != 0 {
		t.Fatalf("stale pair stored: %+v", c)
	}
	// Another user's write does not make alice's read stale.
	r.native = r.legacy
	r.serve("GET", "/1.0/alice/info/collections", "")
	r.serve("PUT", "/1.0/bob/storage/bookmarks/a", `{}`)
	r.flush()
	if c := r.counts(infoRoute); c.Pairs != 1 {
		t.Fatalf("counts %+v, want alice's read compared", c)
	}
}

// A native panic is the native side's answer (500), never the client's.
func TestNativePanicDoesNotReachClient(t *testing.T) {
	r := newRig(t, "", Options{})
	r.native = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	r.dry = r.native
	if w := r.serve("GET", "/1.0/alice/info/collections", ""); w.Code != 200 {
		t.Fatalf("read: client got %d", w.Code)
	}
	r.flush() // else the write makes the read stale
	if w := r.serve("PUT", "/1.0/alice/storage/bookmarks/a", "{}"); w.Code != 200 {
		t.Fatalf("write: client got %d", w.Code)
	}
	r.flush()
	if c := r.counts(infoRoute); c.Different != 1 {
		t.Fatalf("counts %+v, want the panic recorded as a difference", c)
	}
}

// A body over the capture limit reaches legacy whole and is not compared.
func TestBodyOverLimitPassesThrough(t *testing.T) {
	r := newRig(t, "", Options{MaxCapture: 1024})
	var got int
	r.legacy = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b := make([]byte, 10000)
		for {
			n, err := req.Body.Read(b)
			got += n
			if err != nil {
				break
			}
		}
	})
	body := strings.Repeat("y", 5000)
	r.serve("POST", "/1.0/alice/storage/bookmarks", body)
	if got != len(body) {
		t.Fatalf("legacy got %d bytes, want %d", got, len(body))
	}
	if c := counter(r.sh.m.skipped, "POST /{version}/{user}/storage/{collection}", "body_too_large"); c != 1 {
		t.Fatalf("skipped %v", c)
	}
}

func TestClosedShadowerStillServesLegacy(t *testing.T) {
	r := newRig(t, "", Options{})
	if err := r.sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w := r.serve("GET", "/1.0/alice/info/collections", ""); !strings.Contains(w.Body.String(), "legacy") {
		t.Fatalf("client got %q", w.Body.String())
	}
	if got := counter(r.sh.m.dropped, infoRoute, string(dropClosed)); got != 1 {
		t.Fatalf("dropped %v, want 1", got)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func weaveHeaders(w http.ResponseWriter, ts string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Weave-Timestamp", ts)
}

// Secrets never reach the diff store: the database files are searched
// for them byte by byte after a pair with a sample was stored.
func TestSecretsAreRedactedEndToEnd(t *testing.T) {
	r := newRig(t, "", Options{})
	const (
		oldPass = "0ld-Secret-Passw0rd"
		newPass = "n3w-Secret-Passw0rd"
		code    = "ABCD-EFGH-IJKL-MNOP"
	)
	creds := base64.StdEncoding.EncodeToString([]byte("alice:" + oldPass))
	r.serve("POST", "/user/1.0/alice/password", newPass,
		"Authorization", "Basic "+creds, "X-Weave-Password-Reset", code)
	r.serve("GET", "/user/1.0/alice/password_reset?code="+code, "", "Authorization", "Basic "+creds)
	r.flush()
	if c := r.counts("POST /user/{version}/{user}/password"); c.Different != 1 || c.DryRun != 1 {
		t.Fatalf("counts %+v, want one dry-run pair with a sample", c)
	}
	ss, err := r.st.Samples(context.Background(), "POST /user/{version}/{user}/password", "body.side")
	if err != nil || len(ss) != 1 {
		t.Fatalf("samples %v, %v", ss, err)
	}
	if got := ss[0].Pair.Request.Header.Get("Authorization"); got != "[redacted]" {
		t.Fatalf("stored Authorization %q", got)
	}
	files, _ := filepath.Glob(strings.TrimPrefix(r.dsn, "sqlite:") + "*")
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{oldPass, newPass, code, creds} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the secret %q", filepath.Base(f), secret)
			}
		}
	}
}

// learn_noise sends reads to legacy twice; a field legacy itself does not
// repeat is learned as noise rather than reported.
func TestLearnedNoise(t *testing.T) {
	yaml := defaultRoutes + "routes:\n  - match: \"" + countsRoute + "\"\n    mode: shadow\n    diff:\n      learn_noise: true\n"
	var seq atomic.Int64
	jittery := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"bookmarks":"x","served_by":%d}`, seq.Add(1))
	})
	var repeats atomic.Int64
	r := newRig(t, yaml, Options{Repeat: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		repeats.Add(1)
		jittery.ServeHTTP(w, req)
	})})
	r.legacy, r.native = jittery, jittery
	const n = 30
	for range n {
		r.serve("GET", "/1.0/alice/info/collection_counts", "")
	}
	// A route without learn_noise is not repeated.
	r.serve("GET", "/1.0/alice/info/quota", "")
	r.flush()
	if repeats.Load() != n {
		t.Fatalf("%d repeats, want %d", repeats.Load(), n)
	}
	if c := r.counts(countsRoute); c.Noise != n || c.Different != 0 {
		t.Fatalf("counts %+v, want all %d pairs noise", c, n)
	}
	fs, err := r.st.Fields(context.Background(), countsRoute)
	if err != nil || len(fs) != 1 || fs[0].Field != "body.served_by" || fs[0].Learned != noise.Noise {
		t.Fatalf("fields %+v, %v; want body.served_by learned as noise", fs, err)
	}
}

func TestParseConf(t *testing.T) {
	for _, tc := range []struct {
		block string
		share float64
		err   bool
	}{
		{"", -1, false},
		{"learn_noise: true", 1, false},
		{"learn_noise: 0.25\ntimestamp_tolerance: 10s", 0.25, false},
		{"learn_noise: false", 0, false},
		{"learn_noise: 2", -1, true},
		{"no_such_rule: 1", -1, true},
	} {
		var n *yaml.Node
		if tc.block != "" {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tc.block), &doc); err != nil {
				t.Fatal(err)
			}
			n = doc.Content[0]
		}
		pc := parseConf(n)
		if pc.learnNoise != tc.share || (pc.err != nil) != tc.err || pc.rules == nil {
			t.Errorf("%q: share %v err %v, want %v err %v", tc.block, pc.learnNoise, pc.err, tc.share, tc.err)
		}
	}
	pc := parseConf(mustNode(t, "learn_noise: 1\ntimestamp_tolerance: 10s"))
	if pc.rules.TimestampTolerance != 10*time.Second {
		t.Errorf("rules beside learn_noise not applied: %+v", pc.rules)
	}
}

func mustNode(t *testing.T, s string) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// GET password_reset mails a reset code: natively it may only run as a
// dry run, never on the handler that applies it.
func TestPasswordResetGetIsAWrite(t *testing.T) {
	r := newRig(t, "", Options{})
	r.native = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("password_reset ran on the native handler, which would mail a second code")
	})
	r.serve("GET", "/user/1.0/alice/password_reset", "")
	r.flush()
	if c := r.counts("GET /user/{version}/{user}/password_reset"); c.Pairs != 1 || c.DryRun != 1 {
		t.Fatalf("counts %+v, want one dry-run pair", c)
	}
}

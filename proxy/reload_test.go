package proxy

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"

	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

func infoYAML(mode string) string {
	return fmt.Sprintf(`# the comment Ops wrote
legacy:
  url: LEGACY
routes:
  - match: "GET /{version}/{user}/info/collections"
    mode: %s
`, mode)
}

func TestReloadUnderLoadLosesNoRequest(t *testing.T) {
	f := newFixture(t, infoYAML("legacy"), Config{Native: nativeHandler()})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, bad atomic.Int64
	var sides sync.Map
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := client.Get(f.srv.URL + "/1.0/alice/info/collections")
				if err != nil {
					bad.Add(1)
					t.Error(err)
					continue
				}
				b := make([]byte, 6)
				n, _ := res.Body.Read(b)
				res.Body.Close()
				side := string(b[:n])
				if res.StatusCode != 200 || (side != "native" && side != "legacy") {
					bad.Add(1)
					t.Errorf("%d %q", res.StatusCode, side)
					continue
				}
				sides.Store(side, true)
				ok.Add(1)
			}
		})
	}
	for i := range 40 {
		mode := []string{"native", "legacy"}[i%2]
		f.write(infoYAML(mode))
		must(t, f.p.Reload(t.Context()))
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	_, n := sides.Load("native")
	_, l := sides.Load("legacy")
	if bad.Load() != 0 || ok.Load() < 40 || !n || !l {
		t.Errorf("ok %d, failed %d, saw native %v legacy %v", ok.Load(), bad.Load(), n, l)
	}
}

func TestInFlightRequestKeepsItsTable(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	native := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		nativeHandler().ServeHTTP(w, r)
	})
	f := newFixture(t, infoYAML("native"), Config{Native: native})
	done := make(chan string)
	go func() {
		_, body, _ := f.do("GET", "/1.0/alice/info/collections", nil)
		done <- body
	}()
	<-entered
	f.write(infoYAML("legacy"))
	must(t, f.p.Reload(t.Context()))
	if _, body, _ := f.do("GET", "/1.0/alice/info/collections", nil); !strings.HasPrefix(body, "legacy") {
		t.Errorf("new request after reload: %q", body)
	}
	close(release)
	if body := <-done; !strings.HasPrefix(body, "native") {
		t.Errorf("in-flight request: %q", body)
	}
}

func TestInvalidReloadKeepsTheTable(t *testing.T) {
	f := newFixture(t, infoYAML("native"), Config{Native: nativeHandler()})
	before := f.p.Table()
	f.write(infoYAML("natve"))
	err := f.p.Reload(t.Context())
	if err == nil || !strings.Contains(err.Error(), "routes.yaml:6:11: unknown mode \"natve\"") {
		t.Fatalf("reload error %v", err)
	}
	if f.p.Table() != before {
		t.Error("an invalid file replaced the table")
	}
	if _, body, _ := f.do("GET", "/1.0/alice/info/collections", nil); !strings.HasPrefix(body, "native") {
		t.Errorf("served %q", body)
	}
	st := f.p.Status()
	if st.LastReload == nil || len(st.LastReload.Problems) != 1 || st.LastReload.Problems[0].Line != 6 {
		t.Errorf("status does not show the problem: %+v", st.LastReload)
	}
	if st.Hash != before.Hash() || st.Hash == "" {
		t.Errorf("status hash %q after a refused reload, want the table in force's %q", st.Hash, before.Hash())
	}
	if n := testutil.CollectAndCount(f.p.metrics.Table); n != 1 || testutil.ToFloat64(f.p.metrics.Table.WithLabelValues(before.Hash())) != 1 {
		t.Errorf("weaveproxy_routes_table has %d series, want the one of %s", n, before.Hash())
	}
	os.Remove(f.file)
	if err := f.p.Reload(t.Context()); err == nil || f.p.Table() != before {
		t.Errorf("a missing file: %v", err)
	}
	f.write(infoYAML("legacy"))
	must(t, f.p.Reload(t.Context()))
	if st := f.p.Status(); st.LastReload.Error != "" || st.Routes[0].Mode != routes.Legacy || st.Hash == before.Hash() {
		t.Errorf("after a good reload: %+v", st)
	}
	if n := testutil.CollectAndCount(f.p.metrics.Table); n != 1 || testutil.ToFloat64(f.p.metrics.Table.WithLabelValues(f.p.Table().Hash())) != 1 {
		t.Errorf("weaveproxy_routes_table after a reload: %d series", n)
	}
}

func TestReloadKeepsTheBreakerWhenLegacyIsUnchanged(t *testing.T) {
	f := newFixture(t, "legacy:\n  url: LEGACY\n  breaker: {failures: 1, open_for: 1h}\n", Config{Native: nativeHandler()})
	f.do("GET", "/x", nil, "X-Status", "502")
	if f.p.Status().Legacy.Breaker != "open" {
		t.Fatal("breaker did not open")
	}
	f.write("legacy:\n  url: LEGACY\n  breaker: {failures: 1, open_for: 1h}\ndefault: native\n")
	must(t, f.p.Reload(t.Context()))
	if f.p.Status().Legacy.Breaker != "open" {
		t.Error("a routes-only reload reset the legacy breaker")
	}
	f.write("legacy:\n  url: LEGACY\n  breaker: {failures: 2, open_for: 1h}\n")
	must(t, f.p.Reload(t.Context()))
	if st, _, _ := f.do("GET", "/x", nil); f.p.Status().Legacy.Breaker != "closed" || st != 200 {
		t.Error("new breaker settings did not give a new breaker")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func mode(p *Proxy) routes.Mode { return p.Table().Routes[0].Mode }

func startWatch(t *testing.T, p *Proxy) {
	ready := make(chan struct{})
	p.onWatchReady = func() { close(ready) }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- p.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	<-ready
}

func TestWatchSeesEditorsSaves(t *testing.T) {
	f := newFixture(t, infoYAML("legacy"), Config{Native: nativeHandler(), WatchDebounce: 20 * time.Millisecond})
	startWatch(t, f.p)

	f.write(infoYAML("native")) // rename over the file, as vim does
	waitFor(t, "rename-save reload", func() bool { return mode(f.p) == routes.Native })

	src := strings.ReplaceAll(infoYAML("shadow"), "LEGACY", f.legacy.URL)
	must(t, os.WriteFile(f.file, []byte(src), 0o644)) // in place
	waitFor(t, "in-place reload", func() bool { return mode(f.p) == routes.Shadow })

	must(t, os.WriteFile(f.file, []byte("legacy: {"), 0o644))
	waitFor(t, "failed reload", func() bool { r := f.p.Status().LastReload; return r != nil && r.Error != "" })
	if mode(f.p) != routes.Shadow {
		t.Error("broken save changed the table")
	}
}

func TestSIGHUPReloads(t *testing.T) {
	f := newFixture(t, infoYAML("legacy"), Config{Native: nativeHandler(), WatchDebounce: time.Hour})
	startWatch(t, f.p)
	f.write(infoYAML("native"))
	must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	waitFor(t, "SIGHUP reload", func() bool { return mode(f.p) == routes.Native })
}

func TestSetModeEditsTheFileAndApplies(t *testing.T) {
	f := newFixture(t, infoYAML("legacy"), Config{Native: nativeHandler()})
	must(t, f.p.SetMode(t.Context(), "GET /{version}/{user}/info/collections", routes.Canary, 100))
	if _, body, _ := f.do("GET", "/1.0/zed/info/collections", nil); !strings.HasPrefix(body, "native") {
		t.Errorf("after promote: %q", body)
	}
	b, _ := os.ReadFile(f.file)
	if !strings.Contains(string(b), "# the comment Ops wrote") || !strings.Contains(string(b), "percent: 100") {
		t.Errorf("file after SetMode:\n%s", b)
	}
	if err := f.p.SetMode(t.Context(), "GET /x", routes.Canary, 5); err == nil {
		t.Error("canary without {user} accepted")
	}
}

// TestReloadParsesAsLoaded: a reload parses the new file with the parser
// the running table came from, so diff: blocks a shadow side checks at
// start are checked at every reload too.
func TestReloadParsesAsLoaded(t *testing.T) {
	f := newFixture(t, infoYAML("shadow"), Config{Native: nativeHandler()})
	ps := routes.Parser{CheckDiff: func(n *yaml.Node) []routes.Problem {
		if n.Kind != yaml.MappingNode {
			return []routes.Problem{{Line: n.Line, Column: n.Column, Msg: "diff must be a mapping"}}
		}
		return nil
	}}
	tb, err := ps.Load(f.file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Table: tb, Native: nativeHandler(), Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f.write(infoYAML("shadow") + "    diff: [1]\n")
	if err := p.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), ":7:11: diff must be a mapping") {
		t.Errorf("reload with a bad diff block: %v", err)
	}
	if err := f.p.Reload(t.Context()); err != nil {
		t.Errorf("a table parsed without diff checks reloads it: %v", err)
	}
}

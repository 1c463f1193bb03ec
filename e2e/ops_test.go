package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// alertRules is the part of a Prometheus rules file the test reads.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// seriesName finds metric names in PromQL: ours, and the Go and process
// collectors'.
var seriesName = regexp.MustCompile(`\b(?:weaveproxy|go|process)_[a-z0-9_]+\b`)

// TestOpsRulesAndDashboardMatchMetrics loads deploy/prometheus-alerts.yml
// (with promtool when it is on PATH) and deploy/grafana-dashboard.json,
// drives a proxy in shadow mode until every event the rules and panels
// watch has happened once, and checks that each series they name is on its
// /metrics: a rule on a series that does not exist never fires.
func TestOpsRulesAndDashboardMatchMetrics(t *testing.T) {
	names := map[string][]string{} // series -> where it is used
	for _, n := range ruleSeries(t, "../deploy/prometheus-alerts.yml") {
		names[n] = append(names[n], "alert rules")
	}
	for _, n := range dashboardSeries(t, "../deploy/grafana-dashboard.json") {
		names[n] = append(names[n], "dashboard")
	}

	routes := "default: legacy\nroutes:\n" +
		"  - match: \"GET /{version}/{user}/info/collections\"\n    mode: shadow\n" +
		"  - match: \"GET /{version}/{user}/info/quota\"\n    mode: native\n"
	s := startStack(t, routes, stackOptions{memcache: true, extra: []string{
		"--rate-reads", "40", "--lockout-max-failures", "2",
		// One worker and a one-pair queue: a burst drops pairs for sure.
		"--shadow-workers", "1", "--shadow-queue", "1",
	}})
	var users []*client
	for i := range 6 {
		users = append(users, newUser(t, s.Proxy.URL, s.Proxy.URL, fmt.Sprintf("opsuser%d", i)))
	}
	// Shadowed reads in bursts until pairs were both compared and dropped
	// (each user stays under its 40 reads).
	for round := 0; !hasSeries(t, s, "weaveproxy_shadow_pairs_total", "weaveproxy_shadow_dropped_total"); round++ {
		if round == 6 {
			t.Fatalf("no compared and dropped shadow pairs after %d bursts:\n%s", round, scrape(t, s.Proxy.Admin))
		}
		var wg sync.WaitGroup
		for _, c := range users {
			for range 5 {
				wg.Go(func() { c.do("GET", "/1.1/"+c.user+"/info/collections", "", true) })
			}
		}
		wg.Wait()
	}

	// A user over its read budget.
	rl := newUser(t, s.Proxy.URL, s.Proxy.URL, "opsratelimited")
	clearOfWindowEdge(t, time.Minute, 20*time.Second)
	for i := 0; i <= 40; i++ {
		rl.do("GET", "/1.1/opsratelimited/info/quota", "", true)
	}
	rl.do("GET", "/1.1/opsratelimited/info/quota", "", true).want(t, "over budget", 503, "")

	// A locked account.
	lk := newUser(t, s.Proxy.URL, s.Proxy.URL, "opslocked")
	lk.pass = "wrong password"
	lk.do("GET", "/1.1/opslocked/info/quota", "", true).want(t, "first failure", 401, "")
	lk.do("GET", "/1.1/opslocked/info/quota", "", true).want(t, "locking failure", 401, `"Account locked"`)

	// memcached gone: the native side serves from the database and counts.
	s.MC.Stop()
	users[0].do("GET", "/1.1/opsuser0/info/quota", "", true).want(t, "memcache down", 200, "")

	// PHP gone: the breaker opens after its three failures.
	s.PHP.Stop()
	for range 4 {
		users[1].do("GET", "/1.1/opsuser1/storage/bookmarks", "", true)
	}
	page := scrape(t, s.Proxy.Admin)
	if !strings.Contains(page, `weaveproxy_breaker_state{upstream="legacy"} 2`) {
		t.Errorf("breaker not open (2) with PHP stopped:\n%s", page)
	}

	families := metricFamilies(t, page)
	var missing []string
	for n, where := range names {
		if !families[n] {
			missing = append(missing, fmt.Sprintf("%s (%s)", n, strings.Join(where, ", ")))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("series named by deploy/ but not on /metrics:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(names) < 15 {
		t.Errorf("only %d series found in the rules and dashboard: the extraction is broken", len(names))
	}
}

// ruleSeries parses a rules file and returns the series its expressions
// name. promtool checks it too when installed.
func ruleSeries(t *testing.T, path string) []string {
	t.Helper()
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not on PATH: the rules are parsed as YAML only")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rf alertRules
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v lacks a name, expression, severity or summary", r)
			}
			alerts[r.Alert] = true
			out = append(out, seriesName.FindAllString(r.Expr, -1)...)
		}
	}
	for _, want := range []string{"WeaveproxyBreakerOpen", "WeaveproxyShadowDropping", "WeaveproxyShadowMatchRateFalling", "Weaveproxy5xxRatio"} {
		if !alerts[want] {
			t.Errorf("no alert %s in %s", want, path)
		}
	}
	return out
}

// dashboardSeries returns the series the dashboard's panel queries name.
func dashboardSeries(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, seriesName.FindAllString(tg.Expr, -1)...)
		}
	}
	return out
}

func scrape(t testing.TB, admin string) string {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}

// metricFamilies maps each series name on a /metrics page to true: the
// families of the TYPE lines, and a histogram's _bucket, _sum and _count.
func metricFamilies(t testing.TB, page string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(page, "\n") {
		f := strings.Fields(l)
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		m[f[2]] = true
		if f[3] == "histogram" || f[3] == "summary" {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				m[f[2]+suf] = true
			}
		}
	}
	return m
}

func hasSeries(t testing.TB, s *stack, names ...string) bool {
	fam := metricFamilies(t, scrape(t, s.Proxy.Admin))
	for _, n := range names {
		if !fam[n] {
			return false
		}
	}
	return true
}

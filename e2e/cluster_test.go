package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// cluster is several weaveproxy processes on one MariaDB database and one
// memcached, in front of one PHP server, behind one round-robin address:
// what Ops run on the day one instance is not enough.
type cluster struct {
	URL       string // the round-robin address clients use
	Instances []*server
	routes    []string // each instance's own routes.yaml
	phpURL    string
}

const clusterRoutes = `default: legacy
routes:
  - match: "PUT /{version}/{user}/storage/{collection}/{id}"
    mode: native
  - match: "GET /{version}/{user}/info/quota"
    mode: native
  - match: "GET /{version}/{user}/info/collections"
    mode: %s
`

func startCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	dsn := testenv.MariaDB(t)
	dbInit(t, "mysql:"+dsn)
	db, err := legacy.DBConfigFromDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	mc := testenv.StartMemcached(t)
	php := legacy.Start(t, db, legacy.Options{MemcacheAddr: mc.Addr})
	c := &cluster{phpURL: php.URL}
	var backends []*url.URL
	for range n {
		// Each instance reads its own copy, as on separate hosts.
		p := filepath.Join(t.TempDir(), "routes.yaml")
		c.routes = append(c.routes, p)
		c.writeRoutes(t, p, "legacy")
		s := startServer(t, append([]string{"--db", "mysql:" + dsn, "--memcache", mc.Addr, "--routes", p}, extra...)...)
		c.Instances = append(c.Instances, s)
		u, _ := url.Parse(s.URL)
		backends = append(backends, u)
	}
	var next atomic.Uint64
	lb := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backends[(next.Add(1)-1)%uint64(len(backends))])
		r.Out.Host = r.In.Host // clients see one server: the balancer
	}})
	t.Cleanup(lb.Close)
	c.URL = lb.URL
	return c
}

func (c *cluster) writeRoutes(t *testing.T, path, infoMode string) {
	t.Helper()
	body := "legacy:\n  url: " + c.phpURL + "\n" + fmt.Sprintf(clusterRoutes, infoMode)
	if err := os.WriteFile(path+".tmp", []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// switchInfo rewrites every instance's routes.yaml and waits until each
// has reloaded it by itself; it returns the hashes the instances report.
func (c *cluster) switchInfo(t *testing.T, mode string) []string {
	t.Helper()
	for _, p := range c.routes {
		c.writeRoutes(t, p, mode)
	}
	hashes := make([]string, len(c.Instances))
	for i, s := range c.Instances {
		st := &stack{Proxy: s}
		waitFor(t, fmt.Sprintf("instance %d serving info/collections as %s", i, mode), func() bool {
			return st.modeOf(t, "GET /{version}/{user}/info/collections") == mode
		})
		_, raw := st.adminRoutes(t)
		var h struct {
			Hash string `json:"hash"`
		}
		mustJSON(t, raw, &h)
		hashes[i] = h.Hash
		// The same hash on /metrics, where the disagreement alert sees it.
		if series := fmt.Sprintf("weaveproxy_routes_table{hash=%q} 1\n", h.Hash); !strings.Contains(scrape(t, s.Admin), series) {
			t.Errorf("instance %d /metrics lacks %s", i, series)
		}
	}
	return hashes
}

func TestThreeInstancesOneDatabase(t *testing.T) {
	c := startCluster(t, 3, "--lockout-max-failures", "3", "--rate-reads", "100")

	t.Run("timestamps strictly increase across instances", func(t *testing.T) {
		// Before writes were ordered in the database (not per process),
		// two instances gave concurrent writes of one user one timestamp.
		u := newUser(t, c.URL, c.URL, "clusterts")
		const writers, each = 3, 15
		var mu sync.Mutex
		var all []float64
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				prev := 0.0
				for i := range each {
					r := u.do("PUT", fmt.Sprintf("/1.1/clusterts/storage/tabs/w%di%d", w, i), `{"payload":"x"}`, true)
					ts, err := strconv.ParseFloat(r.Body, 64)
					if r.Status != 200 || err != nil {
						t.Errorf("writer %d put %d: %d %q", w, i, r.Status, r.Body)
						return
					}
					if ts <= prev {
						t.Errorf("writer %d: timestamp %.2f after %.2f", w, ts, prev)
					}
					prev = ts
					mu.Lock()
					all = append(all, ts)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		sort.Float64s(all)
		for i := 1; i < len(all); i++ {
			if all[i] == all[i-1] {
				t.Errorf("two writes of one user got the same timestamp %.2f (instances raced)", all[i])
			}
		}
		var info map[string]float64
		mustJSON(t, u.do("GET", "/1.0/clusterts/info/collections", "", true).want(t, "info", 200, "").Body, &info)
		if len(all) == writers*each && info["tabs"] != all[len(all)-1] {
			t.Errorf("info/collections tabs = %.2f, want the last write's %.2f", info["tabs"], all[len(all)-1])
		}
	})

	t.Run("lockout is shared", func(t *testing.T) {
		newUser(t, c.URL, c.URL, "clusterlock")
		for i := range 3 { // one failure on each instance, round robin
			newClient(t, c.URL, "clusterlock", fmt.Sprintf("wrong %d", i)).
				do("GET", "/1.1/clusterlock/info/quota", "", true)
		}
		for i, s := range c.Instances {
			newClient(t, s.URL, "clusterlock", "correct horse battery").
				do("GET", "/1.1/clusterlock/info/quota", "", true).
				want(t, fmt.Sprintf("instance %d, right password", i), 401, `"Account locked"`)
		}
	})

	t.Run("rate budget is shared", func(t *testing.T) {
		u := newUser(t, c.URL, c.URL, "clusterrate")
		clearOfWindowEdge(t, time.Minute, 30*time.Second)
		for i := range 100 {
			u.do("GET", "/1.1/clusterrate/info/quota", "", true).want(t, fmt.Sprintf("read %d", i), 200, "")
		}
		for i, s := range c.Instances {
			d := *u
			d.base = s.URL
			d.do("GET", "/1.1/clusterrate/info/quota", "", true).want(t, fmt.Sprintf("instance %d over budget", i), 503, "")
		}
	})

	t.Run("route switch under load loses no request", func(t *testing.T) {
		var users []*client
		for i := range 6 {
			u := newUser(t, c.URL, c.URL, fmt.Sprintf("clusterload%d", i))
			u.do("PUT", fmt.Sprintf("/1.1/clusterload%d/storage/bookmarks/b", i), `{"payload":"p"}`, true).want(t, "seed", 200, "")
			users = append(users, u)
		}
		first := c.switchInfo(t, "legacy")
		for _, h := range first[1:] {
			if h != first[0] || h == "" {
				t.Fatalf("instances disagree on the table: %v", first)
			}
		}
		stop := make(chan struct{})
		var sent, failed atomic.Int64
		var wg sync.WaitGroup
		deadline := time.Now().Add(2 * time.Minute)
		for _, u := range users {
			wg.Go(func() {
				hc := &http.Client{Timeout: 30 * time.Second}
				// Bounded in count (under the read budget) and time.
				for i := 0; i < 90 && time.Now().Before(deadline); i++ {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("GET", c.URL+"/1.0/"+u.user+"/info/collections", nil)
					req.SetBasicAuth(u.user, u.pass)
					sent.Add(1)
					resp, err := hc.Do(req)
					if err != nil {
						failed.Add(1)
						t.Errorf("%s: %v", u.user, err)
						continue
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						failed.Add(1)
						t.Errorf("%s: status %d during the switch", u.user, resp.StatusCode)
					}
				}
			})
		}
		var phases [][]string
		for _, mode := range []string{"native", "legacy", "native"} {
			before := sent.Load()
			phases = append(phases, c.switchInfo(t, mode))
			waitFor(t, "requests served in mode "+mode, func() bool { return sent.Load() > before+10 })
		}
		close(stop)
		wg.Wait()
		for _, hs := range phases {
			for _, h := range hs[1:] {
				if h != hs[0] {
					t.Errorf("instances disagree after a switch: %v", hs)
				}
			}
		}
		if phases[0][0] == first[0] || phases[0][0] != phases[2][0] || phases[1][0] != first[0] {
			t.Errorf("hashes do not follow the table: legacy %s, then %v", first[0], phases)
		}
		t.Logf("%d requests during three route switches, %d failed", sent.Load(), failed.Load())
	})
}

package storageapi

import (
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/cache"
	"github.com/weaveproxy/weaveproxy/native/counter"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// TestWriteTabs503Memcache is Mozilla's test_write_tabs_503 as the Python
// server ran it: tabs live in memcache alone, memcache is gone, and then a
// batch POST to tabs answers 200 with every item failed as "db error",
// while a single PUT answers 503 with the back-off headers. Other
// collections still work from the database.
func TestWriteTabs503Memcache(t *testing.T) {
	for _, b := range storetest.Backends() {
		for _, v := range versions {
			t.Run(b.Name+"/"+v, func(t *testing.T) {
				mc := testenv.StartMemcached(t)
				e := newEnv(t, b, v, func(c *Config) {
					c.Engine = cache.New(c.Engine, counter.NewMemcacheClient(mc.Addr), cache.Config{TabsInMemcacheOnly: true})
				})
				e.put("tabs/before", `{"payload":"x"}`)
				mc.Stop()
				res := e.batch("tabs", `[{"id":"sure","payload":"x"},{"id":"thing","payload":"x"}]`)
				if len(res.Success) != 0 || res.Failed["sure"] != "db error" || res.Failed["thing"] != "db error" {
					t.Errorf("batch to tabs with memcache down: %+v", res)
				}
				rec := e.do("PUT", "storage/tabs/sure", `{"payload":"x"}`)
				if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || rec.Header().Get("X-Weave-Backoff") == "" {
					t.Errorf("PUT to tabs with memcache down: %d %v %q", rec.Code, rec.Header(), rec.Body.String())
				}
				e.put("bookmarks/fine", `{"payload":"x"}`)
			})
		}
	}
}

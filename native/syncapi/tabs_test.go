package syncapi

import (
	"net/http"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"weaveproxy/e2e/testenv"
	"weaveproxy/native/cache"
)

// forEachTabsEngine runs fn per engine and version on a handler whose
// engine keeps tabs in a real memcached alone, as the Python server did.
func forEachTabsEngine(t *testing.T, fn func(t *testing.T, e *env, mc *testenv.Memcached)) {
	forEachEngine(t, func(t *testing.T, kind string) {
		for _, v := range versions {
			t.Run(v, func(t *testing.T) {
				mc := testenv.StartMemcached(t)
				eng := cache.New(openEngine(t, kind), memcache.New(mc.Addr), cache.Config{TabsInMemcacheOnly: true})
				fn(t, newEnv(t, eng, Config{}).version(t, v), mc)
			})
		}
	})
}

func TestStrictNewerTabs(t *testing.T) {
	forEachTabsEngine(t, func(t *testing.T, e *env, _ *testenv.Memcached) {
		strictNewer(t, e, "tabs")
	})
}

func TestWriteTabs503(t *testing.T) {
	forEachTabsEngine(t, func(t *testing.T, e *env, mc *testenv.Memcached) {
		e.put("storage/tabs/before", `{"payload":"x"}`).ok(t)
		mc.Stop()
		a := e.batch(t, "tabs", `[{"id":"sure","payload":"x"},{"id":"you","payload":"x"}]`)
		if len(a.Success) != 0 || len(a.Failed) != 2 || a.Failed["sure"] != "db error" || a.Failed["you"] != "db error" {
			t.Errorf("batch to tabs with memcache down: %+v, want 2 bare \"db error\"", a)
		}
		r := e.put("storage/tabs/sure", `{"payload":"x"}`)
		r.want(t, http.StatusServiceUnavailable, `"Database unavailable"`)
		if r.hdr.Get("Retry-After") != "1800" || r.hdr.Get("X-Weave-Backoff") != "1800" {
			t.Errorf("503 headers %v", r.hdr)
		}
		// Other collections still work from the database.
		e.put("storage/col2/1", `{"payload":"x"}`).ok(t)
	})
}

package shadow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/diff/report"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/shadow"
)

// drift delays every native read by this much, so that each read pair's
// X-Weave-Timestamp is at least this far apart: the comparison must call
// that equal, not a finding.
const drift = 1500 * time.Millisecond

// session is a Sync client's life: register, upload, read back, delete.
// It waits for the comparisons before its deletes, as a client pausing
// between syncs would; otherwise reads still queued when the deletes land
// are skipped as stale, which is right but leaves less to check.
func session(t *testing.T, s *stack, user string) {
	c := newClient(t, s.URL, user)
	c.register()
	var batch []string
	for i := range 8 {
		batch = append(batch, fmt.Sprintf(`{"id": "b%d", "payload": "bookmark %d", "sortindex": %d, "parentid": "menu"}`, i, i, 10*i))
	}
	c.must("POST", "/1.0/"+user+"/storage/bookmarks", "["+strings.Join(batch, ",")+"]")
	c.must("PUT", "/1.0/"+user+"/storage/bookmarks/solo", `{"payload": "solo", "sortindex": 55}`)
	c.must("PUT", "/1.0/"+user+"/storage/history/h1", `{"payload": "visit"}`)
	c.must("PUT", "/1.0/"+user+"/storage/custom1/c1", `{"payload": "mine", "sortindex": 1}`)

	for _, p := range []string{
		"/info/collections", "/info/collection_counts", "/info/quota",
		"/storage/bookmarks", "/storage/bookmarks?full=1", "/storage/bookmarks?sort=index",
		"/storage/bookmarks?full=1&sort=newest", "/storage/bookmarks/b3", "/storage/custom1?full=1",
		"/storage/history?newer=1",
	} {
		c.do("GET", "/1.0/"+user+p, "") // info/quota answers 500 when planted
	}
	s.flush(t)
	c.must("DELETE", "/1.0/"+user+"/storage/bookmarks/solo", "")
	c.must("DELETE", "/1.0/"+user+"/storage/history", "")
	c.must("DELETE", "/1.0/"+user+"/storage/bookmarks?ids=b0,b1", "")
	s.flush(t)
	c.must("GET", "/1.0/"+user+"/info/collection_counts", "")
	s.flush(t)
	c.must("DELETE", "/user/1.0/"+user, "")
	s.flush(t)
}

// findings runs the session against a fresh backend with the given plants
// and returns the report and, per route, its real (not noise, not
// waived) differing fields.
func findings(t *testing.T, keep **store.Store, plants ...string) (*report.Report, map[string][]string) {
	b := newBackend(t, plants...)
	s := newStack(t, b, stackOptions{shadow: shadow.Options{Workers: 4},
		wrapNat: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(drift)
				h.ServeHTTP(w, r)
			})
		}})
	session(t, s, "shadowuser")
	if keep != nil {
		*keep = s.st
	}
	ctx := context.Background()
	dir := t.TempDir()
	if err := report.Write(ctx, s.st, dir); err != nil {
		t.Fatal(err)
	}
	b2, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b2, &rep); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Fatal(err)
	}
	real := map[string][]string{}
	for _, r := range rep.Routes {
		for _, f := range r.Fields {
			if f.Real > 0 {
				real[r.Route] = append(real[r.Route], f.Field)
			}
		}
		sort.Strings(real[r.Route])
	}
	return &rep, real
}

func TestSessionFindsPlantedDifferences(t *testing.T) {
	controlRep, control := findings(t, nil)
	var st *store.Store
	rep, planted := findings(t, &st, legacy.PlantStatusInfoQuota, legacy.PlantDropSortindex, legacy.PlantReverseSortIndex)
	for route, fs := range control {
		t.Logf("native and the fixture differ without plants: %s: %v", route, fs)
	}
	const (
		quota = "GET /{version}/{user}/info/quota"
		coll  = "GET /{version}/{user}/storage/{collection}"
		item  = "GET /{version}/{user}/storage/{collection}/{id}"
	)
	want := map[string][]string{
		quota: {"status"},                       // a changed status code
		item:  {"body.sortindex"},               // a missing field
		coll:  {"body[*].sortindex", "body[*]"}, // missing in full lists; a reordered sorted list
	}
	for route, fields := range want {
		for _, f := range fields {
			if !has(planted[route], f) {
				t.Errorf("%s: planted difference %s not found; real findings %v", route, f, planted[route])
			}
			if has(control[route], f) {
				t.Errorf("%s: %s differs without the plant too: the test proves nothing", route, f)
			}
		}
	}
	// The reordering is found where the order is part of the API: on
	// sort=index, the list differs element by element.
	samples, err := st.Samples(context.Background(), coll, "body[*]")
	if err != nil {
		t.Fatal(err)
	}
	if !sampled(samples, "sort=index") {
		t.Errorf("no sample of body[*] on a sort=index read")
	}
	for _, r := range []map[string][]string{control, planted} {
		for route, fs := range r {
			for _, f := range fs {
				if isTimestamp(f) {
					t.Errorf("%s: timestamp field %s reported as a real difference", route, f)
				}
			}
		}
	}
	// The drift was there, and tolerated: the item reads of the control
	// run carry X-Weave-Timestamps 1.5 s apart, so none is identical, and
	// all are equal after the rules.
	for _, r := range controlRep.Routes {
		if r.Route == item && (r.Pairs == 0 || r.Identical != 0 || r.EqualAfterRules != r.Pairs) {
			t.Errorf("%s without plants: %+v, want every pair equal after rules, none identical", item, r.Counts)
		}
		if strings.HasPrefix(r.Route, "GET") && !strings.HasSuffix(r.Route, "/password_reset") && r.DryRun > 0 {
			t.Errorf("%s: read pairs marked dry run", r.Route)
		}
	}
	if writes := dryRuns(rep); writes < 9 {
		t.Errorf("%d dry-run pairs, want every write of the session (register, 4 uploads, 3 deletes, delete user)", writes)
	}
}

func sampled(ss []store.Sample, query string) bool {
	for _, s := range ss {
		if strings.Contains(s.Pair.Request.Path, query) {
			return true
		}
	}
	return false
}

func dryRuns(rep *report.Report) int64 {
	var n int64
	for _, r := range rep.Routes {
		n += r.DryRun
	}
	return n
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isTimestamp(field string) bool {
	return field == "header.x-weave-timestamp" || strings.HasSuffix(field, ".modified") ||
		strings.HasSuffix(field, "]modified")
}

// storeGate reads route summaries; the e2e tests look at counts, not at
// verdicts.
var storeGate = store.Gate{MinPairs: 1, LastM: 100}

package store_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/store"
)

// Requests shadowed and not compared are counted per route and reason:
// the route's coverage is its pairs over all it shadowed, and a route
// whose traffic was all shed is still listed, with no pair and no
// difference.
func TestCoverage(t *testing.T) {
	backends(t, store.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		same := answer(200, `{"a":1}`)
		for range 2 {
			e.observe(t, e.pair(infoRoute, infoPath, same, same), diff.Identical)
		}
		for range 2 { // added, not replaced
			if err := e.st.AddUncompared(ctx, map[store.Uncompared]int64{
				{Route: infoRoute, Reason: "cpu_busy"}: 3, {Route: quotaRoute, Reason: "cpu_busy"}: 5}); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.st.AddUncompared(ctx, map[store.Uncompared]int64{{Route: infoRoute, Reason: "too_old"}: 2}); err != nil {
			t.Fatal(err)
		}
		rs := e.route(t, infoRoute)
		if want := map[string]int64{"cpu_busy": 6, "too_old": 2}; !reflect.DeepEqual(rs.NotCompared, want) {
			t.Fatalf("not compared %v, want %v", rs.NotCompared, want)
		}
		if rs.Shadowed() != 10 || rs.Coverage() != 0.2 || rs.Different != 0 {
			t.Fatalf("shadowed %d, coverage %v, different %d; want 10, 0.2, 0", rs.Shadowed(), rs.Coverage(), rs.Different)
		}
		names, err := e.st.RouteNames(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(names, []string{infoRoute, quotaRoute}) {
			t.Fatalf("routes %v", names)
		}
		q := e.route(t, quotaRoute)
		if q.Pairs != 0 || q.Shadowed() != 10 || q.Coverage() != 0 || q.Verdict.Ready {
			t.Fatalf("all shed: %+v", q)
		}
	})
}

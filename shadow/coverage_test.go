package shadow

import (
	"testing"

	"github.com/weaveproxy/weaveproxy/diff/store"
)

// Counts the store did not take are put back and added to those gathered
// meanwhile, so that a failed write loses none.
func TestCoveragePutBackKeepsCounts(t *testing.T) {
	var c coverage
	c.add("r", "cpu_busy")
	c.add("r", "cpu_busy")
	failed := c.take()
	c.add("r", "cpu_busy")
	c.add("r", "too_old")
	c.putBack(failed)
	got := c.take()
	want := map[store.Uncompared]int64{{Route: "r", Reason: "cpu_busy"}: 3, {Route: "r", Reason: "too_old"}: 1}
	if len(got) != len(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%v: %d, want %d", k, got[k], n)
		}
	}
	if c.take() != nil {
		t.Error("take did not start again")
	}
}

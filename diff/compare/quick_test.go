package compare

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/normalize"
	"github.com/weaveproxy/weaveproxy/diff/rules"
)

// history is a full=1 answer of n items, PHP's escaped slashes or not.
func history(n int, escaped bool) string {
	items := make([]string, n)
	for i := range items {
		p := `"a/b"`
		if escaped {
			p = `"a\/b"`
		}
		items[i] = fmt.Sprintf(`{"id":"i%d","modified":1795895400.%02d,"sortindex":%d,"payload":%s}`, i, i%100, n-i, p)
	}
	return "[" + strings.Join(items, ",") + "]"
}

// The pairs shadowing sees most, which the fast path decides: each is
// decided (quickEqual ok) and exactly as the full comparison would.
func TestFastPathDecidesCommonPairs(t *testing.T) {
	ts := "X-Weave-Timestamp: 1795895500.70"
	tests := []struct {
		name   string
		rq     diff.Exchange
		a, b   diff.Answer
		decide bool
		class  diff.Class
	}{
		{"history, same bytes, later clock", req("GET", coll+"?full=1&limit=100&sort=index"),
			ans(200, history(100, false), ctJSON, ts), ans(200, history(100, false), ctJSON, "X-Weave-Timestamp: 1795895500.72"),
			true, diff.EqualAfterRules},
		{"history, escaped slashes", req("GET", coll+"?full=1&limit=100&sort=index"),
			ans(200, history(100, true), ctJSON, ts), ans(200, history(100, false), ctJSON, ts),
			true, diff.EqualAfterRules},
		{"info, number forms", req("GET", info),
			ans(200, `{"bookmarks":1795895400.5,"history":1795895400.25}`, ctJSON, ts),
			ans(200, `{"history":1795895400.25,"bookmarks":1795895400.50}`, ctJSON, ts),
			true, diff.EqualAfterRules},
		{"POST, other write time", req("POST", coll),
			ans(200, `{"modified":1795895500.70,"success":["a","b"],"failed":{}}`, ctJSON, ts),
			ans(200, `{"modified":1795895500.71,"success":["a","b"],"failed":{}}`, ctJSON, "X-Weave-Timestamp: 1795895500.71"),
			true, diff.EqualAfterRules},
		{"a real difference", req("GET", info),
			ans(200, `{"bookmarks":1795895400.5}`, ctJSON, ts), ans(200, `{"forms":1795895400.5}`, ctJSON, ts),
			false, diff.Different},
		{"a clock of three decimals: a relation", req("GET", coll+"?full=1"),
			ans(200, history(3, false), ctJSON, ts), ans(200, history(3, false), ctJSON, "X-Weave-Timestamp: 1795895500.701"),
			true, diff.Different},
		{"another order", req("POST", coll),
			ans(200, `{"modified":1795895500.70,"success":["a","b"],"failed":{}}`, ctJSON, ts),
			ans(200, `{"modified":1795895500.70,"success":["b","a"],"failed":{}}`, ctJSON, ts),
			false, diff.Different},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := rules.Default().Compile(tt.rq.Method, tt.rq.Path)
			if err != nil {
				t.Fatal(err)
			}
			nopt := normalize.Options{IgnoreHeader: c.IgnoreHeader}
			fa, fb := normalize.Answer(tt.a, nopt), normalize.Answer(tt.b, nopt)
			if ok, _, _ := quickEqual(c, fa, fb, string(tt.a.Body) == string(tt.b.Body)); ok != tt.decide {
				t.Errorf("fast path decided: %v, want %v", ok, tt.decide)
			}
			fast, err := Answers(tt.rq, tt.a, tt.b, nil)
			if err != nil {
				t.Fatal(err)
			}
			full, _ := answers(tt.rq, tt.a, tt.b, nil, false)
			if !reflect.DeepEqual(fast, full) {
				t.Fatalf("fast path %+v\nfull comparison %+v", fast, full)
			}
			if fast.Class != tt.class {
				t.Fatalf("class %s, want %s: %+v", fast.Class, tt.class, fast)
			}
		})
	}
}

// BenchmarkCompareHistory compares a 100-item history pair that differs
// only in its clock, as shadowing sees it (fast) and through go-cmp alone
// (full):
//
//	go test -run '^$' -bench CompareHistory -benchmem ./diff/compare/
func BenchmarkCompareHistory(b *testing.B) {
	rq := req("GET", coll+"?full=1&limit=100&sort=index")
	a := ans(200, history(100, true), ctJSON, "X-Weave-Timestamp: 1795895500.70")
	n := ans(200, history(100, false), ctJSON, "X-Weave-Timestamp: 1795895500.72")
	for _, fast := range []bool{true, false} {
		b.Run(map[bool]string{true: "fast", false: "full"}[fast], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if res, _ := answers(rq, a, n, nil, fast); res.Class != diff.EqualAfterRules {
					b.Fatalf("%+v", res)
				}
			}
		})
	}
}

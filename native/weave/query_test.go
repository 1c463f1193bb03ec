package weave

import (
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want store.Timestamp
		ok   bool
	}{
		{"1795895500.65", 179589550065, true},
		{"1795895500.7", 179589550070, true},
		{"1795895500", 179589550000, true},
		{"1000", 100000, true},
		{" 12.5 ", 1250, true},
		{"+1.005", 100, true},  // half-even: 100.5 → 100
		{"1.015", 102, true},   // 101.5 → 102
		{"1.0151", 102, true},  // above half
		{"1.0049", 100, true},  // below half
		{"0.005", 0, true},     // 0.5 → 0
		{"0.015", 2, true},     // 1.5 → 2
		{"0.0050001", 1, true}, // above half
		{"1e3", 100000, true},
		{"1.5E-2", 2, true}, // 1.5 → 2
		{"2.5e-2", 2, true}, // 2.5 → 2
		{".5", 50, true},
		{"5.", 500, true},
		{"-1.5", -150, true},
		{"0", 0, true},
		{"000123.450", 12345, true},
		{"1e-9999999", 0, true},
		{"1e99999999999", maxTimestamp, true},
		{"99999999999999999999999", maxTimestamp, true},
		{"", 0, false},
		{"abc", 0, false},
		{"1.2.3", 0, false},
		{"nan", 0, false},
		{"inf", 0, false},
		{"Infinity", 0, false},
		{"0x10", 0, false},
		{"1_000", 0, false},
		{"1e", 0, false},
		{".", 0, false},
		{"--1", 0, false},
		{"1/2", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseTimestamp(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseQuery(t *testing.T) {
	ts := func(v store.Timestamp) *store.Timestamp { return &v }
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		raw  string
		want CollectionQuery
	}{
		{"", CollectionQuery{}},
		{"full=1", CollectionQuery{Full: true}},
		{"full=0", CollectionQuery{Full: true}},
		{"full=", CollectionQuery{}},
		{"ids=1,3", CollectionQuery{Query: store.Query{IDs: []string{"1", "3"}, HasIDs: true}}},
		{"ids=", CollectionQuery{Query: store.Query{IDs: []string{""}, HasIDs: true}}},
		{"parentid=item1&predecessorid=", CollectionQuery{Query: store.Query{ParentID: ptr("item1"), PredecessorID: ptr("")}}},
		{"older=1795895500.65&newer=1000", CollectionQuery{Query: store.Query{Older: ts(179589550065), Newer: ts(100000)}}},
		{"index_above=10&index_below=1e2", CollectionQuery{Query: store.Query{IndexAbove: f(10), IndexBelow: f(100)}}},
		{"limit=2", CollectionQuery{Query: store.Query{Limit: 2}}},
		{"offset=2&limit=3", CollectionQuery{Query: store.Query{Limit: 3, Offset: 2}}},
		{"offset=2", CollectionQuery{}},
		{"limit=-1&offset=5", CollectionQuery{}},
		{"limit=0", CollectionQuery{}},
		{"limit=5&offset=-3", CollectionQuery{Query: store.Query{Limit: 5}}},
		{"limit=99999999999999999999", CollectionQuery{Query: store.Query{Limit: 2147483647}}},
		{"sort=oldest", CollectionQuery{Query: store.Query{Sort: store.SortOldest}}},
		{"sort=newest", CollectionQuery{Query: store.Query{Sort: store.SortNewest}}},
		{"sort=index", CollectionQuery{Query: store.Query{Sort: store.SortIndex}}},
		{"sort=bogus", CollectionQuery{}},
		{"blabla=1&client=FxHome&v=1.1b2", CollectionQuery{}},
		{"limit=1&limit=4", CollectionQuery{Query: store.Query{Limit: 4}}},
	}
	for _, tt := range tests {
		v, _ := url.ParseQuery(tt.raw)
		got, err := ParseQuery(v)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", tt.raw, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseQuery(%q) (-want +got):\n%s", tt.raw, diff)
		}
	}
}

// TestParseQueryRejects is test_weird_args: non-numbers give 400 code 1.
func TestParseQueryRejects(t *testing.T) {
	for _, name := range []string{"older", "newer", "index_above", "index_below", "limit", "offset"} {
		for _, bad := range []string{"abc", "", "1.2.3", "nan", "-inf"} {
			if name == "limit" || name == "offset" {
				if bad == "" {
					bad = "1.5"
				}
			}
			v := url.Values{name: {bad}}
			_, err := ParseQuery(v)
			we, ok := AsError(err)
			if !ok || we.Status != 400 || we.Code != CodeIllegalMethod {
				t.Errorf("%s=%q: got %v, want 400 code 1", name, bad, err)
			}
		}
	}
	// A huge garbage ids list is not an error.
	v := url.Values{"ids": {strings.Repeat("garbage!,", 100)}}
	if _, err := ParseQuery(v); err != nil {
		t.Errorf("garbage ids: %v", err)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "older=1.005&newer=2", "limit=3&offset=2&sort=index", "ids=a,b,",
		"index_above=1e308&index_below=-1e999", "newer=1e99999999", "full=0", "limit=+7", "older=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery(v)
		if err != nil {
			we, ok := AsError(err)
			if !ok || we.Status != 400 || we.Code != CodeIllegalMethod {
				t.Fatalf("error is not 400 code 1: %v", err)
			}
			return
		}
		if q.Limit < 0 || q.Offset < 0 || (q.Limit == 0 && q.Offset != 0) {
			t.Fatalf("limit/offset invariant broken: %+v", q)
		}
		for _, p := range []*store.Timestamp{q.Older, q.Newer} {
			if p != nil && (*p > maxTimestamp || *p < -maxTimestamp) {
				t.Fatalf("timestamp out of bounds: %d", *p)
			}
		}
		for _, p := range []*float64{q.IndexAbove, q.IndexBelow} {
			if p != nil && (math.IsNaN(*p) || math.IsInf(*p, 0)) {
				t.Fatalf("index bound not finite: %v", *p)
			}
		}
		if q.HasIDs != (q.IDs != nil) {
			t.Fatalf("ids flags disagree: %+v", q)
		}
		// A timestamp written back in Python's two-decimal form reads the same.
		if q.Newer != nil {
			back, ok := ParseTimestamp(Python.FormatTimestamp(*q.Newer))
			if !ok || back != *q.Newer {
				t.Fatalf("timestamp %d does not round-trip: %d", *q.Newer, back)
			}
		}
	})
}

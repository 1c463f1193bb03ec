package weave

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// slowBatch is what a POST body gave before ParseBatch: DecodeJSON, then
// SplitBatch of a list (ok false for anything else).
func slowBatch(body []byte, lim BatchLimits) ([]Item, *BatchResult, bool) {
	v, err := DecodeJSON(body)
	if err != nil {
		return nil, nil, false
	}
	elems, isList := v.([]any)
	if !isList {
		return nil, nil, false
	}
	kept, res := SplitBatch(elems, lim)
	return kept, res, true
}

var batchCmp = cmp.AllowUnexported(BatchResult{}, failure{})

// TestParseBatch: the bodies ParseBatch takes get what DecodeJSON and
// SplitBatch give them; the others are left to those two.
func TestParseBatch(t *testing.T) {
	lim := BatchLimits{MaxCount: 3, MaxBytes: 20}
	cases := []struct {
		name, body string
		taken      bool
	}{
		{"the bench's body", string(batchBody(100, 300)), true},
		{"empty list", " [ ] \n", true},
		{"nulls, numbers as ids and refs", `[{"id":12,"parentid":null,"predecessorid":3.5e2,"sortindex":-7,"ttl":"60","payload":null}]`, true},
		{"invalid items", `[{}, {"id":""}, {"id":"a","sortindex":1e12}, {"id":"b","payload":5}, {"id":"c","ttl":-1}]`, true},
		{"limits: count and bytes", `[{"id":"a","payload":"0123456789"},{"id":"b","payload":"0123456789"},{"id":"c"},{"id":"d"}]`, true},
		{"a repeated id", `[{"id":"a","payload":"1"},{"id":"a","payload":"2"}]`, true},
		{"non-ASCII strings", `[{"id":"ü😀","payload":"日本"}]`, true},
		{"an escape", `[{"id":"a","payload":"x\"y"}]`, true},
		{"a client's encrypted payload", string(firefoxBody(3)), true},
		{"every escape JSON has", `[{"id":"\"\\\/\b\f\n\r\t","payload":"\u00fc\ud83d\ude00 \ud800 \u0000"}]`, true},
		{"an escaped key", `[{"\u0069d":"a"}]`, true},
		{"an escaped key repeating another", `[{"\u0069d":"a","id":"b"}]`, false},
		{"an escape JSON lacks", `[{"id":"a\x41"}]`, false},
		{"a short unicode escape", `[{"id":"a\u12"}]`, false},
		{"cut short after a backslash", `[{"id":"a\`, false},
		{"an unknown key", `[{"id":"a","modified":1}]`, false},
		{"a repeated key", `[{"id":"a","id":"b"}]`, false},
		{"a boolean", `[{"id":true}]`, false},
		{"a nested value", `[{"id":"a","payload":["x"]}]`, false},
		{"not an object", `[1]`, false},
		{"an object body", `{"id":"a"}`, false},
		{"trailing data", `[] []`, false},
		{"bad number", `[{"id":01}]`, false},
		{"not UTF-8", "[{\"id\":\"\xff\"}]", false},
		{"cut short", `[{"id":"a"`, false},
		{"a control character", "[{\"id\":\"a\tb\"}]", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kept, res, ok := ParseBatch([]byte(c.body), lim)
			if ok != c.taken {
				t.Fatalf("taken %v, want %v", ok, c.taken)
			}
			if !ok {
				return
			}
			wantKept, wantRes, wantOK := slowBatch([]byte(c.body), lim)
			if !wantOK {
				t.Fatal("taken, but DecodeJSON refuses it")
			}
			if d := cmp.Diff(wantKept, kept); d != "" {
				t.Errorf("kept (-slow +fast):\n%s", d)
			}
			if d := cmp.Diff(wantRes, res, batchCmp); d != "" {
				t.Errorf("result (-slow +fast):\n%s", d)
			}
		})
	}
}

// FuzzParseBatch: whatever ParseBatch takes, DecodeJSON and SplitBatch
// take too, with the same items and failures.
func FuzzParseBatch(f *testing.F) {
	for _, s := range []string{`[{"id":"a","payload":"x","sortindex":5,"ttl":10}]`, `[]`, `[{"id":1e2},{}]`,
		`[{"id":"a","parentid":"b","predecessorid":null}]`, `[{"sortindex":"-3.7","ttl":"+5"}]`, `[{"id":-0.0e-0}]`,
		`[{"id":"\u0061\"","payload":"{\"ciphertext\":\"x\\/y\"}"}]`, `[{"\u0069d":"\ud800"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		lim := BatchLimits{MaxCount: 4, MaxBytes: 30}
		kept, res, ok := ParseBatch(body, lim)
		if !ok {
			return
		}
		wantKept, wantRes, wantOK := slowBatch(body, lim)
		if !wantOK {
			t.Fatalf("taken, but DecodeJSON refuses %q", body)
		}
		if d := cmp.Diff(wantKept, kept); d != "" {
			t.Fatalf("kept (-slow +fast):\n%s", d)
		}
		if d := cmp.Diff(wantRes, res, batchCmp); d != "" {
			t.Fatalf("result (-slow +fast):\n%s", d)
		}
	})
}

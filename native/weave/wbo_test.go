package weave

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestParseWBO(t *testing.T) {
	big := strings.Repeat("z", MaxPayloadBytes)
	tests := []struct {
		body  string
		urlID string
		want  store.WBO
		ttl   *int64
		code  Code
	}{
		{body: `{"id":"item1","payload":"hello","sortindex":5}`, urlID: "item1",
			want: store.WBO{ID: "item1", Payload: ptr("hello"), PayloadSize: 5, SortIndex: ptr(int64(5))}},
		{body: `{"payload":"from url"}`, urlID: "item2",
			want: store.WBO{ID: "item2", Payload: ptr("from url"), PayloadSize: 8}},
		// The URL id wins, and a bad body id does not matter.
		{body: `{"id":"` + strings.Repeat("x", 70) + `","payload":"x"}`, urlID: "u",
			want: store.WBO{ID: "u", Payload: ptr("x"), PayloadSize: 1}},
		{body: `{"payload":"x","sortindex":3.7}`, urlID: "sf",
			want: store.WBO{ID: "sf", Payload: ptr("x"), PayloadSize: 1, SortIndex: ptr(int64(3))}},
		{body: `{"sortindex":"12"}`, urlID: "s",
			want: store.WBO{ID: "s", SortIndex: ptr(int64(12))}},
		{body: `{"sortindex":" 4.9 "}`, urlID: "s",
			want: store.WBO{ID: "s", SortIndex: ptr(int64(4))}},
		{body: `{"sortindex":-0.5}`, urlID: "s", want: store.WBO{ID: "s", SortIndex: ptr(int64(0))}},
		{body: `{"sortindex":1e3}`, urlID: "s", want: store.WBO{ID: "s", SortIndex: ptr(int64(1000))}},
		{body: `{"sortindex":999999999}`, urlID: "s", want: store.WBO{ID: "s", SortIndex: ptr(int64(999999999))}},
		{body: `{"sortindex":-999999999.9}`, urlID: "s", want: store.WBO{ID: "s", SortIndex: ptr(int64(-999999999))}},
		{body: `{"payload":"t","ttl":3600}`, urlID: "t",
			want: store.WBO{ID: "t", Payload: ptr("t"), PayloadSize: 1}, ttl: ptr(int64(3600))},
		{body: `{"payload":"t","ttl":2.9}`, urlID: "t",
			want: store.WBO{ID: "t", Payload: ptr("t"), PayloadSize: 1}, ttl: ptr(int64(2))},
		{body: `{"payload":"t","ttl":"0"}`, urlID: "t",
			want: store.WBO{ID: "t", Payload: ptr("t"), PayloadSize: 1}, ttl: ptr(int64(0))},
		{body: `{"payload":"ü✓"}`, urlID: "u", want: store.WBO{ID: "u", Payload: ptr("ü✓"), PayloadSize: 5}},
		{body: `{"payload":"` + big + `"}`, urlID: "b",
			want: store.WBO{ID: "b", Payload: ptr(big), PayloadSize: MaxPayloadBytes}},
		{body: `{"payload":null,"parentid":12,"predecessorid":"p","modified":5,"extra":true,"x":null}`, urlID: "p",
			want: store.WBO{ID: "p", ParentID: ptr("12"), PredecessorID: ptr("p")}},
		{body: `{"payload":"x","parentid":"` + strings.Repeat("p", 64) + `"}`, urlID: "p",
			want: store.WBO{ID: "p", Payload: ptr("x"), PayloadSize: 1, ParentID: ptr(strings.Repeat("p", 64))}},
		// Any printable id: base64's '/', '+' and '=', spaces, non-ASCII.
		{body: `{"payload":"x"}`, urlID: "a/b", want: store.WBO{ID: "a/b", Payload: ptr("x"), PayloadSize: 1}},
		{body: `{"id":"ab/cd+ef==","payload":"x"}`, want: store.WBO{ID: "ab/cd+ef==", Payload: ptr("x"), PayloadSize: 1}},
		{body: `{"id":" ..% ?#ü","payload":"x"}`, want: store.WBO{ID: " ..% ?#ü", Payload: ptr("x"), PayloadSize: 1}},
		// Unknown keys are ignored whatever they hold (PHP stored these).
		{body: `{"payload":"x","unknown":[1],"obj":{"a":{}}}`, urlID: "k", want: store.WBO{ID: "k", Payload: ptr("x"), PayloadSize: 1}},

		{body: `{oops`, urlID: "x", code: CodeJSONParse},
		{body: `{"a":1} {"b":2}`, urlID: "x", code: CodeJSONParse},
		{body: "{\"payload\":\"\xff\"}", urlID: "x", code: CodeJSONParse},
		{body: ``, urlID: "x", code: CodeJSONParse},
		{body: `NaN`, urlID: "x", code: CodeJSONParse},
		{body: `"notawbo"`, urlID: "x", code: CodeInvalidWBO},
		{body: `42`, urlID: "x", code: CodeInvalidWBO},
		{body: `[1, 2]`, urlID: "x", code: CodeInvalidWBO},
		{body: `null`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"id":["1","2"],"payload":{"3":"4"}}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","parentid":["p"]}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","sortindex":{"n":1}}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x"}`, urlID: strings.Repeat("x", 65), code: CodeInvalidWBO},
		{body: `{"payload":"x"}`, urlID: "a\tb", code: CodeInvalidWBO},
		{body: `{"payload":"x"}`, urlID: "a\x7fb", code: CodeInvalidWBO},
		{body: `{"payload":"x"}`, urlID: "a\u0085b", code: CodeInvalidWBO},
		{body: `{"id":"nl\n","payload":"x"}`, code: CodeInvalidWBO},
		{body: `{"payload":"x","sortindex":"abc"}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","sortindex":"FAIL"}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","sortindex":1000000000}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","sortindex":12345678901234567890}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","sortindex":"inf"}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","sortindex":true}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","ttl":-1}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","ttl":31536001}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","ttl":"3.5"}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":{"a":1}}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":42}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"` + big + `z"}`, urlID: "x", code: CodeInvalidWBO},
		{body: `{"payload":"x","parentid":"` + strings.Repeat("p", 65) + `"}`, urlID: "x", code: CodeInvalidWBO},
	}
	for _, tt := range tests {
		name := tt.body
		if len(name) > 60 {
			name = name[:60]
		}
		it, err := ParseWBO([]byte(tt.body), tt.urlID)
		if tt.code != 0 {
			we, ok := AsError(err)
			if !ok || we.Status != 400 || we.Code != tt.code {
				t.Errorf("%s: got %v, want 400 code %d", name, err, tt.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, it.WBO); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		if diff := cmp.Diff(tt.ttl, it.TTL); diff != "" {
			t.Errorf("%s ttl (-want +got):\n%s", name, diff)
		}
	}
}

func TestItemStored(t *testing.T) {
	now := store.Timestamp(179589550065)
	it, err := ParseWBO([]byte(`{"payload":"p","ttl":10}`), "x")
	if err != nil {
		t.Fatal(err)
	}
	w := it.Stored(now)
	if w.Modified == nil || *w.Modified != now || w.TTL == nil || *w.TTL != 1795895510 {
		t.Errorf("got %+v", w)
	}
	meta, _ := ParseWBO([]byte(`{"sortindex":1}`), "x")
	if w := meta.Stored(now); w.Modified != nil || w.TTL != nil {
		t.Errorf("metadata-only item got modified/ttl: %+v", w)
	}
}

func TestSplitBatch(t *testing.T) {
	elems := func(body string) []any {
		v, err := DecodeJSON([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return v.([]any)
	}
	// REC #55 under PY rules, plus the other failure kinds.
	kept, res := SplitBatch(elems(`[{"id":"ok1","payload":"x"},
		{"id":"`+strings.Repeat("z", 70)+`","payload":"x"},
		{"payload":"no id"}, "BAD", {"id":"si","payload":"x","sortindex":"bad"},
		{"id":12,"payload":"num"}, {"id":"","payload":"empty"}, {"id":[1]}]`), BatchLimits{})
	var ids []string
	for _, it := range kept {
		ids = append(ids, it.WBO.ID)
	}
	if diff := cmp.Diff([]string{"ok1", "12"}, ids); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	got := string(Python.AppendBatchResult(nil, res, 100))
	want := `{"success":[],"failed":{"` + strings.Repeat("z", 70) +
		`":["invalid id"],"":["invalid wbo"],"si":["invalid sortindex"]},"modified":1.00}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// test_batch: 105 items → 100 kept, 5 "retry wbo".
	var b strings.Builder
	b.WriteString("[")
	for i := range 105 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"%d","payload":"x"}`, i)
	}
	b.WriteString("]")
	kept, res = SplitBatch(elems(b.String()), BatchLimits{})
	if len(kept) != 100 || len(res.FailedIDs()) != 5 {
		t.Errorf("105 items: kept %d, failed %d", len(kept), len(res.FailedIDs()))
	}
	if r, _ := res.Failed("104"); len(r) != 1 || r[0] != MsgRetryWBO {
		t.Errorf("104: %v", r)
	}

	// test_batch: 5 × 210 KiB → 4 kept, 1 "retry bytes".
	b.Reset()
	b.WriteString("[")
	for i := range 5 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"%d","payload":"%s"}`, i, strings.Repeat("x", 210*1024))
	}
	b.WriteString("]")
	kept, res = SplitBatch(elems(b.String()), BatchLimits{})
	if len(kept) != 4 || len(res.FailedIDs()) != 1 {
		t.Errorf("5 big items: kept %d, failed %v", len(kept), res.FailedIDs())
	}
	if r, _ := res.Failed("4"); len(r) != 1 || r[0] != MsgRetryBytes {
		t.Errorf("4: %v", r)
	}
}

func TestBatchResultGolden(t *testing.T) {
	empty := &BatchResult{Success: []string{}}
	ok := &BatchResult{Success: []string{"h0", "ünï", "a b"}}
	mixed := &BatchResult{Success: []string{"ok1"}}
	mixed.Fail("zzz", MsgInvalidID)
	mixed.Fail("", MsgInvalidWBO)
	mixed.Fail("", MsgInvalidID) // overwrites in place
	mixed.FailBare("db", MsgDBError)
	var out []byte
	for _, d := range []Dialect{Legacy, Python} {
		for _, br := range []*BatchResult{empty, ok, mixed} {
			out = append(d.AppendBatchResult(out, br, 179589550065), '\n')
		}
	}
	golden(t, "batch.golden", out)
	if got := string(Legacy.AppendBatchResult(nil, ok, 0)); got != `{"success":["h0","\u00fcn\u00ef","a b"],"failed":[]}` {
		t.Errorf("REC #62: %s", got)
	}
}

func FuzzParseWBO(f *testing.F) {
	for _, s := range []string{`{"id":"a","payload":"x","sortindex":5,"ttl":10}`, `{"payload":"ü😀"}`,
		`{"sortindex":"3.7","parentid":1e2}`, `[1,2]`, `{"id":["x"]}`, `{"sortindex":1e400}`, `"s"`,
		`{"payload":"a\u0000b","predecessorid":"\ud800"}`, `{"ttl":"+5","sortindex":"-999999999"}`} {
		f.Add([]byte(s), "url")
	}
	f.Fuzz(func(t *testing.T, body []byte, urlID string) {
		it, err := ParseWBO(body, urlID)
		if err != nil {
			we, ok := AsError(err)
			if !ok || we.Status != 400 || (we.Code != CodeJSONParse && we.Code != CodeInvalidWBO) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		w := it.WBO
		if urlID != "" && w.ID != urlID {
			t.Fatalf("URL id %q lost: %q", urlID, w.ID)
		}
		if it.HasID && !ValidID(w.ID) {
			t.Fatalf("invalid id accepted: %q", w.ID)
		}
		if w.Payload != nil && (len(*w.Payload) > MaxPayloadBytes || int64(len(*w.Payload)) != w.PayloadSize ||
			!utf8.ValidString(*w.Payload)) {
			t.Fatalf("payload limits broken: %d bytes, size %d", len(*w.Payload), w.PayloadSize)
		}
		if w.SortIndex != nil && (*w.SortIndex > MaxSortIndex || *w.SortIndex < -MaxSortIndex) {
			t.Fatalf("sortindex out of range: %d", *w.SortIndex)
		}
		if it.TTL != nil && (*it.TTL < 0 || *it.TTL > MaxTTL) {
			t.Fatalf("ttl out of range: %d", *it.TTL)
		}
		for _, ref := range []*string{w.ParentID, w.PredecessorID} {
			if ref != nil && len(*ref) > MaxIDBytes {
				t.Fatalf("reference too long: %d", len(*ref))
			}
		}
		// A valid item written back in either dialect parses to the same item.
		for _, d := range []Dialect{Legacy, Python} {
			if !it.HasID {
				break
			}
			enc := d.AppendWBO(nil, &w)
			if !json.Valid(enc) {
				t.Fatalf("%s rendering is not JSON: %s", d, enc)
			}
			again, err := ParseWBO(enc, "")
			if err != nil {
				t.Fatalf("%s round trip of %s: %v", d, enc, err)
			}
			if diff := cmp.Diff(w, again.WBO); diff != "" {
				t.Fatalf("%s round trip (-first +second):\n%s", d, diff)
			}
		}
	})
}

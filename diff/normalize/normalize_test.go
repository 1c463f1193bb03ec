package normalize

import (
	"encoding/json"
	"github.com/weaveproxy/weaveproxy/internal/testfiles"
	"net/http"
	"reflect"
	"sort"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/replay"
)

func TestAnswer(t *testing.T) {
	a := diff.Answer{Status: 200, Header: http.Header{
		"Content-type":      {"application/json; charset=UTF-8"},
		"X-Weave-Timestamp": {"1795895500.7"},
		"X-Weave-Records":   {"2"},
		"Retry-After":       {"soon"},
		"Date":              {"x"},
		"X-Multi":           {"a", "b"},
	}, Body: []byte(`{"a":[1.50,"x",null,true]}`)}
	f := Answer(a, Options{IgnoreHeader: func(n string) bool { return n == "date" }})
	want := map[string]any{
		"content-type":      "application/json",
		"x-weave-timestamp": json.Number("1795895500.7"),
		"x-weave-records":   json.Number("2"),
		"retry-after":       "soon",
		"x-multi":           "a, b",
	}
	if !reflect.DeepEqual(f.Header, want) {
		t.Errorf("headers %#v", f.Header)
	}
	if f.Format != FormatJSON || !reflect.DeepEqual(f.Body, map[string]any{"a": []any{json.Number("1.50"), "x", nil, true}}) {
		t.Errorf("body %#v", f.Body)
	}
	if f := Answer(a, Options{ContentTypeParams: true}); f.Header["content-type"] != "application/json; charset=UTF-8" {
		t.Errorf("params kept: %v", f.Header["content-type"])
	}
}

func TestBody(t *testing.T) {
	tests := []struct {
		mt, body string
		want     any
		format   Format
	}{
		{"application/json", `[1,2]`, []any{json.Number("1"), json.Number("2")}, FormatJSON},
		{"application/json", `[1,2] x`, Raw(`[1,2] x`), FormatBroken},
		{"application/json", ``, Raw(``), FormatBroken},
		{"application/newlines", "\"a\"\n{\"b\":1}\n", []any{"a", map[string]any{"b": json.Number("1")}}, FormatNewlines},
		{"application/newlines", "\"a\"\nnot json", []any{"a", Raw("not json")}, FormatNewlines},
		{"application/newlines", "", []any{}, FormatNewlines},
		{"application/whoisi", "\x00\x00\x00\x03\"a\"\x00\x00\x00\x01" + "7", []any{"a", json.Number("7")}, FormatWhoisi},
		{"application/whoisi", "\x00\x00\x00\x09\"a\"", Raw("\x00\x00\x00\x09\"a\""), FormatBroken},
		{"application/whoisi", "\x00\x00", Raw("\x00\x00"), FormatBroken},
		{"text/html", `"alice"`, Raw(`"alice"`), FormatText},
		{"", `1`, Raw(`1`), FormatText},
	}
	for _, tt := range tests {
		got, format := Body(tt.mt, []byte(tt.body))
		if !reflect.DeepEqual(got, tt.want) || format != tt.format {
			t.Errorf("Body(%s, %q) = %#v %s, want %#v %s", tt.mt, tt.body, got, format, tt.want, tt.format)
		}
	}
}

// Every recorded legacy answer parses by its content type, except the
// ones that are not what they claim: PHP fatal-error pages and empty
// bodies sent as application/json.
func TestRecordedAnswers(t *testing.T) {
	es, err := replay.Load(testfiles.Recordings())
	if err != nil {
		t.Fatal(err)
	}
	var broken []int
	formats := map[Format]int{}
	for _, e := range es {
		f := Answer(e.Response, Options{})
		formats[f.Format]++
		if f.Format == FormatBroken {
			broken = append(broken, e.Seq)
		}
	}
	sort.Ints(broken)
	if want := []int{33, 39, 84, 121, 123}; !reflect.DeepEqual(broken, want) {
		t.Errorf("unparsed answers %v, want %v", broken, want)
	}
	if formats[FormatNewlines] != 2 || formats[FormatWhoisi] != 2 || formats[FormatText] == 0 {
		t.Errorf("formats %v", formats)
	}
}

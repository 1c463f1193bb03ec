package compare

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/rules"
)

// ans builds an answer from "Name: value" header lines.
func ans(status int, body string, headers ...string) diff.Answer {
	h := http.Header{}
	for _, line := range headers {
		name, v, _ := strings.Cut(line, ": ")
		h[name] = append(h[name], v) // raw names: case must not matter
	}
	return diff.Answer{Status: status, Header: h, Body: []byte(body)}
}

func req(method, target string) diff.Exchange {
	return diff.Exchange{Method: method, Path: target, Header: http.Header{}}
}

const (
	ctJSON = "Content-type: application/json"
	info   = "/1.0/alice/info/collections"
	coll   = "/1.0/alice/storage/history"
	item   = "/1.0/alice/storage/bookmarks/item1"
)

type want struct {
	class diff.Class
	paths []string // "path kind", sorted by path
}

func run(t *testing.T, rs *rules.RuleSet, rq diff.Exchange, a, b diff.Answer, w want) {
	t.Helper()
	res, err := Answers(rq, a, b, rs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Path+" "+string(f.Kind))
	}
	if res.Class != w.class || !reflect.DeepEqual(got, w.paths) {
		t.Errorf("got %s %q, want %s %q\nfindings: %+v", res.Class, got, w.class, w.paths, res.Findings)
	}
}

func TestHeaders(t *testing.T) {
	legacy := ans(200, `[]`, "Host: 127.0.0.1:8182", "Date: Sat, 28 Nov 2026 19:51:40 GMT",
		"Connection: close", "X-Powered-By: PHP/8.2.36", ctJSON, "X-Weave-Timestamp: 1795895500.7")
	tests := []struct {
		name   string
		native diff.Answer
		want   want
	}{
		{"transport headers and name case ignored",
			ans(200, `[]`, "Content-Type: application/json", "Server: Go", "X-Weave-Timestamp: 1795895500.7",
				"Date: Sun, 29 Nov 2026 00:00:00 GMT", "Content-Length: 2"),
			want{diff.Identical, nil}},
		{"header order ignored",
			ans(200, `[]`, "X-Weave-Timestamp: 1795895500.7", ctJSON), want{diff.Identical, nil}},
		{"trailing zero of the timestamp",
			ans(200, `[]`, ctJSON, "X-Weave-Timestamp: 1795895500.70"), want{diff.EqualAfterRules, nil}},
		{"content-type parameters ignored by default",
			ans(200, `[]`, "Content-Type: application/json; charset=UTF-8", "X-Weave-Timestamp: 1795895500.7"),
			want{diff.EqualAfterRules, nil}},
		{"missing header",
			ans(200, `[]`, "X-Weave-Timestamp: 1795895500.7"),
			// Without a content type the body stays raw text, but the
			// bytes are the same: only the header differs.
			want{diff.Different, []string{"header.content-type missing"}}},
		{"extra header",
			ans(200, `[]`, ctJSON, "X-Weave-Timestamp: 1795895500.7", "X-Weave-Records: 0"),
			want{diff.Different, []string{"header.x-weave-records extra"}}},
		{"status",
			ans(404, `[]`, ctJSON, "X-Weave-Timestamp: 1795895500.7"),
			want{diff.Different, []string{"status value"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, nil, req("GET", info), legacy, tt.native, tt.want)
		})
	}
}

func TestContentTypeParamsRule(t *testing.T) {
	rs, err := rules.Parse([]byte("content_type_params: true"))
	if err != nil {
		t.Fatal(err)
	}
	run(t, rs, req("GET", info), ans(200, `[]`, "Content-Type: application/json; charset=UTF-8"),
		ans(200, `[]`, ctJSON), want{diff.Different, []string{"header.content-type value"}})
}

func TestNumbers(t *testing.T) {
	exact := rules.Default()
	exact.ExactNumbers = true
	tests := []struct {
		name     string
		rs       *rules.RuleSet
		legacy   string
		native   string
		expected want
	}{
		{"1.5 and 1.50", nil, `[1.5,5000]`, `[1.50,5000]`, want{diff.EqualAfterRules, nil}},
		{"exponent", nil, `[100,5000]`, `[1e2,5000]`, want{diff.EqualAfterRules, nil}},
		{"different value", nil, `[196,5000]`, `[0.19140625,5120]`,
			want{diff.Different, []string{"body[0] value", "body[1] value"}}},
		{"exact numbers rule", exact, `[1.5,5000]`, `[1.50,5000]`,
			want{diff.Different, []string{"body[0] value"}}},
		{"number against string", nil, `[1,5000]`, `["1",5000]`,
			want{diff.Different, []string{"body[0] type"}}},
		{"object key order", nil, `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, want{diff.EqualAfterRules, nil}},
		{"escaping", nil, `["\u00fcn\u00ef","a\/b"]`, `["ünï","a/b"]`, want{diff.EqualAfterRules, nil}},
		{"null against missing", nil, `{"a":null}`, `{}`, want{diff.Different, []string{"body.a missing"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, tt.rs, req("GET", "/1.0/alice/info/quota"),
				ans(200, tt.legacy, ctJSON), ans(200, tt.native, ctJSON), tt.expected)
		})
	}
}

func TestTimestampTolerance(t *testing.T) {
	anyValue := rules.Default().ForReplay()
	tests := []struct {
		name   string
		rs     *rules.RuleSet
		legacy diff.Answer
		native diff.Answer
		want   want
	}{
		{"header within tolerance", nil,
			ans(200, `[]`, "X-Weave-Timestamp: 1795895500.7"), ans(200, `[]`, "X-Weave-Timestamp: 1795895503.12"),
			want{diff.EqualAfterRules, nil}},
		{"header beyond tolerance", nil,
			ans(200, `[]`, "X-Weave-Timestamp: 1795895500.7"), ans(200, `[]`, "X-Weave-Timestamp: 1795895600.7"),
			want{diff.Different, []string{"header.x-weave-timestamp value"}}},
		{"any value for replays", anyValue,
			ans(200, `{"forms":1795895500.62}`, ctJSON, "X-Weave-Timestamp: 1795895500.7"),
			ans(200, `{"forms":1800000000.62}`, ctJSON, "X-Weave-Timestamp: 1800000001"),
			want{diff.EqualAfterRules, nil}},
		{"info/collections values are timestamps", nil,
			ans(200, `{"forms":1795895500.62}`, ctJSON), ans(200, `{"forms":1795895501.62}`, ctJSON),
			want{diff.EqualAfterRules, nil}},
		{"info/collections values beyond tolerance", nil,
			ans(200, `{"forms":1795895500.62}`, ctJSON), ans(200, `{"forms":1795899501.62}`, ctJSON),
			want{diff.Different, []string{"body.forms value"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, tt.rs, req("GET", info), tt.legacy, tt.native, tt.want)
		})
	}
}

func TestWriteBodies(t *testing.T) {
	replay := rules.Default().ForReplay()
	tests := []struct {
		name   string
		method string
		target string
		legacy diff.Answer
		native diff.Answer
		want   want
	}{
		{"PUT timestamp body, any value", "PUT", item,
			ans(200, `1795895500.46`, ctJSON, "X-Weave-Timestamp: 1795895500.46"),
			ans(200, `1800000000.10`, ctJSON, "X-Weave-Timestamp: 1800000000.10"),
			want{diff.EqualAfterRules, nil}},
		{"error code is not a timestamp", "PUT", item,
			ans(400, `8`, ctJSON, "X-Weave-Timestamp: 1795895500.46"),
			ans(400, `6`, ctJSON, "X-Weave-Timestamp: 1800000000.10"),
			want{diff.Different, []string{"body value"}}},
		{"PUT body must echo X-Weave-Timestamp", "PUT", item,
			ans(200, `1795895500.46`, ctJSON, "X-Weave-Timestamp: 1795895500.46"),
			ans(200, `1800000000.09`, ctJSON, "X-Weave-Timestamp: 1800000000.10"),
			want{diff.Different, []string{"body relation"}}},
		{"DELETE timestamp body", "DELETE", coll + "?ids=h1,h2",
			ans(200, `1795895500.81`, ctJSON, "X-Weave-Timestamp: 1795895500.81"),
			ans(200, `1800000000.1`, ctJSON, "X-Weave-Timestamp: 1800000000.10"),
			want{diff.EqualAfterRules, nil}},
		{"two decimals", "DELETE", item,
			ans(200, `1795895500.81`, ctJSON, "X-Weave-Timestamp: 1795895500.81"),
			ans(200, `1800000000.123`, ctJSON, "X-Weave-Timestamp: 1800000000.123"),
			want{diff.Different, []string{"body relation", "header.x-weave-timestamp relation"}}},
		{"failed keys generalise", "POST", coll,
			ans(200, `{"success":["ok1"],"failed":{"zz z":["invalid id"]}}`, ctJSON),
			ans(200, `{"success":["ok1"],"failed":{"zz z":["invalid id","x"]}}`, ctJSON),
			want{diff.Different, []string{`body.failed["zz z"][1] extra`}}},
		{"success keeps its order", "POST", coll,
			ans(200, `{"success":["a","b"],"failed":[]}`, ctJSON),
			ans(200, `{"success":["b","a"],"failed":[]}`, ctJSON),
			want{diff.Different, []string{"body.success[0] value", "body.success[1] value"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, replay, req(tt.method, tt.target), tt.legacy, tt.native, tt.want)
		})
	}
	res, _ := Answers(req("POST", coll), ans(200, `{"failed":{"zz z":["a"]}}`, ctJSON),
		ans(200, `{"failed":{"zz z":["b"]}}`, ctJSON), nil)
	if len(res.Findings) != 1 || res.Findings[0].Key != "body.failed.*[*]" {
		t.Errorf("failed ids must generalise to one key, got %+v", res.Findings)
	}
}

func TestRelations(t *testing.T) {
	replay := rules.Default().ForReplay()
	noRel := rules.Default().ForReplay()
	noRel.Relations = false
	legacy := ans(200, `[{"id":"a","modified":1795895500.62},{"id":"b","modified":1795895500.69}]`,
		ctJSON, "X-Weave-Timestamp: 1795895500.7")
	tests := []struct {
		name   string
		rs     *rules.RuleSet
		native diff.Answer
		want   want
	}{
		{"relations kept", replay,
			ans(200, `[{"id":"a","modified":1800000000.01},{"id":"b","modified":1800000000.05}]`,
				ctJSON, "X-Weave-Timestamp: 1800000000.06"),
			want{diff.EqualAfterRules, nil}},
		{"modified later than the header", replay,
			ans(200, `[{"id":"a","modified":1800000000.01},{"id":"b","modified":1800000000.09}]`,
				ctJSON, "X-Weave-Timestamp: 1800000000.06"),
			want{diff.Different, []string{"body[id=b].modified relation"}}},
		{"order reversed", replay,
			ans(200, `[{"id":"b","modified":1800000000.01},{"id":"a","modified":1800000000.05}]`,
				ctJSON, "X-Weave-Timestamp: 1800000000.06"),
			want{diff.Different, []string{"body[id=b].modified relation"}}},
		{"equal on one side only is timing", replay,
			ans(200, `[{"id":"a","modified":1800000000.01},{"id":"b","modified":1800000000.01}]`,
				ctJSON, "X-Weave-Timestamp: 1800000000.06"),
			want{diff.EqualAfterRules, nil}},
		{"relations off", noRel,
			ans(200, `[{"id":"a","modified":1800000000.01},{"id":"b","modified":1800000000.09}]`,
				ctJSON, "X-Weave-Timestamp: 1800000000.06"),
			want{diff.EqualAfterRules, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, tt.rs, req("GET", coll+"?full=1"), legacy, tt.native, tt.want)
		})
	}
	// Legacy breaking a relation itself is not native's finding.
	badLegacy := ans(200, `[{"id":"a","modified":1795895500.8}]`, ctJSON, "X-Weave-Timestamp: 1795895500.7")
	run(t, replay, req("GET", coll+"?full=1"), badLegacy,
		ans(200, `[{"id":"a","modified":1800000000.09}]`, ctJSON, "X-Weave-Timestamp: 1800000000.06"),
		want{diff.EqualAfterRules, nil})
}

func TestListOrder(t *testing.T) {
	legacy := ans(200, `["h0","h1","h2","h3"]`, ctJSON)
	tests := []struct {
		name   string
		target string
		native string
		want   want
	}{
		{"unordered without sort", coll, `["h3","h1","h0","h2"]`, want{diff.EqualAfterRules, nil}},
		{"unknown sort is no sort", coll + "?sort=bogus", `["h3","h1","h0","h2"]`, want{diff.EqualAfterRules, nil}},
		{"unordered, missing element", coll, `["h3","h0","h2"]`, want{diff.Different, []string{"body[*] missing"}}},
		{"unordered, extra element", coll, `["h3","h0","h2","h1","h9"]`, want{diff.Different, []string{"body[*] extra"}}},
		{"ordered with sort", coll + "?sort=index", `["h0","h2","h1","h3"]`,
			want{diff.Different, []string{"body[1] value", "body[2] value"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, nil, req("GET", tt.target), legacy, ans(200, tt.native, ctJSON), tt.want)
		})
	}
	res, _ := Answers(req("GET", coll), legacy, ans(200, `["h3","h0","h2"]`, ctJSON), nil)
	if f := res.Findings[0]; f.Legacy != `"h1"` || f.Key != "body[*]" {
		t.Errorf("the missing element must be shown: %+v", f)
	}
}

func TestUnorderedObjectsByID(t *testing.T) {
	legacy := ans(200, `[{"id":"a","modified":1795895500.62,"payload":"x"},{"id":"b","modified":1795895500.69,"payload":"y"}]`, ctJSON)
	native := ans(200, `[{"id":"b","payload":"Y","modified":1795895500.69},{"id":"a","modified":1795895500.62,"payload":"x"}]`, ctJSON)
	run(t, nil, req("GET", coll+"?full=1"), legacy, native,
		want{diff.Different, []string{"body[id=b].payload value"}})
	rs, err := rules.Parse([]byte("ordered: [body]"))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := Answers(req("GET", coll+"?full=1"), legacy, native, rs)
	if res.Class != diff.Different || res.Findings[0].Path != "body[0].id" {
		t.Errorf("ordered rule must compare positions: %+v", res.Findings)
	}
}

func TestFormats(t *testing.T) {
	jsonBody := `[{"id":"h9","sortindex":9},{"id":"h8","sortindex":8}]`
	newlines := "{\"id\":\"h9\",\"sortindex\":9}\n{\"id\":\"h8\",\"sortindex\":8}\n"
	whoisi := "\x00\x00\x00\x19{\"id\":\"h9\",\"sortindex\":9}\x00\x00\x00\x19{\"id\":\"h8\",\"sortindex\":8}"
	target := coll + "?full=1&sort=index"
	run(t, nil, req("GET", target), ans(200, newlines, "Content-Type: application/newlines"),
		ans(200, whoisi, "Content-Type: application/whoisi"),
		want{diff.Different, []string{"header.content-type value"}})
	run(t, nil, req("GET", target), ans(200, jsonBody, ctJSON),
		ans(200, newlines, ctJSON), want{diff.Different, []string{"body type"}})
	run(t, nil, req("GET", target), ans(200, newlines, "Content-Type: application/newlines"),
		ans(200, strings.Replace(newlines, "8}", "7}", 1), "Content-Type: application/newlines"),
		want{diff.Different, []string{"body[1].sortindex value"}})
	run(t, nil, req("GET", target), ans(200, "", "Content-Type: application/newlines"),
		ans(200, "", "Content-Type: application/newlines"), want{diff.Identical, nil})
}

func TestRawBodies(t *testing.T) {
	fatal := "<br />\n<b>Fatal error</b>:  Uncaught TypeError: join()"
	res, err := Answers(req("PUT", item), ans(200, fatal, ctJSON, "X-Weave-Timestamp: 1795895500.54"),
		ans(200, `1795895500.54`, ctJSON, "X-Weave-Timestamp: 1795895500.54"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Kind != diff.KindType || !strings.HasPrefix(res.Findings[0].Legacy, "raw: <br />") {
		t.Errorf("fatal error page against a timestamp: %+v", res.Findings)
	}
	run(t, nil, req("GET", "/user/1.0/alice"), ans(200, "1", "Content-Type: text/html; charset=UTF-8"),
		ans(200, "0", "Content-Type: text/html; charset=UTF-8"), want{diff.Different, []string{"body value"}})
	// The same bytes under two labels: the label differs, not the body
	// (PHP's User API sent bare codes as text/html, native as JSON).
	run(t, nil, req("PUT", "/user/1.0/alice"), ans(400, "4", "Content-Type: text/html; charset=UTF-8"),
		ans(400, "4", ctJSON), want{diff.Different, []string{"header.content-type value"}})
	run(t, nil, req("PUT", "/user/1.0/alice"), ans(400, "4", "Content-Type: text/html; charset=UTF-8"),
		ans(400, "6", ctJSON), want{diff.Different, []string{"body type", "header.content-type value"}})
}

func TestIgnoreRules(t *testing.T) {
	rs, err := rules.Parse([]byte(`
ignore: ["body[*].payload"]
ignore_headers: [X-Weave-Alert]
compare_headers: [server]
`))
	if err != nil {
		t.Fatal(err)
	}
	run(t, rs, req("GET", coll+"?full=1"),
		ans(200, `[{"id":"a","payload":"x"}]`, ctJSON, "X-Weave-Alert: hi", "Server: Apache"),
		ans(200, `[{"id":"a","payload":"y"}]`, ctJSON, "Server: Go"),
		want{diff.Different, []string{"header.server value"}})
}

func TestEmptyListIsObject(t *testing.T) {
	rs, err := rules.Parse([]byte("empty_list_is_object: true"))
	if err != nil {
		t.Fatal(err)
	}
	legacy, native := ans(200, `{"success":[],"failed":[]}`, ctJSON), ans(200, `{"success":[],"failed":{}}`, ctJSON)
	run(t, nil, req("POST", coll), legacy, native, want{diff.Different, []string{"body.failed type"}})
	run(t, rs, req("POST", coll), legacy, native, want{diff.EqualAfterRules, nil})
}

func TestToleranceFromYAML(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		want time.Duration
	}{{"timestamp_tolerance: 30s", 30 * time.Second}, {"timestamp_tolerance: any", rules.AnyValue}} {
		rs, err := rules.Parse([]byte(tt.yaml))
		if err != nil || rs.TimestampTolerance != tt.want {
			t.Errorf("%s: got %v, %v", tt.yaml, rs, err)
		}
	}
}

func TestSortedListsStaySorted(t *testing.T) {
	legacy := ans(200, `[{"id":"a","modified":1795895500.69},{"id":"b","modified":1795895500.62}]`, ctJSON)
	swapped := ans(200, `[{"id":"b","modified":1800000000.01},{"id":"a","modified":1800000000.05}]`, ctJSON)
	tied := ans(200, `[{"id":"b","modified":1800000000.05},{"id":"a","modified":1800000000.05}]`, ctJSON)
	replay := rules.Default().ForReplay()
	// Replays compare time-sorted lists as multisets, and their order by
	// their own modified values.
	run(t, replay, req("GET", coll+"?full=1&sort=newest"), legacy, tied, want{diff.EqualAfterRules, nil})
	run(t, replay, req("GET", coll+"?full=1&sort=newest"), legacy, swapped,
		want{diff.Different, []string{"body[id=a].modified relation"}})
	// In shadow mode (one database) the order is compared as is.
	reordered := ans(200, `[{"id":"b","modified":1795895500.62},{"id":"a","modified":1795895500.69}]`, ctJSON)
	res, _ := Answers(req("GET", coll+"?full=1&sort=newest"), legacy, reordered, rules.Default())
	if res.Class != diff.Different || res.Findings[len(res.Findings)-1].Note != "out of sort=newest order" {
		t.Errorf("shadow mode keeps the order: %+v", res.Findings)
	}
	// Ids only: a time-sorted list in a replay is a multiset.
	run(t, replay, req("GET", coll+"?sort=oldest"), ans(200, `["a","b"]`, ctJSON), ans(200, `["b","a"]`, ctJSON),
		want{diff.EqualAfterRules, nil})
	// sort=index orders by data, not by time: compared in order always.
	run(t, replay, req("GET", coll+"?sort=index"), ans(200, `["a","b"]`, ctJSON), ans(200, `["b","a"]`, ctJSON),
		want{diff.Different, []string{"body[0] value", "body[1] value"}})
	run(t, replay, req("GET", coll+"?full=1&sort=index"),
		ans(200, `[{"id":"a","sortindex":9},{"id":"b","sortindex":8}]`, ctJSON),
		ans(200, `[{"id":"a","sortindex":9},{"id":"b","sortindex":10}]`, ctJSON),
		want{diff.Different, []string{"body[1].sortindex value", "body[1].sortindex relation"}})
}

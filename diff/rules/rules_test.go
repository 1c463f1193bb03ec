package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		method, target string
		kind           Kind
		template       string
	}{
		{"GET", "/1.0/alice/info/collections", InfoCollections, "GET /{version}/{user}/info/collections"},
		{"GET", "/1.1/alice/info/collection_counts", InfoCounts, "GET /{version}/{user}/info/collection_counts"},
		{"GET", "/1/alice/info/quota", InfoQuota, "GET /{version}/{user}/info/quota"},
		{"GET", "/1.0/alice/info/frob", InfoOther, "GET /{version}/{user}/info/{other}"},
		{"POST", "/1.0/alice/info/collections", InfoOther, "POST /{version}/{user}/info/collections"},
		{"GET", "/1.0/alice/storage/history?full=1", CollectionGet, "GET /{version}/{user}/storage/{collection}"},
		{"GET", "/1.0/alice/storage/bookmarks/", CollectionGet, "GET /{version}/{user}/storage/{collection}"},
		{"POST", "/1.0/alice/storage/history", CollectionPost, "POST /{version}/{user}/storage/{collection}"},
		{"DELETE", "/1.0/alice/storage/history?ids=a,b", CollectionDelete, "DELETE /{version}/{user}/storage/{collection}"},
		{"PUT", "/1.0/alice/storage/bookmarks/a%2Fb", ItemPut, "PUT /{version}/{user}/storage/{collection}/{id}"},
		{"GET", "/1.0/alice/storage/bookmarks/item1", ItemGet, "GET /{version}/{user}/storage/{collection}/{id}"},
		{"DELETE", "/1.0/alice/storage/bookmarks/item1", ItemDelete, "DELETE /{version}/{user}/storage/{collection}/{id}"},
		{"DELETE", "/1.0/alice/storage", StorageDelete, "DELETE /{version}/{user}/storage"},
		{"GET", "/1.0/alice/storage", StorageOther, "GET /{version}/{user}/storage"},
		{"HEAD", "/1.0/alice/info/collections", InfoOther, "HEAD /{version}/{user}/info/collections"},
		{"GET", "/1.0/alice//storage/bookmarks", Other, "GET (other)"},
		{"GET", "/1.0/alice/frob/bookmarks", Other, "GET /{version}/{user}/{other}"},
		{"PUT", "/user/1.0/alice", UserAPI, "PUT /user/{version}/{user}"},
		{"POST", "/user/1.0/alice/password", UserAPI, "POST /user/{version}/{user}/password"},
		{"GET", "/user/1.0/alice/node/weave", UserAPI, "GET /user/{version}/{user}/node/weave"},
		{"GET", "/misc/1.0/captcha_html", Misc, "GET /misc/{version}/captcha_html"},
		{"GET", "/weave-password-reset?key=X", Other, "GET /weave-password-reset"},
		{"PUT", "/user/1/alice/", UserAPI, "PUT /user/{version}/{user}"},
		{"GET", "/user/1.0/alice/frob", UserAPI, "GET /user/{version}/{user}/{other}"},
		{"GET", "/1.1/alice/info/%71uota", InfoOther, "GET /{version}/{user}/info/{other}"},
		{"GET", "/1.1/alice/storage/%2e%2e", Other, "GET (other)"},
	}
	for _, tt := range tests {
		e := Classify(tt.method, tt.target)
		if e.Kind != tt.kind || e.Template != tt.template {
			t.Errorf("Classify(%s %s) = %s %q, want %s %q", tt.method, tt.target, e.Kind, e.Template, tt.kind, tt.template)
		}
	}
	if !Classify("GET", "/1.0/a/storage/h?sort=newest").Sorted() || Classify("GET", "/1.0/a/storage/h?sort=bogus").Sorted() {
		t.Error("sort=newest is an order, sort=bogus is none")
	}
}

func TestParseDefaults(t *testing.T) {
	rs, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if rs.TimestampTolerance != 5*time.Second || !rs.Relations || rs.ExactNumbers {
		t.Errorf("defaults: %+v", rs)
	}
	c, err := rs.Compile("GET", "/1.0/a/info/collections")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"date", "server", "x-powered-by", "connection", "keep-alive", "host", "content-length", "transfer-encoding"} {
		if !c.IgnoreHeader(h) {
			t.Errorf("%s must never be compared", h)
		}
	}
	if c.IgnoreHeader("x-weave-timestamp") || c.IgnoreHeader("content-type") {
		t.Error("Weave headers are compared")
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]string{
		"ignore: [body..x]":                    "empty key",
		"timestamp_tolerance: soon":            "timestamp_tolerance",
		"timestamp_tolerance: -3s":             "timestamp_tolerance",
		"unorderd: [body]":                     "field unorderd not found",
		"relations: maybe":                     "cannot unmarshal",
		"ignore: [body]\nordered: [\"body[\"]": "unclosed",
	}
	for in, want := range tests {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestFromNode(t *testing.T) {
	var doc struct {
		Routes []struct {
			Match string    `yaml:"match"`
			Diff  yaml.Node `yaml:"diff"`
		} `yaml:"routes"`
	}
	src := `
routes:
  - match: "GET /{version}/{user}/storage/{collection}"
    diff:
      unordered: [body]
      timestamp_tolerance: 2s
  - match: "GET /{version}/{user}/info/quota"
  - match: "GET /{version}/{user}/info/collections"
    diff:
      bogus: 1
`
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	rs, err := FromNode(&doc.Routes[0].Diff)
	if err != nil || rs.TimestampTolerance != 2*time.Second || len(rs.Unordered) != 1 {
		t.Errorf("route 0: %+v %v", rs, err)
	}
	if rs, err := FromNode(&doc.Routes[1].Diff); err != nil || rs.TimestampTolerance != 5*time.Second {
		t.Errorf("a route without a diff block gets the defaults: %+v %v", rs, err)
	}
	if _, err := FromNode(&doc.Routes[2].Diff); err == nil || !strings.Contains(err.Error(), "line 10") {
		t.Errorf("an unknown key names the block's line: %v", err)
	}
}

func TestCompiledDefaults(t *testing.T) {
	rs := Default()
	tests := []struct {
		method, target, path string
		bothOK               bool
		stamp, unordered     bool
	}{
		{"GET", "/1.0/a/info/collections", "header.x-weave-timestamp", false, true, false},
		{"GET", "/1.0/a/info/collections", "body.forms", true, true, false},
		{"GET", "/1.0/a/info/collection_counts", "body.forms", true, false, false},
		{"GET", "/1.0/a/storage/h?full=1", "body[id=x].modified", true, true, false},
		{"GET", "/1.0/a/storage/h?full=1", "body", true, false, true},
		{"GET", "/1.0/a/storage/h?full=1&sort=newest", "body", true, false, false},
		{"GET", "/1.0/a/storage/h/x", "body.modified", true, true, false},
		{"PUT", "/1.0/a/storage/h/x", "body", true, true, false},
		{"PUT", "/1.0/a/storage/h/x", "body", false, false, false},
		{"POST", "/1.0/a/storage/h", "body.modified", true, true, false},
		{"POST", "/1.0/a/storage/h", "body.success", true, false, false},
		{"DELETE", "/1.0/a/storage/h", "body", true, true, false},
		{"DELETE", "/1.0/a/storage", "body", true, true, false},
		{"GET", "/1.0/a/info/quota", "body[0]", true, false, false},
		{"PUT", "/user/1.0/a", "body", true, false, false},
	}
	for _, tt := range tests {
		c, err := rs.Compile(tt.method, tt.target)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Timestamp(tt.path, tt.bothOK); got != tt.stamp {
			t.Errorf("%s %s: Timestamp(%s, %v) = %v", tt.method, tt.target, tt.path, tt.bothOK, got)
		}
		if got := c.Unordered(tt.path); got != tt.unordered {
			t.Errorf("%s %s: Unordered(%s) = %v", tt.method, tt.target, tt.path, got)
		}
	}
}

func TestPatternRoots(t *testing.T) {
	rs, err := Parse([]byte("ignore: [header.X-Weave-Alert, status, body.x]"))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Ignore[0] != "header.x-weave-alert" {
		t.Errorf("header patterns are lower-cased: %q", rs.Ignore)
	}
	if _, err := Parse([]byte("ignore: [X-Weave-Timestamp]")); err == nil || !strings.Contains(err.Error(), "header.<name>") {
		t.Errorf("a bare header name must be refused with a hint: %v", err)
	}
}

func TestParseAllKeys(t *testing.T) {
	rs, err := Parse([]byte(`
ignore_headers: [X-Weave-Alert]
compare_headers: [server]
ignore: [body.payload]
timestamps: [body.when]
timestamp_tolerance: 1m
unordered: [body.success]
ordered: [body]
positional: [body.pair]
time_order_by_relation: true
exact_numbers: true
empty_list_is_object: true
content_type_params: true
relations: false
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := rs.Compile("POST", "/1.0/a/storage/h")
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{
		"alert ignored":       c.IgnoreHeader("x-weave-alert"),
		"server compared":     !c.IgnoreHeader("server"),
		"payload ignored":     c.Ignored("body.payload.x"),
		"when is a timestamp": c.Timestamp("body.when", true),
		"success unordered":   c.Unordered("body.success"),
		"pair positional":     c.Key("body.pair[1]") == "body.pair[1]" && c.Key("body.other[1]") == "body.other[*]",
		"time order":          rs.TimeOrderByRelation,
		"flags":               c.ExactNumbers && c.EmptyListIsObject && c.ContentTypeParams && !c.Relations,
		"tolerance":           c.Tolerance == time.Minute,
	}
	for name, ok := range checks {
		if !ok {
			t.Error(name)
		}
	}
	if c2, _ := rs.Compile("GET", "/1.0/a/storage/h?sort=newest"); c2.Unordered("body") {
		t.Error("ordered: [body] wins over time_order_by_relation")
	}
	if c3, _ := Default().ForReplay().Compile("GET", "/1.0/a/storage/h?sort=newest"); !c3.Unordered("body") {
		t.Error("replays compare time-sorted lists as multisets")
	}
}

func TestCheckPositions(t *testing.T) {
	cases := []struct {
		src  string
		want []string // "line:col: text" of each issue
	}{
		{"", nil},
		{"ignore: [body.payload]\ntimestamp_tolerance: any\nrelations: false\n", nil},
		{"learn_noise: 0.5\n", nil},
		{"ignroe: [body.x]\n", []string{"1:1: diff: unknown key \"ignroe\""}},
		{"ignore: [body.x]\ntimestamp_tolerance: soon\n", []string{"2:22: diff: timestamp_tolerance: timestamp_tolerance \"soon\""}},
		{"relations: maybe\nignore: [bdy.x]\n", []string{"1:12: diff: relations: cannot unmarshal", "2:9: diff: ignore: path \"bdy.x\""}},
		{"[1, 2]\n", []string{"1:1: diff must be a mapping"}},
	}
	for _, tc := range cases {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tc.src), &doc); err != nil {
			t.Fatal(err)
		}
		var n *yaml.Node
		if len(doc.Content) > 0 {
			n = doc.Content[0]
		}
		got := Check(n, "learn_noise")
		if len(got) != len(tc.want) {
			t.Errorf("%q: %d issues %+v, want %d", tc.src, len(got), got, len(tc.want))
			continue
		}
		for i, is := range got {
			if s := fmt.Sprintf("%d:%d: %s", is.Line, is.Column, is.Msg); !strings.HasPrefix(s, tc.want[i]) {
				t.Errorf("%q: issue %q, want prefix %q", tc.src, s, tc.want[i])
			}
		}
	}
}

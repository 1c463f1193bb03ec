package report

import (
	"net/http"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff"
)

func highlighted(ls []line) []string {
	var out []string
	for _, l := range ls {
		if l.HL {
			out = append(out, strings.TrimSpace(l.Text))
		}
	}
	return out
}

func TestPrettyHighlights(t *testing.T) {
	a := diff.Answer{Status: 200, Header: http.Header{"Content-Type": {"application/json"}, "X-Weave-Records": {"3"}},
		Body: []byte(`[{"id":"a","modified":1.5,"payload":"x"},{"id":"b","modified":2},"h1","h2"]`)}
	fs := []diff.Finding{
		{Path: "header.x-weave-records", Legacy: "3", Native: "2"},
		{Path: "body[id=b].modified", Legacy: "2", Native: "3"},
		{Path: "body[*]", Legacy: `"h2"`},
		{Path: "status", Native: "404"},
	}
	got := strings.Join(highlighted(prettyAnswer(a, marksFor(fs, true))), "|")
	want := `X-Weave-Records: 3|"modified": 2|"h2"`
	if got != want {
		t.Errorf("legacy side highlights %q, want %q", got, want)
	}
	got = strings.Join(highlighted(prettyAnswer(a, marksFor(fs, false))), "|")
	if got != "HTTP 200|X-Weave-Records: 3|\"modified\": 2" {
		t.Errorf("native side highlights %q", got)
	}
}

func TestPrettyRawAndTypes(t *testing.T) {
	a := diff.Answer{Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: []byte("<br />\n<b>Fatal error</b>\x00")}
	ls := prettyAnswer(a, marksFor([]diff.Finding{{Path: "body", Legacy: "raw: <br />"}}, true))
	if got := highlighted(ls); len(got) != 2 || got[1] != `<b>Fatal error</b>\x00` {
		t.Errorf("raw body lines %q", got)
	}
	obj := diff.Answer{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"success":["a"],"failed":{}}`)}
	ls = prettyAnswer(obj, marksFor([]diff.Finding{{Path: "body.failed", Legacy: "{}", Native: "[]"}}, true))
	if got := highlighted(ls); len(got) != 1 || got[0] != `"failed": {},` {
		t.Errorf("type finding %q", got)
	}
}

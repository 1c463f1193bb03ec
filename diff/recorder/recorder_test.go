package recorder_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/recorder"
	"github.com/weaveproxy/weaveproxy/diff/rules"
	"github.com/weaveproxy/weaveproxy/diff/store"
)

func TestObserve(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "d.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ignoreBody, err := rules.Parse([]byte("ignore: [body]"))
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	rec := recorder.New(st, func(route string) *rules.RuleSet {
		asked = append(asked, route)
		if route == "lenient" {
			return ignoreBody
		}
		return nil // the defaults
	})
	js := http.Header{"Content-Type": {"application/json"}}
	p := diff.Pair{Route: "strict", Request: diff.Exchange{Method: "GET", Path: "/1.0/a/info/quota"},
		Legacy: diff.Answer{Status: 200, Header: js, Body: []byte(`[1,5000]`)},
		Native: diff.Answer{Status: 200, Header: js, Body: []byte(`[2,5000]`)}}
	l2 := diff.Answer{Status: 200, Header: js, Body: []byte(`[3,5000]`)}
	p.Legacy2 = &l2
	out, err := rec.Observe(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Class != diff.Different || len(out.Noise) != 1 || out.Noise[0] != "body[0]" ||
		len(out.Result.Findings) != 1 || out.Result.Findings[0].Path != "body[0]" {
		t.Errorf("strict: %+v", out)
	}
	p.Route = "lenient"
	if out, err := rec.Observe(ctx, p); err != nil || out.Class != diff.EqualAfterRules || len(out.Noise) != 0 {
		t.Errorf("lenient: %+v %v", out, err)
	}
	if len(asked) != 2 || asked[0] != "strict" || asked[1] != "lenient" {
		t.Errorf("rules asked for %v", asked)
	}
	routes, err := st.RouteNames(ctx)
	if err != nil || len(routes) != 2 {
		t.Errorf("stored routes %v %v", routes, err)
	}
	if out, err := recorder.New(st, nil).Observe(ctx, p); err != nil || out.Class != diff.Different {
		t.Errorf("nil rules func means defaults: %+v %v", out, err)
	}
}

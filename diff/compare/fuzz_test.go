package compare

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/rules"
)

// FuzzAnswers compares arbitrary bodies under every endpoint's rules: no
// panic (go-cmp panics on ambiguous options), an answer always equals
// itself, and findings always carry a path and a key.
func FuzzAnswers(f *testing.F) {
	seeds := [][2]string{
		{`[{"id":"a","modified":1.5,"sortindex":2}]`, `[{"id":"a","modified":1.50}]`},
		{`{"forms":1795895500.62}`, `[]`},
		{`{"success":["a"],"failed":{"x":["y"]},"modified":1.1}`, `{"success":[],"failed":[]}`},
		{`1795895500.46`, `<b>Fatal error</b>`},
		{"\"a\"\n\"b\"\n", "\x00\x00\x00\x03\"a\""},
		{`[[1,[2]],{"":{"id":3}}]`, `[{"id":null},{"id":1e400}]`},
	}
	targets := []string{"GET /1.0/a/storage/h?full=1", "GET /1.0/a/storage/h?sort=newest", "GET /1.0/a/info/collections",
		"POST /1.0/a/storage/h", "PUT /1.0/a/storage/h/x", "GET /1.0/a/info/quota", "PUT /user/1.0/a"}
	types := []string{"application/json", "application/newlines", "application/whoisi", "text/plain"}
	for i, s := range seeds {
		f.Add(s[0], s[1], uint8(i), uint8(i), false)
	}
	f.Fuzz(func(t *testing.T, a, b string, target, ctype uint8, replay bool) {
		method, path, _ := cut(targets[int(target)%len(targets)])
		h := http.Header{"Content-Type": {types[int(ctype)%len(types)]}, "X-Weave-Timestamp": {"1795895500.7"}}
		rs := rules.Default()
		if replay {
			rs = rs.ForReplay()
			rs.EmptyListIsObject = true
		}
		req := diff.Exchange{Method: method, Path: path}
		la := diff.Answer{Status: 200, Header: h, Body: []byte(a)}
		nb := diff.Answer{Status: 200, Header: h, Body: []byte(b)}
		res, err := Answers(req, la, nb, rs)
		if err != nil {
			t.Fatal(err)
		}
		// The fast path decides exactly as the full comparison would.
		if full, _ := answers(req, la, nb, rs, false); !reflect.DeepEqual(res, full) {
			t.Fatalf("fast path %+v, full comparison %+v", res, full)
		}
		// Likewise with native's X-Weave-Timestamp a little later (the
		// common shadow pair: same body, another clock).
		later := nb
		later.Header = h.Clone()
		later.Header.Set("X-Weave-Timestamp", "1795895500.71")
		fast, _ := Answers(req, la, later, rs)
		if full, _ := answers(req, la, later, rs, false); !reflect.DeepEqual(fast, full) {
			t.Fatalf("later clock: fast path %+v, full comparison %+v", fast, full)
		}
		for _, fd := range res.Findings {
			if fd.Path == "" || fd.Key == "" || fd.Kind == "" {
				t.Fatalf("finding without path, key or kind: %+v", fd)
			}
		}
		if self, _ := Answers(req, la, la, rs); self.Class != diff.Identical {
			t.Fatalf("an answer differs from itself: %+v", self)
		}
		// The same answer with a charset parameter is not byte-identical,
		// so it goes through the whole comparison, which must find nothing.
		h2 := h.Clone()
		h2.Set("Content-Type", h.Get("Content-Type")+"; charset=UTF-8")
		same := diff.Answer{Status: 200, Header: h2, Body: append([]byte(nil), a...)}
		if self, _ := Answers(req, la, same, rs); self.Class != diff.EqualAfterRules {
			t.Fatalf("an answer differs from itself under the rules: %+v", self)
		}
	})
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

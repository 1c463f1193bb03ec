// Package compare compares two answers to one request with go-cmp under
// the declared rules, and names every differing field by its path.
package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strings"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/normalize"
	"github.com/weaveproxy/weaveproxy/diff/rules"
)

// Compare compares the legacy and native answers of a pair.
func Compare(p diff.Pair, rs *rules.RuleSet) (diff.Result, error) {
	return Answers(p.Request, p.Legacy, p.Native, rs)
}

// Answers compares answer a (the model: legacy) with answer b to the same
// request. A nil rs means the defaults.
func Answers(req diff.Exchange, a, b diff.Answer, rs *rules.RuleSet) (diff.Result, error) {
	return answers(req, a, b, rs, true)
}

// answers is Answers; fast false takes the full comparison always (the
// tests hold the fast path to its results).
func answers(req diff.Exchange, a, b diff.Answer, rs *rules.RuleSet, fast bool) (diff.Result, error) {
	if rs == nil {
		rs = rules.Default()
	}
	c, err := rs.Compile(req.Method, req.Path)
	if err != nil {
		return diff.Result{}, fmt.Errorf("compare: %w", err)
	}
	if failed(a) && failed(b) {
		// Neither side answered: nothing about native's behaviour can be
		// learned from the pair, for or against.
		return diff.Result{Class: diff.BothFailed}, nil
	}
	if identical(a, b, c) {
		return diff.Result{Class: diff.Identical}, nil
	}
	nopt := normalize.Options{IgnoreHeader: c.IgnoreHeader, ContentTypeParams: c.ContentTypeParams}
	fa, fb := normalize.Answer(a, nopt), normalize.Answer(b, nopt)
	sameBytes := bytes.Equal(a.Body, b.Body)
	if sameBytes {
		// The same bytes are the same body to every client, however the
		// two sides labelled them (PHP's User API sent its bare codes as
		// text/html): the label's difference is the Content-Type finding.
		fb.Body, fb.Format = fa.Body, fa.Format
	}
	var findings []diff.Finding
	var why []string
	if ok, sameBody, used := quickEqual(c, fa, fb, sameBytes); fast && ok {
		findings = keep(c, quickRelations(c, fa, fb, sameBody))
		why = quickRules(c, a, b, used)
	} else {
		findings = Forms(c, fa, fb)
		if len(findings) == 0 {
			why = explainEqual(c, a, b, fa, fb)
		}
	}
	if len(findings) == 0 {
		return diff.Result{Class: diff.EqualAfterRules, Rules: why}, nil
	}
	return diff.Result{Class: diff.Different, Findings: findings}, nil
}

// Forms compares two normalised answers under compiled rules.
func Forms(c *rules.Compiled, fa, fb normalize.Form) []diff.Finding {
	ta, tb := fa.Tree(), fb.Tree()
	if c.EmptyListIsObject {
		ta["body"], tb["body"] = emptyToMarker(ta["body"]), emptyToMarker(tb["body"])
	}
	bothOK := ok2xx(fa.Status) && ok2xx(fb.Status)
	r := &reporter{c: c}
	cmp.Equal(ta, tb, options(c, bothOK, r)...)
	findings := r.findings
	if c.Relations {
		findings = append(findings, relations(c, fa, fb, bothOK)...)
	}
	return keep(c, findings)
}

// keep drops the findings on ignored fields and sorts the rest by path.
func keep(c *rules.Compiled, findings []diff.Finding) []diff.Finding {
	kept := findings[:0]
	for _, f := range findings {
		if !c.Ignored(f.Path) {
			kept = append(kept, f)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].Path < kept[j].Path })
	return kept
}

func ok2xx(status int) bool { return status >= 200 && status < 300 }

// identical: same status, same body bytes, same headers once the ignored
// ones are dropped (names compared case-insensitively: Go canonicalises
// them anyway).
func identical(a, b diff.Answer, c *rules.Compiled) bool {
	if a.Status != b.Status || !bytes.Equal(a.Body, b.Body) {
		return false
	}
	ha, hb := headerSet(a, c), headerSet(b, c)
	if len(ha) != len(hb) {
		return false
	}
	for k, v := range ha {
		if hb[k] != v {
			return false
		}
	}
	return true
}

func headerSet(a diff.Answer, c *rules.Compiled) map[string]string {
	m := make(map[string]string, len(a.Header))
	for k, v := range a.Header {
		lk := strings.ToLower(k)
		if !c.IgnoreHeader(lk) {
			m[lk] = m[lk] + strings.Join(v, "\x00")
		}
	}
	return m
}

func options(c *rules.Compiled, bothOK bool, r *reporter) []cmp.Option {
	isStamp := func(p cmp.Path) bool { return c.Timestamp(render(p), bothOK) }
	return []cmp.Option{
		cmp.Reporter(r),
		cmp.FilterPath(func(p cmp.Path) bool { return c.Ignored(render(p)) }, cmp.Ignore()),
		cmp.FilterPath(isStamp, cmp.Comparer(stampEqual(c))),
		cmp.FilterPath(func(p cmp.Path) bool { return !isStamp(p) }, cmp.Comparer(numberEqual(c.ExactNumbers))),
		cmp.FilterPath(func(p cmp.Path) bool {
			if t, ok := p.Last().(cmp.Transform); ok && t.Name() == unorderedName {
				return false // the transformer's own output: already sorted
			}
			return c.Unordered(render(p))
		}, cmp.Transformer(unorderedName, sortElements)),
	}
}

const unorderedName = "unordered"

// numberEqual compares JSON numbers by value unless exact: 1.5 and 1.50
// (and 1e2 and 100) are the same number to every JSON client.
func numberEqual(exact bool) func(a, b json.Number) bool {
	return func(a, b json.Number) bool {
		if exact || a == b {
			return a == b
		}
		ra, oka := new(big.Rat).SetString(string(a))
		rb, okb := new(big.Rat).SetString(string(b))
		return oka && okb && ra.Cmp(rb) == 0
	}
}

// stampEqual compares timestamps (seconds) within the tolerance.
func stampEqual(c *rules.Compiled) func(a, b json.Number) bool {
	return func(a, b json.Number) bool {
		if c.Tolerance == rules.AnyValue {
			return true
		}
		ra, oka := new(big.Rat).SetString(string(a))
		rb, okb := new(big.Rat).SetString(string(b))
		if !oka || !okb {
			return a == b
		}
		d := new(big.Rat).Sub(ra, rb)
		d.Abs(d)
		tol := new(big.Rat).SetFrac64(c.Tolerance.Nanoseconds(), 1e9)
		return d.Cmp(tol) <= 0
	}
}

// sortElements orders a list canonically so that two lists holding the
// same elements in different orders line up: objects by their id, other
// values by their JSON text.
func sortElements(in []any) []any {
	out := append([]any(nil), in...)
	keys := make([]string, len(out))
	for i, v := range out {
		keys[i] = sortKey(v)
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return keys[idx[i]] < keys[idx[j]] })
	sorted := make([]any, len(out))
	for i, k := range idx {
		sorted[i] = out[k]
	}
	return sorted
}

func sortKey(v any) string {
	if id, ok := elementID(v); ok {
		return "0" + id
	}
	b, _ := json.Marshal(v)
	return "1" + string(b)
}

// elementID returns the id of a WBO-like element.
func elementID(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	switch id := m["id"].(type) {
	case string:
		return id, true
	case json.Number:
		return string(id), true
	}
	return "", false
}

// emptyMarker stands for [] and {} alike when the rules say PHP's empty
// list and an empty object are the same.
type emptyMarker struct{}

func emptyToMarker(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return emptyMarker{}
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = emptyToMarker(x)
		}
		return out
	case []any:
		if len(t) == 0 {
			return emptyMarker{}
		}
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = emptyToMarker(x)
		}
		return out
	}
	return v
}

// unwrap returns the dynamic value of an interface.
func unwrap(v reflect.Value) reflect.Value {
	for v.IsValid() && v.Kind() == reflect.Interface {
		if v.IsNil() {
			return v
		}
		v = v.Elem()
	}
	return v
}

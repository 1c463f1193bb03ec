package compare

import (
	"encoding/json"
	"math/big"
	"sort"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/normalize"
	"github.com/weaveproxy/weaveproxy/diff/path"
	"github.com/weaveproxy/weaveproxy/diff/rules"
)

// Timestamps are compared by their relations as well as (or, for replays,
// instead of) their values: relations hold whatever the clock said.
// A relation is only required of native where legacy keeps it: legacy is
// the model, and its own defects are not native's findings.

const headerStamp = "header.x-weave-timestamp"

// stamp is one timestamp leaf of an answer.
type stamp struct {
	path    string
	text    json.Number
	val     *big.Rat
	aligned bool // the path names the same field in both answers
}

type stamps struct {
	header *stamp
	body   []stamp
}

func collect(c *rules.Compiled, f normalize.Form, bothOK bool) stamps {
	s := stamps{header: headerStampOf(c, f)}
	w := walker{c: c, bothOK: bothOK, out: &s.body}
	w.walk(f.Body, "body", true)
	return s
}

func headerStampOf(c *rules.Compiled, f normalize.Form) *stamp {
	if n, ok := f.Header["x-weave-timestamp"].(json.Number); ok && !c.Ignored(headerStamp) {
		if r, ok := new(big.Rat).SetString(string(n)); ok {
			return &stamp{path: headerStamp, text: n, val: r, aligned: true}
		}
	}
	return nil
}

type walker struct {
	c      *rules.Compiled
	bothOK bool
	out    *[]stamp
}

func (w walker) walk(v any, p string, aligned bool) {
	if w.c.Ignored(p) {
		return
	}
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			w.walk(x, p+path.Key(k), aligned)
		}
	case []any:
		unordered := w.c.Unordered(p)
		for i, x := range t {
			seg, al := path.Index(i), aligned
			if unordered {
				if id, ok := elementID(x); ok {
					seg = path.ID(id)
				} else {
					seg, al = path.Any, false
				}
			}
			w.walk(x, p+seg, al)
		}
	case json.Number:
		if w.c.Timestamp(p, w.bothOK) {
			if r, ok := new(big.Rat).SetString(string(t)); ok {
				*w.out = append(*w.out, stamp{path: p, text: t, val: r, aligned: aligned})
			}
		}
	}
}

// quickRelations is relations for a pair quickEqual decided. When the
// bodies are the same values their timestamps are collected once, and the
// relations between body timestamps alone (order, sort order) hold for
// native exactly where they hold for legacy: only those involving the
// header can break.
func quickRelations(c *rules.Compiled, fa, fb normalize.Form, sameBody bool) []diff.Finding {
	bothOK := ok2xx(fa.Status) && ok2xx(fb.Status)
	if !c.Relations {
		return nil
	}
	if !sameBody {
		return relations(c, fa, fb, bothOK)
	}
	la := collect(c, fa, bothOK)
	return headerRelations(c, la, stamps{header: headerStampOf(c, fb), body: la.body}, bothOK)
}

// headerRelations are the relations checks a pair can fail through its
// X-Weave-Timestamp: all but order and sortedBy, which look at the body
// alone (so quickRelations, for the same body values, runs these only).
func headerRelations(c *rules.Compiled, la, lb stamps, bothOK bool) []diff.Finding {
	var out []diff.Finding
	out = append(out, headerBound(c, la, lb)...)
	out = append(out, writeEcho(c, la, lb, bothOK)...)
	return append(out, twoDecimals(c, la, lb)...)
}

func relations(c *rules.Compiled, fa, fb normalize.Form, bothOK bool) []diff.Finding {
	la, lb := collect(c, fa, bothOK), collect(c, fb, bothOK)
	out := headerRelations(c, la, lb, bothOK)
	out = append(out, order(c, la, lb)...)
	if bothOK {
		out = append(out, sortedBy(c, fa, fb)...)
	}
	return out
}

// sortedBy: a list asked for with sort= is in that order by the field its
// elements carry (full=1), whatever the timestamps' values.
func sortedBy(c *rules.Compiled, fa, fb normalize.Form) []diff.Finding {
	key := c.Endpoint.SortKey()
	la, okA := fa.Body.([]any)
	lb, okB := fb.Body.([]any)
	if c.Endpoint.Kind != rules.CollectionGet || key == "" || !okA || !okB {
		return nil
	}
	desc := c.Endpoint.Descending()
	if firstUnsorted(la, key, desc) >= 0 {
		return nil
	}
	i := firstUnsorted(lb, key, desc)
	if i < 0 {
		return nil
	}
	seg := path.Index(i)
	if id, ok := elementID(lb[i]); ok && c.Unordered("body") {
		seg = path.ID(id)
	}
	p := "body" + seg + path.Key(key)
	native := lb[i].(map[string]any)[key].(json.Number)
	return []diff.Finding{relation(c, p, "", native, "out of sort="+c.Endpoint.Query.Get("sort")+" order")}
}

// firstUnsorted returns the index of the first element whose key breaks
// the order, or -1; elements without the key (PHP leaves out nulls) are
// skipped.
func firstUnsorted(list []any, key string, desc bool) int {
	var prev *big.Rat
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			continue
		}
		n, ok := m[key].(json.Number)
		if !ok {
			continue
		}
		v, ok := new(big.Rat).SetString(string(n))
		if !ok {
			continue
		}
		if prev != nil && ((desc && v.Cmp(prev) > 0) || (!desc && v.Cmp(prev) < 0)) {
			return i
		}
		prev = v
	}
	return -1
}

func relation(c *rules.Compiled, p string, legacy, native json.Number, note string) diff.Finding {
	return diff.Finding{Path: p, Key: c.Key(p), Kind: diff.KindRelation,
		Legacy: string(legacy), Native: string(native), Note: note}
}

func lookup(s stamps, p string) json.Number {
	for _, x := range s.body {
		if x.path == p {
			return x.text
		}
	}
	return ""
}

// headerBound: X-Weave-Timestamp is the server time of the answer, so no
// modified in the body can be later.
func headerBound(c *rules.Compiled, la, lb stamps) []diff.Finding {
	if la.header == nil || lb.header == nil {
		return nil
	}
	for _, s := range la.body {
		if s.val.Cmp(la.header.val) > 0 {
			return nil
		}
	}
	var out []diff.Finding
	for _, s := range lb.body {
		if s.val.Cmp(lb.header.val) > 0 {
			out = append(out, relation(c, s.path, lookup(la, s.path), s.text,
				"later than X-Weave-Timestamp "+string(lb.header.text)))
		}
	}
	return out
}

// writeEcho: a write answers its own timestamp, equal to X-Weave-Timestamp.
func writeEcho(c *rules.Compiled, la, lb stamps, bothOK bool) []diff.Finding {
	if !bothOK || !c.Endpoint.Write() || la.header == nil || lb.header == nil {
		return nil
	}
	bodyOf := func(s stamps) *stamp {
		for i := range s.body {
			if s.body[i].path == "body" {
				return &s.body[i]
			}
		}
		return nil
	}
	ba, bb := bodyOf(la), bodyOf(lb)
	if ba == nil || bb == nil || ba.val.Cmp(la.header.val) != 0 || bb.val.Cmp(lb.header.val) == 0 {
		return nil
	}
	return []diff.Finding{relation(c, "body", ba.text, bb.text,
		"differs from X-Weave-Timestamp "+string(lb.header.text))}
}

var hundred = big.NewRat(100, 1)

func twoDecimals(c *rules.Compiled, la, lb stamps) []diff.Finding {
	ok := func(s stamp) bool { return new(big.Rat).Mul(s.val, hundred).IsInt() }
	all := func(s stamps) []stamp {
		if s.header != nil {
			return append([]stamp{*s.header}, s.body...)
		}
		return s.body
	}
	for _, s := range all(la) {
		if !ok(s) {
			return nil
		}
	}
	var out []diff.Finding
	for _, s := range all(lb) {
		if !ok(s) {
			legacy := lookup(la, s.path)
			if s.path == headerStamp && la.header != nil {
				legacy = la.header.text
			}
			out = append(out, relation(c, s.path, legacy, s.text, "more than two decimals"))
		}
	}
	return out
}

// maxOrdered bounds the quadratic order check.
const maxOrdered = 400

// order: two fields that legacy orders one way must not be ordered the
// other way by native (equal on one side only is allowed: two writes in
// the same hundredth of a second are a matter of timing).
func order(c *rules.Compiled, la, lb stamps) []diff.Finding {
	legacy := make(map[string]stamp, len(la.body))
	for _, s := range la.body {
		if s.aligned {
			legacy[s.path] = s
		}
	}
	var common []stamp
	for _, s := range lb.body {
		if _, ok := legacy[s.path]; ok && s.aligned {
			common = append(common, s)
		}
	}
	sort.Slice(common, func(i, j int) bool { return common[i].path < common[j].path })
	if len(common) > maxOrdered {
		common = common[:maxOrdered]
	}
	var out []diff.Finding
	for j := 1; j < len(common); j++ {
		for i := 0; i < j; i++ {
			li, lj := legacy[common[i].path], legacy[common[j].path]
			sl := li.val.Cmp(lj.val)
			sn := common[i].val.Cmp(common[j].val)
			if sl*sn < 0 {
				out = append(out, relation(c, common[j].path, lj.text, common[j].text,
					"ordered against "+common[i].path+" unlike legacy"))
				break
			}
		}
	}
	return out
}

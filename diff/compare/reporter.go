package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/normalize"
	"github.com/weaveproxy/weaveproxy/diff/path"
	"github.com/weaveproxy/weaveproxy/diff/rules"
)

// reporter collects the path of every unequal leaf cmp visits.
type reporter struct {
	c        *rules.Compiled
	steps    cmp.Path
	findings []diff.Finding
}

func (r *reporter) PushStep(ps cmp.PathStep) { r.steps = append(r.steps, ps) }
func (r *reporter) PopStep()                 { r.steps = r.steps[:len(r.steps)-1] }

func (r *reporter) Report(res cmp.Result) {
	if res.Equal() {
		return
	}
	p := render(r.steps)
	vx, vy := r.steps.Last().Values()
	f := diff.Finding{Path: p, Key: r.c.Key(p), Legacy: Show(vx), Native: Show(vy)}
	ux, uy := unwrap(vx), unwrap(vy)
	switch {
	case !vx.IsValid():
		f.Kind = diff.KindExtra
	case !vy.IsValid():
		f.Kind = diff.KindMissing
	case ux.IsValid() != uy.IsValid() || (ux.IsValid() && ux.Type() != uy.Type()):
		f.Kind = diff.KindType
	default:
		f.Kind = diff.KindValue
	}
	r.findings = append(r.findings, f)
}

// render turns a cmp path over a normalize.Form tree into a field path.
// Elements of a list compared as unordered are named by their id, since
// their position means nothing.
func render(p cmp.Path) string {
	var b strings.Builder
	root := true
	for i, step := range p {
		switch s := step.(type) {
		case cmp.MapIndex:
			k := fmt.Sprint(s.Key().Interface())
			if root {
				b.WriteString(k)
				root = false
			} else {
				b.WriteString(path.Key(k))
			}
		case cmp.SliceIndex:
			if t, ok := prev(p, i).(cmp.Transform); ok && t.Name() == unorderedName {
				b.WriteString(idSelector(s))
				continue
			}
			ix, iy := s.SplitKeys()
			if ix < 0 {
				ix = iy
			}
			b.WriteString(path.Index(ix))
		}
	}
	return b.String()
}

func prev(p cmp.Path, i int) cmp.PathStep {
	if i == 0 {
		return nil
	}
	return p[i-1]
}

func idSelector(s cmp.SliceIndex) string {
	vx, vy := s.Values()
	for _, v := range []reflect.Value{vx, vy} {
		if u := unwrap(v); u.IsValid() {
			if id, ok := elementID(u.Interface()); ok {
				return path.ID(id)
			}
		}
	}
	return path.Any
}

// maxShown bounds a rendered value: findings are for reading, samples
// keep the whole answers.
const maxShown = 300

// Show renders a value found in a normalised tree: compact JSON, raw
// text marked as such, "null" for JSON null, "" for no value at all.
func Show(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	if v.Kind() == reflect.Interface && v.IsNil() {
		return "null"
	}
	return ShowValue(unwrap(v).Interface())
}

// ShowValue renders a tree value like Show.
func ShowValue(x any) string {
	switch t := x.(type) {
	case normalize.Raw:
		return "raw: " + truncate(string(t))
	case emptyMarker:
		return "[] or {}"
	case nil:
		return "null"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return fmt.Sprint(x)
	}
	return truncate(strings.TrimSuffix(buf.String(), "\n"))
}

func truncate(s string) string {
	if len(s) <= maxShown {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "\uFFFD") + "…"
}

package report

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/compare"
	"github.com/weaveproxy/weaveproxy/diff/normalize"
	"github.com/weaveproxy/weaveproxy/diff/path"
)

// line is one line of a side of a sample, highlighted when it holds (part
// of) a differing field.
type line struct {
	Text string
	HL   bool
}

// marks are the findings on one side: the paths where this side has a
// differing value, and for elements of unordered lists without ids ([*])
// the values that differ, by the list's path.
type marks struct {
	exact   map[string]bool
	anyVals map[string]map[string]bool
}

func marksFor(fs []diff.Finding, legacy bool) marks {
	m := marks{exact: map[string]bool{}, anyVals: map[string]map[string]bool{}}
	for _, f := range fs {
		v := f.Native
		if legacy {
			v = f.Legacy
		}
		if v == "" {
			continue // this side has no value there
		}
		if parent, ok := strings.CutSuffix(f.Path, path.Any); ok {
			if m.anyVals[parent] == nil {
				m.anyVals[parent] = map[string]bool{}
			}
			m.anyVals[parent][v] = true
			continue
		}
		m.exact[f.Path] = true
	}
	return m
}

// maxLines bounds one side of a sample.
const maxLines = 1500

// prettyAnswer renders an answer as status line, headers and body, the
// body parsed and indented as the comparison saw it.
func prettyAnswer(a diff.Answer, m marks) []line {
	out := []line{{Text: "HTTP " + strconv.Itoa(a.Status), HL: m.exact["status"]}}
	out = append(out, prettyHeaders(a.Header, m)...)
	out = append(out, line{})
	mt, _, _ := mime.ParseMediaType(a.Header.Get("Content-Type"))
	v, _ := normalize.Body(mt, a.Body)
	if raw, ok := v.(normalize.Raw); ok {
		for _, l := range strings.Split(strings.ToValidUTF8(string(raw), "\uFFFD"), "\n") {
			out = append(out, line{Text: visible(l), HL: m.exact["body"]})
		}
	} else {
		p := printer{m: m}
		p.value(v, []string{"body"}, 0, "", "", false)
		out = append(out, p.lines...)
	}
	if len(out) > maxLines {
		n := len(out) - maxLines
		out = append(out[:maxLines], line{Text: "… " + strconv.Itoa(n) + " more lines"})
	}
	return out
}

func prettyHeaders(h http.Header, m marks) []line {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	var out []line
	for _, k := range names {
		for _, v := range h[k] {
			out = append(out, line{Text: k + ": " + v, HL: m.exact["header."+strings.ToLower(k)]})
		}
	}
	return out
}

type printer struct {
	m     marks
	lines []line
}

func (p *printer) hit(paths []string) bool {
	for _, c := range paths {
		if p.m.exact[c] {
			return true
		}
	}
	return false
}

// value prints v, reachable by any of paths (index and id forms of list
// elements), after prefix ("key": or nothing) and before suffix (a comma
// or nothing); hl carries a highlighted ancestor down.
func (p *printer) value(v any, paths []string, indent int, prefix, suffix string, hl bool) {
	hl = hl || p.hit(paths)
	pad := strings.Repeat("  ", indent)
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			p.add(pad+prefix+"{}"+suffix, hl)
			return
		}
		p.add(pad+prefix+"{", hl)
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for n, k := range keys {
			child := make([]string, len(paths))
			for i, c := range paths {
				child[i] = c + path.Key(k)
			}
			p.value(t[k], child, indent+1, jsonText(k)+": ", comma(n, len(keys)), hl)
		}
		p.add(pad+"}"+suffix, hl)
	case []any:
		if len(t) == 0 {
			p.add(pad+prefix+"[]"+suffix, hl)
			return
		}
		p.add(pad+prefix+"[", hl)
		for i, x := range t {
			var child []string
			elemHL := hl
			for _, c := range paths {
				child = append(child, c+path.Index(i))
				if m, ok := x.(map[string]any); ok {
					if id, ok := idOf(m); ok {
						child = append(child, c+path.ID(id))
					}
				}
				elemHL = elemHL || p.m.anyVals[c][compare.ShowValue(x)]
			}
			p.value(x, child, indent+1, "", comma(i, len(t)), elemHL)
		}
		p.add(pad+"]"+suffix, hl)
	default:
		p.add(pad+prefix+scalarText(v)+suffix, hl)
	}
}

func comma(i, n int) string {
	if i < n-1 {
		return ","
	}
	return ""
}

// visible shows control characters (whoisi lengths, NULs) as \xNN.
func visible(s string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			b.WriteString(`\x` + strconv.FormatInt(int64(r)+0x100, 16)[1:])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (p *printer) add(text string, hl bool) { p.lines = append(p.lines, line{Text: text, HL: hl}) }

func idOf(m map[string]any) (string, bool) {
	switch id := m["id"].(type) {
	case string:
		return id, true
	case json.Number:
		return string(id), true
	}
	return "", false
}

func scalarText(v any) string {
	if raw, ok := v.(normalize.Raw); ok {
		return "raw: " + strconv.Quote(string(raw))
	}
	return jsonText(v)
}

func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "?"
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

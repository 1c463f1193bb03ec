package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/store"
)

//go:embed report.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":  func(r float64) string { return strconv.FormatFloat(100*r, 'f', 1, 64) + "%" },
	"time": func(t interface{ Format(string) string }) string { return t.Format("2006-01-02 15:04:05 MST") },
	// why drops the verdict's own "— ready" or "— not ready", which
	// the badge beside it already says.
	"why": func(reason string) string {
		return strings.NewReplacer(" — not ready", "", " — ready", "").Replace(reason)
	},
}).Parse(pageTemplate))

// page is what the template renders.
type page struct {
	Title  string
	R      *Report
	Routes []routeView
	Points int // about how many points a chart has
}

type routeView struct {
	Route
	Anchor string
	Spark  template.HTML
	Chart  template.HTML
	Views  []fieldView
}

type fieldView struct {
	Field
	Anchor  string
	Samples []sampleView
}

type sampleView struct {
	ID       string
	At       string
	DryRun   bool
	Cut      bool
	Request  []line
	Legacy   []line
	Native   []line
	Legacy2  []line
	Findings []diff.Finding
}

// HTML renders a report as one self-contained page: level 1 (routes) is
// always shown; each route's fields (level 2) and each field's samples
// (level 3) are sections shown when their anchor is the URL's fragment,
// so links work from a file as well as from the admin listener.
func HTML(rep *Report, opt Options) ([]byte, error) {
	opt = opt.withDefaults()
	pg := page{Title: opt.Title, R: rep, Points: chartPoints}
	for i, r := range rep.Routes {
		rv := routeView{Route: r, Anchor: "r" + strconv.Itoa(i+1),
			Spark: chart(r.Buckets, 120, 28, false), Chart: chart(r.Buckets, 640, 180, true)}
		for j, f := range r.Fields {
			fv := fieldView{Field: f, Anchor: rv.Anchor + "-f" + strconv.Itoa(j+1)}
			for _, s := range r.samples[f.Field] {
				fv.Samples = append(fv.Samples, sampleOf(s))
			}
			rv.Views = append(rv.Views, fv)
		}
		pg.Routes = append(pg.Routes, rv)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, pg); err != nil {
		return nil, fmt.Errorf("report: html: %w", err)
	}
	return buf.Bytes(), nil
}

func sampleOf(s store.Sample) sampleView {
	sv := sampleView{ID: s.ID, At: s.At.Format("2006-01-02 15:04:05.000 MST"), DryRun: s.DryRun, Cut: s.Cut,
		Findings: s.Findings}
	p := s.Pair
	req := []line{{Text: p.Request.Method + " " + p.Request.Path}}
	req = append(req, prettyHeaders(p.Request.Header, marks{})...)
	if len(p.Request.Body) > 0 {
		req = append(req, line{})
		for _, l := range strings.Split(string(p.Request.Body), "\n") {
			req = append(req, line{Text: visible(l)})
		}
	}
	sv.Request = req
	sv.Legacy = prettyAnswer(p.Legacy, marksFor(s.Findings, true))
	sv.Native = prettyAnswer(p.Native, marksFor(s.Findings, false))
	if p.Legacy2 != nil {
		sv.Legacy2 = prettyAnswer(*p.Legacy2, marks{})
	}
	return sv
}

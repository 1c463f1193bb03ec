package report

import (
	"fmt"
	"html"
	"html/template"
	"strings"
)

// chart draws the match rate per time bucket as an inline SVG: the
// report must open without any other file or network access.
func chart(bs []Bucket, w, h int, axes bool) template.HTML {
	if len(bs) == 0 {
		return template.HTML(fmt.Sprintf(`<svg class="chart" width="%d" height="%d" role="img" aria-label="no data"></svg>`, w, h))
	}
	left, bottom, top, right := 2, 2, 2, 2
	if axes {
		left, bottom, top, right = 40, 20, 8, 8
	}
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	x := func(i int) float64 {
		if len(bs) == 1 {
			return float64(left) + pw/2
		}
		return float64(left) + pw*float64(i)/float64(len(bs)-1)
	}
	y := func(r float64) float64 { return float64(top) + ph*(1-r) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="match rate over time">`, w, h, w, h)
	if axes {
		for _, r := range []float64{0, 0.5, 1} {
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>`, left, w-right, y(r), y(r))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="axis" text-anchor="end">%d%%</text>`, left-4, y(r)+4, int(r*100))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis">%s</text>`, left, h-4, html.EscapeString(bs[0].Start.Format("2006-01-02 15:04")))
		if len(bs) > 1 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" text-anchor="end">%s</text>`, w-right, h-4,
				html.EscapeString(bs[len(bs)-1].Start.Format("2006-01-02 15:04")))
		}
	}
	pts := make([]string, len(bs))
	for i, bk := range bs {
		pts[i] = fmt.Sprintf("%.1f,%.1f", x(i), y(bk.MatchRate))
	}
	fmt.Fprintf(&b, `<polyline points="%s" class="line"/>`, strings.Join(pts, " "))
	for i, bk := range bs {
		class := "pt"
		if bk.Different > 0 {
			class = "pt bad"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%d" class="%s"><title>%s: %.1f%% of %d pairs match (%d different)</title></circle>`,
			x(i), y(bk.MatchRate), map[bool]int{true: 3, false: 2}[axes], class,
			html.EscapeString(bk.Start.Format("2006-01-02 15:04 MST")), 100*bk.MatchRate, bk.Pairs, bk.Different)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped text only
}

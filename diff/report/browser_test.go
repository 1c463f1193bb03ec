package report_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/weaveproxy/weaveproxy/diff/report"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// browser starts a headless chromium for one test, in a window wide
// enough for the report's layout.
func browser(t *testing.T) context.Context {
	t.Helper()
	return testenv.Browser(t, chromedp.NoDefaultBrowserCheck, chromedp.WindowSize(1280, 900))
}

// displayed reports whether the element sel is rendered (a hidden level
// section has display: none).
func displayed(sel string) chromedp.Action[bool] {
	return chromedp.Evaluate[bool](`(() => { const e = document.querySelector(` + "`" + sel + "`" + `);
		return !!e && getComputedStyle(e).display !== "none" && e.getBoundingClientRect().height > 0; })()`)
}

// run runs one action, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// TestReportInChromium opens the written report.html from disk: the routes
// table renders with its charts, a route's link shows that route's fields,
// a field's link shows its samples side by side with highlighted parts,
// and a screenshot is taken.
func TestReportInChromium(t *testing.T) {
	st, clk := seeded(t)
	dir := t.TempDir()
	if err := report.WriteWith(context.Background(), st, dir, opts(clk)); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate("file://"+filepath.Join(dir, "report.html")),
		chromedp.WaitVisible(chromedp.CSS("#routes table")))
	title := run(t, ctx, chromedp.Title())
	rows := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#routes tbody tr").length`))
	points := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#routes svg.chart circle").length`))
	if title != "weaveproxy shadow diff report" || rows != 4 || points < 4 {
		t.Errorf("level 1: title %q, %d rows, %d chart points", title, rows, points)
	}
	if run(t, ctx, displayed("#r2")) {
		t.Error("level 2 is shown before its link is followed")
	}
	// Level 1 → level 2: the info/quota route's link.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#routes a[href="#r2"]`)), chromedp.WaitVisible(chromedp.CSS("#r2")))
	routeText := run(t, ctx, chromedp.Text(chromedp.CSS("#r2")))
	if !run(t, ctx, displayed("#r2")) || !strings.Contains(routeText, "info/quota") || !strings.Contains(routeText, "body[1]") {
		t.Errorf("level 2: %q", routeText)
	}
	if run(t, ctx, displayed("#r2-f2")) {
		t.Error("level 3 is shown before its link is followed")
	}
	// Level 2 → level 3: the real difference on body[1].
	do(t, ctx, chromedp.Click(chromedp.CSS(`#r2 a[href="#r2-f2"]`)), chromedp.WaitVisible(chromedp.CSS("#r2-f2 .sample")))
	sampleText := run(t, ctx, chromedp.Text(chromedp.CSS("#r2-f2")))
	if !run(t, ctx, displayed("#r2-f2")) || run(t, ctx, displayed("#r2")) ||
		!strings.Contains(sampleText, "Legacy") || !strings.Contains(sampleText, "5120") {
		t.Errorf("level 3: %q", sampleText)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#r2-f2 pre.native .hl").length`)); n == 0 {
		t.Error("no differing part highlighted on the native side")
	}
	// And back up.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#r2-f2 nav a[href="#r2"]`)), chromedp.WaitVisible(chromedp.CSS("#r2")))
	png := run(t, ctx, chromedp.FullScreenshot(100))
	shot := filepath.Join(t.TempDir(), "report.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot %s: %v, %d bytes", shot, err, len(png))
	}
}

// The live handler serves the same report: it renders in Chromium too,
// and its link to report.json resolves under the mount prefix.
func TestLiveReportInChromium(t *testing.T) {
	st, clk := seeded(t)
	srv := httptest.NewServer(stripPrefix("/diff", report.Handler(st, opts(clk))))
	defer srv.Close()
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(srv.URL+"/diff/"), chromedp.WaitVisible(chromedp.CSS("#routes table")))
	rows := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#routes tbody tr").length`))
	do(t, ctx, chromedp.Click(chromedp.CSS(`a[href="report.json"]`)), chromedp.WaitReady(chromedp.CSS("body")))
	loc := run(t, ctx, chromedp.Location())
	text := run(t, ctx, chromedp.Text(chromedp.CSS("body")))
	if rows != 4 || loc != srv.URL+"/diff/report.json" || !strings.Contains(text, `"equal_after_rules"`) {
		t.Errorf("live: %d rows, at %s, json %.200q", rows, loc, text)
	}
}

// The report explains itself to QA: every column of the routes table has
// a legend entry, a route says which rules made its pairs equal, a
// verdict leads with its cause, and a waiver says what kind it is.
func TestReportExplainsItselfInChromium(t *testing.T) {
	st, clk := seeded(t)
	dir := t.TempDir()
	if err := report.WriteWith(context.Background(), st, dir, opts(clk)); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate("file://"+filepath.Join(dir, "report.html")),
		chromedp.WaitVisible(chromedp.CSS("#routes table")))
	missing := run(t, ctx, chromedp.Evaluate[[]string](`(() => {
		const terms = new Set([...document.querySelectorAll("#legend dt")].map(d => d.textContent.trim()));
		return [...document.querySelectorAll("#routes thead th")].map(th => th.textContent.trim())
			.filter(h => h !== "Route" && !terms.has(h)); })()`))
	if len(missing) > 0 {
		t.Errorf("columns without a legend entry: %v", missing)
	}
	if !run(t, ctx, displayed("#legend")) {
		t.Error("the legend is not shown with the routes table")
	}
	why := run(t, ctx, chromedp.Text(chromedp.CSS(`#routes tbody tr:first-child .why`)))
	if !strings.HasPrefix(why, "1 of the last 3 pairs differ") {
		t.Errorf("verdict %q does not lead with its cause", why)
	}
	// The route's pairs came a minute apart: buckets sized to that
	// few-minute run show several points, not one hour-wide dot.
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#r2 svg.chart circle").length`)); n < 3 {
		t.Errorf("a few-minute run drew %d points", n)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`#routes a[href="#r1"]`)), chromedp.WaitVisible(chromedp.CSS("#r1")))
	rules := run(t, ctx, chromedp.Text(chromedp.CSS("#r1 table.equalby")))
	if !strings.Contains(rules, "timestamp tolerance") {
		t.Errorf("route page does not say which rule made pairs equal: %q", rules)
	}
	kinds := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".kind")].map(e => e.textContent)`))
	if !slices.Contains(kinds, "known legacy defect") {
		t.Errorf("waiver kinds shown: %v; want the known legacy defect labelled", kinds)
	}
}

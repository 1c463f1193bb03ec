package resetpages

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// TestBrowserResetFlow walks the whole reset in Chromium: the forgot form,
// the mailed link, the reset form, the success page.
func TestBrowserResetFlow(t *testing.T) {
	e := newEnv(t, storetest.SQLite())
	e.user("alice", "correct horse 1", "alice@example.com")
	ctx := testenv.Browser(t)

	err := chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+ResetPath),
		chromedp.WaitVisible(chromedp.CSS(`#forgot`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.Submit(chromedp.CSS(`#forgot`)),
		chromedp.WaitVisible(chromedp.CSS(`#notice`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#notice`))); err != nil || notice != msgKeySent {
		t.Fatalf("after the forgot form: %q, %v", notice, err)
	}
	m, ok := e.mail.Next(5 * time.Second)
	if !ok {
		t.Fatal("no mail")
	}
	var link string
	for _, line := range strings.Split(m.Body, "\n") {
		if strings.HasPrefix(line, e.srv.URL+ResetPath+"?") {
			link = line
		}
	}
	if link == "" {
		t.Fatalf("no link in:\n%s", m.Body)
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#reset`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), "brand new pass ✓"),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), "brand new pass"),
		chromedp.Submit(chromedp.CSS(`#reset`)),
		chromedp.WaitVisible(chromedp.CSS(`#error`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#error`))); err != nil || msg != msgMismatch {
		t.Fatalf("mismatching confirmation: %q, %v", msg, err)
	}
	// The re-rendered form kept the key: try again, matching.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#password`), "brand new pass ✓"),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), "brand new pass ✓"),
		chromedp.Submit(chromedp.CSS(`#reset`)),
		chromedp.WaitVisible(chromedp.CSS(`#notice`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if done, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#notice`))); err != nil || done != msgChanged {
		t.Fatalf("success page: %q, %v", done, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "reset-done.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil || len(shot) < 1000 {
		t.Fatalf("screenshot (%d bytes): %v", len(shot), err)
	}
	t.Logf("screenshot: %s", path)
	if !e.passwordIs("alice", "brand new pass ✓") {
		t.Fatal("the engine still has the old password")
	}
}

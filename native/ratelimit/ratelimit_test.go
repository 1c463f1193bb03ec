package ratelimit

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/counter"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// okHandler counts the requests that got through.
type okHandler struct{ n atomic.Int64 }

func (h *okHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.n.Add(1)
	w.Write([]byte("ok"))
}

func do(h http.Handler, method, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

// base is 20 s into an hour (so into a minute too; windows align to the
// Unix epoch).
var base = time.Unix(1_800_000_000-1_800_000_000%3600+20, 0)

func TestBudgetsAndRefusal(t *testing.T) {
	clk := testenv.NewClock(base)
	ev := &ceftest.Recorder{}
	l := New(counter.NewMemoryWith(clk.Now, 0), Config{Read: Budget{Limit: 4}, Write: Budget{Limit: 2}, Now: clk.Now}, ev)
	next := &okHandler{}
	h := l.Wrap(next, ByUser)

	for i := 0; i < 4; i++ {
		if w := do(h, "GET", "/1.0/alice/info/collections"); w.Code != 200 {
			t.Fatalf("read %d: %d", i, w.Code)
		}
	}
	// Writes have their own budget, and HEAD counts as a read.
	for i := 0; i < 2; i++ {
		if w := do(h, "PUT", "/1.0/alice/storage/tabs/x"); w.Code != 200 {
			t.Fatalf("write %d: %d", i, w.Code)
		}
	}
	clk.Set(base.Add(15500 * time.Millisecond))
	for _, m := range []string{"HEAD", "GET", "POST", "DELETE"} {
		w := do(h, m, "/1.0/Alice/storage/bookmarks")
		if w.Code != 503 {
			t.Fatalf("%s over budget: %d", m, w.Code)
		}
		// 24.5 s to the end of the minute, rounded up.
		if w.Header().Get("Retry-After") != "25" || w.Header().Get("X-Weave-Backoff") != "25" {
			t.Errorf("%s headers %v", m, w.Header())
		}
		if w.Header().Get("Content-Type") != "application/json" || w.Body.String() != `"server issue: rate limited"` {
			t.Errorf("%s body %q type %q", m, w.Body.String(), w.Header().Get("Content-Type"))
		}
	}
	if next.n.Load() != 6 {
		t.Errorf("%d requests reached the handler, want 6", next.n.Load())
	}
	// Another user is unaffected; requests without a user are not limited.
	if w := do(h, "GET", "/1.0/bob/info/collections"); w.Code != 200 {
		t.Errorf("bob: %d", w.Code)
	}
	if w := do(h, "GET", "/"); w.Code != 200 {
		t.Errorf("no user: %d", w.Code)
	}
	// One CEF event per class and window, however many refusals.
	if ev.Len() != 2 {
		t.Fatalf("%d events, want 2", ev.Len())
	}
	e := ev.Events()[0]
	if e.Signature != cef.SigRateLimited || e.Username != "alice" {
		t.Errorf("event %+v", e)
	}
	// The next window starts afresh.
	clk.Set(base.Add(40 * time.Second))
	if w := do(h, "GET", "/1.0/alice/info/collections"); w.Code != 200 {
		t.Errorf("next window: %d", w.Code)
	}
}

func TestDefaultsAndUnlimited(t *testing.T) {
	l := New(counter.NewMemory(), Config{Write: Budget{Limit: -1}, Classes: map[string]Budget{"search": {Limit: 1}}}, nil)
	for class, want := range map[string]Budget{
		ClassRead:     {600, time.Minute},
		ClassWrite:    {-1, time.Minute},
		ClassRegister: {20, time.Hour},
		"search":      {1, time.Minute},
	} {
		if got := l.Budget(class); got != want {
			t.Errorf("%s: %+v, want %+v", class, got, want)
		}
	}
	r := httptest.NewRequest("POST", "/", nil)
	for i := 0; i < 1000; i++ {
		if err := l.Check(r, ClassWrite, "u"); err != nil {
			t.Fatalf("unlimited write %d: %v", i, err)
		}
	}
	if err := l.Check(r, "search", "u"); err != nil {
		t.Fatal(err)
	}
	err := l.Check(r, "search", "u")
	if we, ok := weave.AsError(err); !ok || we.Status != 503 || we.Message != Message {
		t.Errorf("second search: %v", err)
	}
	if err := l.Check(r, "unknown", "u"); err != nil {
		t.Errorf("unbudgeted class limited: %v", err)
	}
}

// TestRegistrationByAddress: registrations are counted per source
// address, whatever name is registered.
func TestRegistrationByAddress(t *testing.T) {
	clk := testenv.NewClock(base)
	ev := &ceftest.Recorder{}
	l := New(counter.NewMemoryWith(clk.Now, 0), Config{Register: Budget{Limit: 2}, Now: clk.Now}, ev)
	h := l.Wrap(&okHandler{}, ByAddress(ClassRegister, false))
	reg := func(user, addr string) int {
		r := httptest.NewRequest("PUT", "/user/1.0/"+user, nil)
		r.RemoteAddr = addr + ":40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if reg("a", "192.0.2.1") != 200 || reg("b", "192.0.2.1") != 200 {
		t.Fatal("first two registrations refused")
	}
	if c := reg("c", "192.0.2.1"); c != 503 {
		t.Errorf("third from one address: %d", c)
	}
	if c := reg("d", "192.0.2.2"); c != 200 {
		t.Errorf("other address: %d", c)
	}
	if ev.Len() != 1 || ev.Events()[0].Username != "" {
		t.Errorf("events %+v", ev.Events())
	}
	// The window is an hour: 59 minutes later the address is still refused.
	clk.Set(base.Add(59 * time.Minute))
	if c := reg("e", "192.0.2.1"); c != 503 {
		t.Errorf("same hour: %d", c)
	}
	clk.Set(base.Add(time.Hour))
	if c := reg("f", "192.0.2.1"); c != 200 {
		t.Errorf("next hour: %d", c)
	}
}

// TestCustomRender: the API's renderer gets the refusal.
func TestCustomRender(t *testing.T) {
	var got *weave.Error
	l := New(counter.NewMemory(), Config{Read: Budget{Limit: 1}, Render: func(w http.ResponseWriter, _ *http.Request, e *weave.Error) {
		got = e
		w.WriteHeader(e.Status)
	}}, nil)
	h := l.Wrap(&okHandler{}, ByUser)
	do(h, "GET", "/1.0/u/x")
	if w := do(h, "GET", "/1.0/u/x"); w.Code != 503 || got == nil || got.Header["Retry-After"] == "" {
		t.Errorf("code %d, rendered %+v", w.Code, got)
	}
}

// TestRefusalsCounted (issue 10 item 10): refusals were in no metric and
// no log line.
func TestRefusalsCounted(t *testing.T) {
	clk := testenv.NewClock(base)
	reg := prometheus.NewRegistry()
	var logged strings.Builder
	l := New(counter.NewMemoryWith(clk.Now, 0), Config{Read: Budget{Limit: 1}, Now: clk.Now,
		Metrics: reg, Logger: slog.New(slog.NewTextHandler(&logged, nil))}, nil)
	h := l.Wrap(&okHandler{}, ByUser)
	for i := 0; i < 4; i++ {
		do(h, "GET", "/1.0/alice/info/collections")
	}
	if got := testutil.ToFloat64(l.refused.WithLabelValues(ClassRead)); got != 3 {
		t.Errorf("weaveproxy_rate_limited_total{class=read} = %v, want 3", got)
	}
	if n, err := testutil.GatherAndCount(reg, "weaveproxy_rate_limited_total"); err != nil || n != 1 {
		t.Errorf("registered series: %d, %v", n, err)
	}
	if c := strings.Count(logged.String(), "rate limited"); c != 1 {
		t.Errorf("%d log lines for one subject's refusals in one window, want 1:\n%s", c, logged.String())
	}
}

// TestOneBudgetPerUser (issue 9): the spellings of one user share one
// budget, and registration spends the address's budget with or without
// the trailing slash a real client sends.
func TestOneBudgetPerUser(t *testing.T) {
	clk := testenv.NewClock(base)
	l := New(counter.NewMemoryWith(clk.Now, 0), Config{Read: Budget{Limit: 3}, Register: Budget{Limit: 2, Window: time.Hour}, Now: clk.Now}, nil)
	h := l.Wrap(&okHandler{}, Weave(false))
	for _, p := range []string{"/1.1/Alice/info/collections", "/1.1/alice/info/collections", "/1.1/%61lice/storage/tabs"} {
		if w := do(h, "GET", p); w.Code != 200 {
			t.Fatalf("GET %s: %d", p, w.Code)
		}
	}
	if w := do(h, "GET", "/1.0/ALICE/info/quota"); w.Code != 503 {
		t.Errorf("a fourth read of alice under another spelling: %d, want 503", w.Code)
	}
	for i, p := range []string{"/user/1/bob/", "/user/1.0/carol"} {
		if w := do(h, "PUT", p); w.Code != 200 {
			t.Fatalf("registration %d: %d", i, w.Code)
		}
	}
	if w := do(h, "PUT", "/user/1/dave/"); w.Code != 503 {
		t.Errorf("third registration from one address: %d, want 503", w.Code)
	}
	for _, tc := range []struct{ method, path, class, key string }{
		{"GET", "/misc/1.0/captcha_html", "", ""},
		{"PUT", "/user/1/erin/", ClassRegister, "192.0.2.1"},
		{"POST", "/user/1.0/Erin/password", ClassWrite, "erin"},
		{"GET", "/1.1/tarek%40ziade.org/info/collections", ClassRead, "m66w2ibb2voujg273jdyn25ihkbum4pt"},
	} {
		class, key := Weave(false)(httptest.NewRequest(tc.method, tc.path, nil))
		if class != tc.class || key != tc.key {
			t.Errorf("%s %s: %q %q, want %q %q", tc.method, tc.path, class, key, tc.class, tc.key)
		}
	}
}

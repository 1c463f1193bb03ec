package capture

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		body     string
		limit    int64
		complete bool
	}{
		{"", 4, true},
		{"abcd", 4, true},
		{"abcde", 4, false},
		{strings.Repeat("x", 1<<16), 1 << 10, false},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		if tc.body == "" {
			r.Body = http.NoBody
		}
		body, complete := ReadBody(r, tc.limit)
		if complete != tc.complete || (complete && string(body) != tc.body) || (!complete && body != nil) {
			t.Errorf("%d bytes, limit %d: %q %v", len(tc.body), tc.limit, body, complete)
		}
		// Whatever was kept, the handler still gets every byte.
		if rest, _ := io.ReadAll(r.Body); string(rest) != tc.body {
			t.Errorf("%d bytes, limit %d: the handler got %d bytes", len(tc.body), tc.limit, len(rest))
		}
	}
}

func TestReplay(t *testing.T) {
	r := httptest.NewRequest("PUT", "/1.1/u/storage/c/i", strings.NewReader("x"))
	for i := 0; i < 2; i++ {
		n := Replay(r, []byte("payload"))
		if b, _ := io.ReadAll(n.Body); string(b) != "payload" || n.ContentLength != 7 {
			t.Errorf("replay %d: %q %d", i, b, n.ContentLength)
		}
	}
	if n := Replay(r, nil); n.Body != http.NoBody || n.ContentLength != 0 {
		t.Errorf("empty replay: %v %d", n.Body, n.ContentLength)
	}
}

func panics(v any) http.Handler {
	return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(v) })
}

// TestServeReraisesAbort: a handler answering the client keeps
// http.ErrAbortHandler's meaning; other panics become errors.
func TestServeReraisesAbort(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	err := Serve(panics("boom"), httptest.NewRecorder(), r)
	if !errors.Is(err, ErrPanic) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("plain panic: %v", err)
	}
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("ErrAbortHandler not raised again: recovered %v", v)
			}
		}()
		Serve(panics(http.ErrAbortHandler), httptest.NewRecorder(), r)
	}()
}

// TestServeAbortsTheClient, end to end: the client's connection is cut,
// it does not get a made-up answer.
func TestServeAbortsTheClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := Serve(panics(http.ErrAbortHandler), w, r); err != nil {
			http.Error(w, err.Error(), 500)
		}
	}))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err == nil {
		res.Body.Close()
		t.Fatalf("client got an answer (%d) instead of an aborted connection", res.StatusCode)
	}
}

// TestServeDetachedRecordsAbort: nobody receives a detached answer, so an
// abort is recorded like any panic (re-raising it in a worker goroutine
// would crash the process).
func TestServeDetachedRecordsAbort(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	for _, v := range []any{http.ErrAbortHandler, "boom", errors.New("bad")} {
		err := ServeDetached(panics(v), httptest.NewRecorder(), r)
		if !errors.Is(err, ErrPanic) {
			t.Errorf("panic(%v): %v", v, err)
		}
	}
	if err := ServeDetached(panics(http.ErrAbortHandler), httptest.NewRecorder(), r); !errors.Is(err, http.ErrAbortHandler) {
		t.Errorf("abort not recognisable: %v", err)
	}
	done := make(chan error)
	go func() { done <- ServeDetached(panics(http.ErrAbortHandler), NewBuffer(0), r) }()
	if err := <-done; err == nil {
		t.Error("no error from a worker goroutine")
	}
}

func TestRecord(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-A", "1")
		w.Header()["Date"] = nil // the forwarder's "do not add" marker
		w.WriteHeader(201)
		w.Write([]byte("hello world"))
	})
	got := Record(ok, httptest.NewRequest("GET", "/", nil), 5)
	if got.Status != 201 || string(got.Body) != "hello" || !got.Truncated || got.Err != nil ||
		got.Header.Get("X-A") != "1" || got.Header["Date"] != nil {
		t.Errorf("recorded %+v", got)
	}
	if got := Record(panics("x"), httptest.NewRequest("GET", "/", nil), -1); got.Status != 500 || got.Err == nil {
		t.Errorf("a panic before writing: %+v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	if got := Record(ok, r, -1); got.Err == nil || !errors.Is(got.Err, context.Canceled) {
		t.Errorf("a cancelled request: %+v", got)
	}
}

func TestBufferCopyTo(t *testing.T) {
	b := NewBuffer(-1)
	b.Header().Set("Content-Type", "text/plain")
	b.Write([]byte(strings.Repeat("y", 100)))
	w := httptest.NewRecorder()
	b.CopyTo(w)
	if w.Code != 200 || w.Body.Len() != 100 || w.Header().Get("Content-Type") != "text/plain" {
		t.Errorf("copied %d %d %v", w.Code, w.Body.Len(), w.Header())
	}
}

func TestTee(t *testing.T) {
	w := httptest.NewRecorder()
	tee := NewTee(w, 3)
	tee.Header().Set("X-B", "2")
	tee.Write([]byte("abcdef"))
	tee.Header().Set("X-Late", "ignored") // after the status: not in the copy
	got := tee.Response(0)
	if w.Body.String() != "abcdef" || string(got.Body) != "abc" || !got.Truncated || got.Status != 200 ||
		got.Header.Get("X-B") != "2" || got.Header.Get("X-Late") != "" {
		t.Errorf("client %q, copy %+v", w.Body.String(), got)
	}
	if http.NewResponseController(tee).Flush() != nil {
		t.Error("Unwrap does not reach the client's writer")
	}
}

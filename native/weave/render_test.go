package weave

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// TestRenderGolden writes every error the storage API can produce, with
// status, headers and body, into one golden file.
func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"no-credentials", fmt.Errorf("auth: %w", ErrNoCredentials)},
		{"mismatch", ErrMismatch},
		{"bad-credentials", fmt.Errorf("check: %w", ErrBadCredentials)},
		{"locked", &LockedError{RetryAfter: 90*time.Second + time.Millisecond}},
		{"not-found", fmt.Errorf("get item: %w", store.ErrNotFound)},
		{"unavailable", fmt.Errorf("query: %w", store.ErrUnavailable)},
		{"unexpected", errors.New("something odd: secret detail")},
		{"invalid-name", store.ErrInvalidName},
		{"collection-full", store.ErrCollectionFull},
		{"body-too-large", &http.MaxBytesError{Limit: 10}},
		{"illegal-method", BadRequest(CodeIllegalMethod, "HEAD")},
		{"precondition", &Error{Status: http.StatusPreconditionFailed, Code: CodeInvalidWrite}},
		{"over-quota", BadRequest(CodeOverQuota, "over")},
		{"json", BadRequest(CodeJSONParse, "bad")},
		{"wbo", fmt.Errorf("wrapped: %w", BadRequest(CodeInvalidWBO, "bad"))},
	}
	var logs bytes.Buffer
	rd := Renderer{RetryAfter: 600 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	var out strings.Builder
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		rec.Header().Set("X-Weave-Timestamp", "1795895500.7")
		rd.Write(rec, httptest.NewRequest("GET", "/1.0/u/info/collections", nil), tt.err)
		fmt.Fprintf(&out, "== %s\n%d\n", tt.name, rec.Code)
		var keys []string
		for k := range rec.Header() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&out, "%s: %s\n", k, rec.Header().Get(k))
		}
		fmt.Fprintf(&out, "%s\n", rec.Body.Bytes())
		if strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%s: cause leaked to the client", tt.name)
		}
	}
	golden(t, "errors.golden", []byte(out.String()))
	if !strings.Contains(logs.String(), "secret detail") {
		t.Errorf("unexpected error's cause was not logged: %s", logs.String())
	}
}

func TestRenderDefaultRetryAfter(t *testing.T) {
	we := Renderer{}.Classify(context.DeadlineExceeded)
	if we.Status != 503 || we.Header["Retry-After"] != "1800" || we.Header["X-Weave-Backoff"] != "1800" {
		t.Errorf("got %+v", we)
	}
}

func TestLockedRoundsUp(t *testing.T) {
	we := Renderer{}.Classify(&LockedError{RetryAfter: 1500 * time.Millisecond})
	if we.Header["Retry-After"] != "2" || string(we.Body()) != `"Account locked"` {
		t.Errorf("got %+v %s", we.Header, we.Body())
	}
}

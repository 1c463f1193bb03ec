package storageapi

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadBody: the body comes back whole whatever the request announces
// (nothing, its length, more than it sends, more than the cap allows), and
// a body over the cap or a failing read is an error.
func TestReadBody(t *testing.T) {
	body := strings.Repeat("0123456789", 3500)
	cases := []struct {
		name    string
		length  int64
		max     int64
		wantErr bool
	}{
		{"length announced", int64(len(body)), 0, false},
		{"unknown length", -1, 0, false},
		{"an absurd length", 1 << 40, 0, false},
		{"a length over the cap", int64(len(body)), 1000, true},
		{"within the cap", int64(len(body)), 1 << 20, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &Handler{cfg: Config{MaxBodyBytes: c.max}}
			r := httptest.NewRequest("POST", "/", iotest.OneByteReader(strings.NewReader(body)))
			r.ContentLength = c.length
			got, err := h.readBody(&request{r: r, w: httptest.NewRecorder()})
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err == nil && !bytes.Equal(got, []byte(body)) {
				t.Fatalf("got %d bytes, want the %d sent", len(got), len(body))
			}
		})
	}
	h := &Handler{}
	r := httptest.NewRequest("POST", "/", iotest.ErrReader(iotest.ErrTimeout))
	if _, err := h.readBody(&request{r: r, w: httptest.NewRecorder()}); err == nil {
		t.Fatal("a failing read gave no error")
	}
}

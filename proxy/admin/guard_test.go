package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestProtect (issue 10 item 9): unlock and reload needed no
// authentication, and a page in the admin's browser could send them.
func TestProtect(t *testing.T) {
	var hits int
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ })
	for _, c := range []struct {
		name   string
		token  string
		method string
		hdr    map[string]string
		want   int
	}{
		{"read needs nothing", "s3", "GET", nil, 200},
		{"no token configured", "", "POST", map[string]string{"Authorization": "Bearer "}, 403},
		{"no credentials", "s3", "POST", nil, 401},
		{"wrong token", "s3", "POST", map[string]string{"Authorization": "Bearer s4"}, 401},
		{"basic is not bearer", "s3", "POST", map[string]string{"Authorization": "Basic s3"}, 401},
		{"right token", "s3", "POST", map[string]string{"Authorization": "Bearer s3"}, 200},
		{"right token, DELETE", "s3", "DELETE", map[string]string{"Authorization": "bearer s3"}, 200},
		{"cross-site fetch", "s3", "POST", map[string]string{"Authorization": "Bearer s3", "Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site fetch", "s3", "POST", map[string]string{"Authorization": "Bearer s3", "Sec-Fetch-Site": "same-site"}, 403},
		{"foreign origin", "s3", "POST", map[string]string{"Authorization": "Bearer s3", "Origin": "http://evil.example"}, 403},
		{"own origin", "s3", "POST", map[string]string{"Authorization": "Bearer s3", "Origin": "http://127.0.0.1:9090",
			"Sec-Fetch-Site": "same-origin"}, 200},
	} {
		hits = 0
		r := httptest.NewRequest(c.method, "http://127.0.0.1:9090/users/bob/unlock", nil)
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		Protect(inner, c.token).ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: %d, want %d", c.name, w.Code, c.want)
		}
		if (hits == 1) != (c.want == 200) {
			t.Errorf("%s: inner handler ran %d times", c.name, hits)
		}
	}
}

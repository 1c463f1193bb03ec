package routes

import (
	"net/http/httptest"
	"testing"
)

// FuzzParse: no input makes Parse panic, and a table it accepts can match
// requests and survive a SetMode round trip.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("legacy: {url: http://x}\ndefault: shadow\nroutes:\n  - {match: \"GET /{version}/{user}/storage/{collection}\", mode: canary, percent: 5, diff: {a: [1]}}\n"))
	f.Add([]byte("legacy: &a {url: http://x}\nroutes: [*a]\n"))
	f.Add([]byte("routes:\n  - match: \"GET /{id:[a-z]+}\"\n    mode: native\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		tb, err := Parse(src, "fuzz")
		if err != nil {
			return
		}
		tb.Match(httptest.NewRequest("GET", "/1.0/alice/storage/tabs", nil))
		for _, rt := range tb.Routes {
			if _, err := SetMode(src, rt.Match, Legacy, 0); err != nil {
				t.Errorf("SetMode on a valid file: %v", err)
			}
		}
	})
}

package report

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Handler serves the live report: the HTML page at its root (and at
// report.html), the JSON at report.json, both built afresh per request.
// Links are relative, so it can be mounted under any prefix of the admin
// listener (with http.StripPrefix).
func Handler(src Source, opt Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]; name {
		case "", "report.html":
			rep, err := Build(r.Context(), src, opt, true)
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			page, err := HTML(rep, opt)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(page)
		case "report.json":
			rep, err := Build(r.Context(), src, opt, false)
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		default:
			http.NotFound(w, r)
		}
	})
}

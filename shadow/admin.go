package shadow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/weaveproxy/weaveproxy/diff/report"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// AdminPrefix is where AdminHandler serves; mount it on the admin
// listener with mux.Handle(shadow.AdminPrefix, shadow.AdminHandler(...)).
const AdminPrefix = "/shadow/"

// AdminConfig configures AdminHandler. Store and Cutover are required.
type AdminConfig struct {
	Store   *store.Store
	Cutover *Cutover
	// Shadower, if set, reports its queue at GET /shadow/queue.
	Shadower *Shadower
}

// AdminHandler is the shadow side of the admin API (loopback listener
// only: it changes routes and waivers without further authentication).
// Request and answer bodies are JSON.
//
//	GET    /shadow/                 live diff report (HTML; report.html too)
//	GET    /shadow/report.json      live report.json
//	GET    /shadow/ready?route=R    the gate's verdict on R (min_pairs=, last= override the gate)
//	POST   /shadow/promote          {"route","by","force"}: 200 Promotion, 409 not ready
//	POST   /shadow/demote           {"route","by","to"}: to is legacy (default) or shadow
//	GET    /shadow/waivers          active waivers (?all=1: revoked ones too)
//	POST   /shadow/waivers          {"route","field"|"shape","legacy_contains","request_match","reason","by"}: 201 Waiver
//	DELETE /shadow/waivers/{id}?by=NAME  revoke
//	GET    /shadow/queue            comparison queue: pairs, bytes, bounds
func AdminHandler(cfg AdminConfig) http.Handler {
	h := &admin{cfg: cfg}
	mux := http.NewServeMux()
	live := report.Handler(cfg.Store, report.Options{Gate: cfg.Cutover.gate()})
	mux.Handle("GET /shadow/{$}", live)
	mux.Handle("GET /shadow/report.html", live)
	mux.Handle("GET /shadow/report.json", live)
	mux.HandleFunc("GET /shadow/ready", h.ready)
	mux.HandleFunc("POST /shadow/promote", h.promote)
	mux.HandleFunc("POST /shadow/demote", h.demote)
	mux.HandleFunc("GET /shadow/waivers", h.waivers)
	mux.HandleFunc("POST /shadow/waivers", h.accept)
	mux.HandleFunc("DELETE /shadow/waivers/{id}", h.revoke)
	mux.HandleFunc("GET /shadow/queue", h.queue)
	return mux
}

type admin struct{ cfg AdminConfig }

type adminError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func fail(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, adminError{Error: err.Error()})
}

// decode reads a small JSON body; unknown keys are mistakes worth saying.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

func (h *admin) ready(w http.ResponseWriter, r *http.Request) {
	route := r.URL.Query().Get("route")
	if route == "" {
		fail(w, http.StatusBadRequest, errors.New("route= is required"))
		return
	}
	gate := h.cfg.Cutover.gate()
	for key, dst := range map[string]*int{"min_pairs": &gate.MinPairs, "last": &gate.LastM,
		"min_users": &gate.MinUsers, "min_requests": &gate.MinRequests} {
		if v := r.URL.Query().Get(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				fail(w, http.StatusBadRequest, fmt.Errorf("%s=%q: not a number", key, v))
				return
			}
			*dst = n
		}
	}
	v, err := h.cfg.Store.Ready(r.Context(), route, gate)
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

type promoteRequest struct {
	Route string `json:"route"`
	By    string `json:"by"`
	Force bool   `json:"force"`
	To    string `json:"to"` // demote only
}

func (h *admin) change(w http.ResponseWriter, r *http.Request) (promoteRequest, bool) {
	var req promoteRequest
	if err := decode(r, &req); err != nil {
		fail(w, http.StatusBadRequest, err)
		return req, false
	}
	if strings.TrimSpace(req.Route) == "" || strings.TrimSpace(req.By) == "" {
		fail(w, http.StatusBadRequest, errors.New(`"route" and "by" (who asks) are required`))
		return req, false
	}
	return req, true
}

func (h *admin) promote(w http.ResponseWriter, r *http.Request) {
	req, ok := h.change(w, r)
	if !ok {
		return
	}
	p, err := h.cfg.Cutover.Promote(r.Context(), req.Route, req.Force, req.By)
	switch {
	case errors.Is(err, ErrNotReady):
		writeJSON(w, http.StatusConflict, struct {
			Promotion
			Error string `json:"error"`
		}{p, err.Error()})
	case errors.Is(err, ErrUnknownRoute):
		fail(w, http.StatusNotFound, err)
	case err != nil:
		fail(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

func (h *admin) demote(w http.ResponseWriter, r *http.Request) {
	req, ok := h.change(w, r)
	if !ok {
		return
	}
	err := h.cfg.Cutover.Demote(r.Context(), req.Route, routes.Mode(req.To), req.By)
	switch {
	case errors.Is(err, ErrUnknownRoute):
		fail(w, http.StatusNotFound, err)
	case err != nil:
		fail(w, http.StatusInternalServerError, err)
	default:
		to := req.To
		if to == "" {
			to = string(routes.Legacy)
		}
		writeJSON(w, http.StatusOK, map[string]string{"route": req.Route, "mode": to})
	}
}

func (h *admin) waivers(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("all")
	ws, err := h.cfg.Store.ListWaivers(r.Context(), all != "" && all != "0" && all != "false")
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	if ws == nil {
		ws = []store.Waiver{}
	}
	writeJSON(w, http.StatusOK, ws)
}

func (h *admin) accept(w http.ResponseWriter, r *http.Request) {
	var in store.Waiver
	if err := decode(r, &in); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	if err := in.Validate(); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	out, err := h.cfg.Store.Accept(r.Context(), in)
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *admin) revoke(w http.ResponseWriter, r *http.Request) {
	by := r.URL.Query().Get("by")
	if strings.TrimSpace(by) == "" {
		fail(w, http.StatusBadRequest, errors.New("by= (who revokes) is required"))
		return
	}
	err := h.cfg.Store.Revoke(r.Context(), r.PathValue("id"), by)
	switch {
	case errors.Is(err, store.ErrNoWaiver):
		fail(w, http.StatusNotFound, err)
	case err != nil:
		fail(w, http.StatusInternalServerError, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// QueueStats describe the comparison queue.
type QueueStats struct {
	Pairs      int   `json:"pairs"`
	Bytes      int64 `json:"bytes"`
	QueueSize  int   `json:"queue_size"`
	QueueBytes int64 `json:"queue_bytes"`
	Workers    int   `json:"workers"`
}

// Queue reports what the comparison queue holds now.
func (s *Shadower) Queue() QueueStats {
	return QueueStats{Pairs: s.q.length(), Bytes: s.q.bytes.Load(), QueueSize: s.opt.QueueSize,
		QueueBytes: s.opt.QueueBytes, Workers: s.opt.Workers}
}

func (h *admin) queue(w http.ResponseWriter, _ *http.Request) {
	if h.cfg.Shadower == nil {
		fail(w, http.StatusNotFound, errors.New("no shadower in this process"))
		return
	}
	writeJSON(w, http.StatusOK, h.cfg.Shadower.Queue())
}

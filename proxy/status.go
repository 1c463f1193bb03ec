package proxy

import (
	"fmt"
	"time"

	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// Status describes the table in force, for the admin API. What needs
// Ops' attention comes first: Problems says it in words, LastReload
// carries a failed reload's error with its line and column.
type Status struct {
	Problems   []string      `json:"problems,omitempty"`
	LastReload *ReloadStatus `json:"last_reload,omitempty"`
	Source     string        `json:"source"`
	Hash       string        `json:"hash"` // routes.Table.Hash: equal on every proxy serving the same table
	LoadedAt   time.Time     `json:"loaded_at"`
	Default    routes.Mode   `json:"default"`
	Legacy     LegacyStatus  `json:"legacy"`
	Routes     []RouteStatus `json:"routes"`
}

// LegacyStatus is the legacy upstream and its breaker.
type LegacyStatus struct {
	URL            string `json:"url"`
	Breaker        string `json:"breaker"` // closed, half-open or open
	BackoffSeconds int    `json:"backoff_seconds"`
}

// RouteStatus is one route as it is being served.
type RouteStatus struct {
	Match        string      `json:"match"`
	Mode         routes.Mode `json:"mode"`
	Percent      int         `json:"percent,omitempty"`
	Fallback     bool        `json:"fallback,omitempty"`
	ShadowWrites bool        `json:"shadow_writes,omitempty"`
	Line         int         `json:"line,omitempty"` // in the source file; 0: by default
	Listed       bool        `json:"listed"`         // false: a built-in route on the default mode
}

// Status reports the table in force, the breaker state and the last
// reload.
func (p *Proxy) Status() Status {
	st := p.state.Load()
	t := st.table
	s := Status{Source: t.Source, Hash: t.Hash(), LoadedAt: st.loadedAt, Default: t.Default,
		Legacy: LegacyStatus{URL: t.Legacy.URL, Breaker: st.legacy.State(),
			BackoffSeconds: t.Legacy.Breaker.BackoffSeconds()},
		LastReload: p.last.Load()}
	if r := s.LastReload; r != nil && r.Error != "" {
		s.Problems = append(s.Problems, fmt.Sprintf("the last reload (%s) failed, the table loaded at %s stays in force: %s",
			r.At.Format(time.RFC3339), s.LoadedAt.Format(time.RFC3339), r.Error))
	}
	if b := s.Legacy.Breaker; b != "closed" {
		s.Problems = append(s.Problems, fmt.Sprintf("the legacy circuit breaker is %s: requests for legacy get 503 with back-off", b))
	}
	listed := map[string]bool{}
	for _, rt := range t.Routes {
		listed[rt.Match] = true
		s.Routes = append(s.Routes, routeStatus(rt))
	}
	for _, rt := range t.Builtins {
		if !listed[rt.Match] {
			s.Routes = append(s.Routes, routeStatus(rt))
		}
	}
	return s
}

func routeStatus(rt *routes.Route) RouteStatus {
	rs := RouteStatus{Match: rt.Match, Mode: rt.Mode, Fallback: rt.Fallback, Line: rt.Line, Listed: rt.Listed}
	if rt.Mode == routes.Canary {
		rs.Percent = rt.Percent
	}
	if rt.Mode == routes.Shadow {
		rs.ShadowWrites = rt.ShadowWrites
	}
	return rs
}

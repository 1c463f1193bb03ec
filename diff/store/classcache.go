package store

import (
	"context"
	"sync"

	"github.com/weaveproxy/weaveproxy/diff"
)

// Save classifies every pair with findings (and on most routes every pair
// has one, if only a waived X-Weave-Records) against all that is known
// about its route. Reading that afresh meant reading every count row of
// the route, one per 10-second bucket and shape: after a day of
// shadowing, 24 ms and 3 MB of allocations per pair
// (BenchmarkSaveFindingsPairOverADay), on every shadow worker.
//
// So the analysis Save classifies with is kept per route: read once,
// brought up to date by each pair this store saves, and read again after
// waiverTTL (another instance's pairs and waivers reach it within that,
// as waivers already did) or when a waiver changes here. The class Save
// returns labels the shadower's metrics; reports and the readiness gate
// always read afresh.

type routeClasses struct {
	mu     sync.Mutex
	a      *analysis // nil: to be read
	loaded int64     // Now().UnixNano() when read
}

func (s *Store) routeClasses(route string) *routeClasses {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.classes == nil {
		s.classes = map[string]*routeClasses{}
	}
	rc := s.classes[route]
	if rc == nil {
		rc = &routeClasses{}
		s.classes[route] = rc
	}
	return rc
}

// forgetClasses drops every cached analysis (a waiver changed).
func (s *Store) forgetClasses() {
	s.mu.Lock()
	s.classes = nil
	s.mu.Unlock()
}

// classOf is the class of a just-saved pair of shape hash on route.
func (s *Store) classOf(ctx context.Context, route, hash string) (diff.Class, error) {
	rc := s.routeClasses(route)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	now := s.opt.Now().UnixNano()
	if rc.a == nil || now-rc.loaded >= int64(waiverTTL) || now < rc.loaded {
		a, err := s.analyze(ctx, route, false)
		if err != nil {
			return "", err
		}
		rc.a, rc.loaded = a, now
	}
	return rc.a.classify(hash).class, nil
}

// noteSaved adds one saved pair to the route's cached analysis, as
// analyze would count it: the pair, its shape's fields, and its
// legacy-vs-legacy noise sample.
func (s *Store) noteSaved(route, hash string, es []entry, noiseFields []string) {
	rc := s.routeClasses(route)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	a := rc.a
	if a == nil {
		return
	}
	a.pairs++
	if hash != "" {
		if _, known := a.shapes[hash]; !known {
			a.shapes[hash] = es
		}
		for _, e := range a.shapes[hash] {
			a.diffs[e.key]++
		}
	}
	for _, f := range noiseFields {
		if f == "" {
			a.noiseSamples++
		} else {
			a.noise[f]++
		}
	}
}

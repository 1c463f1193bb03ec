// Package ceftest gives tests a cef.Sink that keeps what it receives, so
// they can check which security events a handler emitted. It is the sink
// the code under test writes to, not a stand-in for a server.
package ceftest

import (
	"net/http"
	"sync"

	"github.com/weaveproxy/weaveproxy/native/cef"
)

// Recorder is a cef.Sink keeping every event in arrival order. The zero
// value is ready to use; it is safe for concurrent use because handlers
// emit from their own goroutines while the test reads.
type Recorder struct {
	mu     sync.Mutex
	events []cef.Event
}

var _ cef.Sink = (*Recorder)(nil)

// Emit implements cef.Sink.
func (r *Recorder) Emit(_ *http.Request, ev cef.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// Events returns a copy of the events so far.
func (r *Recorder) Events() []cef.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cef.Event(nil), r.events...)
}

// Take returns the events so far and forgets them, so a test can check
// each step on its own.
func (r *Recorder) Take() []cef.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// Len is the number of events so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Signatures returns the events' signatures in order (nil when none).
func (r *Recorder) Signatures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, ev := range r.events {
		s = append(s, ev.Signature)
	}
	return s
}

// Has reports whether an event with signature sig and severity sev
// arrived; sev 0 matches any severity.
func (r *Recorder) Has(sig string, sev int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Signature == sig && (sev == 0 || e.Severity == sev) {
			return true
		}
	}
	return false
}

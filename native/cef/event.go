// Package cef formats and writes ArcSight Common Event Format security
// events, as Mozilla's services emitted them (see shared/spec/security.md §4).
package cef

import "net/http"

// Event is one security event. Signature is the short id (AuthFail,
// AccountLocked, ...), Name the human sentence, Severity 0–10. Username may
// be empty ("none" is logged). Extensions are extra key=value pairs in
// order; keys are plain ASCII words. Never put a password, an
// Authorization header or a reset code here.
type Event struct {
	Signature  string
	Name       string
	Severity   int
	Username   string
	Extensions [][2]string
}

// Sink receives security events. The request supplies the fields every
// line carries (method, path and query, source address, Host, User-Agent).
// r is nil for events no request caused (an administrator unlocking an
// account from the command line); then only the user is carried.
// Implementations must be safe for concurrent use and must not block the
// request for long.
type Sink interface {
	Emit(r *http.Request, ev Event)
}

// Discard drops every event; for configurations and tests that log none.
type Discard struct{}

// Emit implements Sink.
func (Discard) Emit(*http.Request, Event) {}

// Package captchatest runs a small reCAPTCHA-compatible verification server
// on 127.0.0.1 for tests: the real wire protocols (siteverify JSON and the
// legacy v1 text answer) over real HTTP, with answers the test chooses.
package captchatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Server verifies answers: a response (and, for v1, its challenge) is right
// when it was registered with Accept, and only with the right secret.
type Server struct {
	URL    string // siteverify endpoint
	V1URL  string // legacy v1 endpoint
	Secret string

	mu       sync.Mutex
	accepted map[string]string // response -> challenge
	requests []Request
	broken   bool
}

// Request is what the server received.
type Request struct {
	Challenge, Response, RemoteIP string
}

// Start runs a server until the test ends.
func Start(t testing.TB, secret string) *Server {
	t.Helper()
	s := &Server{Secret: secret, accepted: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /siteverify", s.siteverify)
	mux.HandleFunc("POST /verify", s.v1)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	s.URL = ts.URL + "/siteverify"
	s.V1URL = ts.URL + "/verify"
	return s
}

// Accept registers a right answer.
func (s *Server) Accept(challenge, response string) {
	s.mu.Lock()
	s.accepted[response] = challenge
	s.mu.Unlock()
}

// Break makes the server answer 500 while on.
func (s *Server) Break(on bool) {
	s.mu.Lock()
	s.broken = on
	s.mu.Unlock()
}

// Requests returns what was received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) check(r *http.Request, secretField string, v1 bool) (ok, broken bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return false, true
	}
	req := Request{Challenge: r.PostFormValue("challenge"), Response: r.PostFormValue("response"),
		RemoteIP: r.PostFormValue("remoteip")}
	s.requests = append(s.requests, req)
	ch, known := s.accepted[req.Response]
	return known && r.PostFormValue(secretField) == s.Secret && (!v1 || ch == req.Challenge), false
}

func (s *Server) siteverify(w http.ResponseWriter, r *http.Request) {
	ok, broken := s.check(r, "secret", false)
	if broken {
		http.Error(w, "broken", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"success": ok})
}

func (s *Server) v1(w http.ResponseWriter, r *http.Request) {
	ok, broken := s.check(r, "privatekey", true)
	if broken {
		http.Error(w, "broken", http.StatusInternalServerError)
		return
	}
	if ok {
		fmt.Fprint(w, "true\nsuccess")
		return
	}
	fmt.Fprint(w, "false\nincorrect-captcha-sol")
}

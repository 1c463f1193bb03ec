package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// T is what the starters need of their caller. testing.TB satisfies it;
// so does a Session, which lets a development environment (`weaveproxy
// dev`) run the very starters the tests use, outside `go test`.
type T interface {
	Helper()
	Cleanup(func())
	TempDir() string
	Name() string
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Session is a T for a program: TempDir makes folders under Dir, Cleanup
// functions run at Close (last first), and Fatal ends the current Do with
// an error instead of failing a test. Call the starters only inside Do.
type Session struct {
	Dir  string // every TempDir is made here
	name string

	mu       sync.Mutex
	cleanups []func()
	dirs     int
	errs     []error // Errorf calls, reported by Close
}

var _ T = (*Session)(nil)

// NewSession keeps its folders under dir, which must exist; name becomes
// part of database names (as a test's name does).
func NewSession(dir, name string) *Session { return &Session{Dir: dir, name: name} }

// sessionFatal carries a Fatal out of the starter to Do.
type sessionFatal struct{ err error }

// Do runs f, which may call the starters with s, and returns the error a
// Fatal in it reported (nil if none).
func (s *Session) Do(f func(t T)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			sf, ok := r.(sessionFatal)
			if !ok {
				panic(r)
			}
			err = sf.err
		}
	}()
	f(s)
	return nil
}

// Close runs the cleanups, last registered first (stopping every process
// the starters started), then stops whatever this package still runs in
// this program (the shared MariaDB server) and removes its temp folders.
// It returns the errors cleanups reported. A program has one Session;
// a test must not Close one while other tests run servers.
func (s *Session) Close() error {
	s.mu.Lock()
	cs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
	stopAll()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

func (s *Session) Helper()      {}
func (s *Session) Name() string { return s.name }

func (s *Session) Cleanup(f func()) {
	s.mu.Lock()
	s.cleanups = append(s.cleanups, f)
	s.mu.Unlock()
}

// TempDir returns a new folder under Dir; Close does not remove it (the
// caller owns Dir).
func (s *Session) TempDir() string {
	s.mu.Lock()
	s.dirs++
	n := s.dirs
	s.mu.Unlock()
	d := filepath.Join(s.Dir, fmt.Sprintf("%03d", n))
	if err := os.MkdirAll(d, 0o755); err != nil {
		s.Fatal(err)
	}
	return d
}

func (s *Session) Fatal(args ...any) { panic(sessionFatal{errors.New(fmt.Sprint(args...))}) }

func (s *Session) Fatalf(format string, args ...any) {
	panic(sessionFatal{fmt.Errorf(format, args...)})
}

func (s *Session) Errorf(format string, args ...any) {
	s.mu.Lock()
	s.errs = append(s.errs, fmt.Errorf(format, args...))
	s.mu.Unlock()
}

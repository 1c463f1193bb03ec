package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Session runs the starters outside a test: folders under Dir, cleanups
// last first at Close, and a Fatal is Do's error, not a crash.
func TestSession(t *testing.T) {
	s := NewSession(t.TempDir(), "dev")
	var order []string
	err := s.Do(func(tt T) {
		d := tt.TempDir()
		if filepath.Dir(d) != s.Dir {
			t.Errorf("TempDir %s not under %s", d, s.Dir)
		}
		tt.Cleanup(func() { order = append(order, "first") })
		tt.Cleanup(func() { order = append(order, "second") })
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Do(func(tt T) {
		tt.Fatalf("no %s", "luck")
		t.Error("Fatalf returned")
	})
	if err == nil || err.Error() != "no luck" {
		t.Errorf("Do after Fatalf = %v", err)
	}
	// A starter's failure (a binary that is not there) comes back the same way.
	err = s.Do(func(tt T) { StartProcess(tt, "weaveproxy-no-such-binary", nil, nil, "") })
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing binary: %v", err)
	}
	s.Do(func(tt T) { tt.Errorf("late %d", 1) })
	if err := s.Close(); err == nil || err.Error() != "late 1" {
		t.Errorf("Close = %v, want the Errorf", err)
	}
	if strings.Join(order, ",") != "second,first" {
		t.Errorf("cleanups ran %v", order)
	}
	if _, err := os.Stat(s.Dir); err != nil {
		t.Errorf("Close removed the caller's folder: %v", err)
	}
}

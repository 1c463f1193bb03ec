package cef

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestFileWriterConcurrent: many goroutines emitting at once leave exactly
// one well-formed line per event.
func TestFileWriterConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cef.log")
	w, err := NewFileWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	sink := NewLogger(Config{Product: "weave-test"}, w)
	const workers, each = 8, 150
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := newReq("GET", fmt.Sprintf("/1.0/u%d/storage/x?i=%d", g, i), strings.Repeat("ua|=\\\n", 50))
				sink.Emit(r, AuthFail(fmt.Sprintf("u%d", g), ReasonAuthFailed))
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != workers*each {
		t.Fatalf("%d lines, want %d", len(lines), workers*each)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		p, err := parseCEF(l)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if p.Header[2] != "weave-test" || p.Ext["cs1"] != strings.Repeat("ua|=\\\n", 50) {
			t.Fatalf("line fields wrong: %q", l)
		}
		seen[p.Ext["request"]] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct requests, want %d", len(seen), workers*each)
	}
	if err := w.WriteLine("after close"); err == nil {
		t.Error("write after Close succeeded")
	}
}

// TestFileWriterReopen: after the file is rotated away, Reopen sends new
// lines to a fresh file at the configured path.
func TestFileWriterReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cef.log")
	w, err := NewFileWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.WriteLine("one"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteLine("two"); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteLine("three"); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path+".1"); strings.Join(got, ",") != "one,two" {
		t.Errorf("rotated file: %q", got)
	}
	if got := readLines(t, path); strings.Join(got, ",") != "three" {
		t.Errorf("new file: %q", got)
	}
}

// TestOpenDefaultFile: with no configuration, lines go to cef.log in the
// working directory, appended to what is already there.
func TestOpenDefaultFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(DefaultFile, []byte("earlier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sink, closer, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	sink.Emit(newReq("DELETE", "/1.0/erin", "ua"), AccountDeleted("erin"))
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, filepath.Join(dir, DefaultFile))
	if len(lines) != 2 || lines[0] != "earlier" {
		t.Fatalf("lines = %q", lines)
	}
	p, err := parseCEF(lines[1])
	if err != nil {
		t.Fatal(err)
	}
	if p.Header[1] != "mozilla" || p.Header[4] != SigAccountDeleted || p.Header[6] != "9" || p.Ext["suser"] != "erin" {
		t.Errorf("unexpected line %q", lines[1])
	}
}

func TestOpenFileError(t *testing.T) {
	_, _, err := Open(Config{File: filepath.Join(t.TempDir(), "missing-dir", "cef.log")})
	if err == nil {
		t.Fatal("Open into a missing directory succeeded")
	}
}

// TestLoggerReportsWriteErrors: a lost line is reported, never silent.
func TestLoggerReportsWriteErrors(t *testing.T) {
	w, err := NewFileWriter(filepath.Join(t.TempDir(), "x.log"))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	l := NewLogger(Config{}, w)
	var got []error
	l.OnError = func(err error) { got = append(got, err) }
	l.Now = func() time.Time { return t0 }
	l.Emit(nil, AccountUnlocked("frank"))
	if len(got) != 1 {
		t.Fatalf("errors reported: %v", got)
	}
}

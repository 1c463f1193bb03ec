// Package testfiles finds the repository's own test data (the top-level
// testdata/ directory) from the tests of any package, wherever `go test`
// runs them: the path is taken from this source file's location, so it
// holds in a fresh clone with nothing beside it.
package testfiles

import (
	"path/filepath"
	"runtime"
)

// Dir is the absolute path of the repository's testdata/ directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

// Recordings is the path of the legacy PHP server's recorded Sync 1.0
// session (137 request/response pairs; testdata/recordings/README.md says
// where it came from and how to read it).
func Recordings() string {
	return filepath.Join(Dir(), "recordings", "legacy-php-sync1.0.jsonl")
}

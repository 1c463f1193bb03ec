package testfiles

import (
	"os"
	"testing"
)

// The recordings are in the repository, not beside it.
func TestRecordingsPresent(t *testing.T) {
	fi, err := os.Stat(Recordings())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() == 0 {
		t.Fatalf("%s is empty", Recordings())
	}
}

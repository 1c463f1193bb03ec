package ceftest

import (
	"slices"
	"sync"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/cef"
)

func TestRecorder(t *testing.T) {
	var r Recorder
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { r.Emit(nil, cef.Event{Signature: "A", Severity: i%2 + 5}) })
	}
	wg.Wait()
	r.Emit(nil, cef.Event{Signature: "B", Severity: 9})

	if r.Len() != 21 || len(r.Events()) != 21 {
		t.Fatalf("Len %d, Events %d, want 21", r.Len(), len(r.Events()))
	}
	if s := r.Signatures(); s[20] != "B" || slices.Index(s, "B") != 20 {
		t.Errorf("signatures %v", s)
	}
	for _, c := range []struct {
		sig  string
		sev  int
		want bool
	}{{"B", 9, true}, {"B", 0, true}, {"B", 5, false}, {"A", 6, true}, {"C", 0, false}} {
		if got := r.Has(c.sig, c.sev); got != c.want {
			t.Errorf("Has(%q, %d) = %v, want %v", c.sig, c.sev, got, c.want)
		}
	}
	evs := r.Events()
	evs[0].Signature = "changed"
	if r.Events()[0].Signature == "changed" {
		t.Error("Events shares its slice with the recorder")
	}
	if got := r.Take(); len(got) != 21 || r.Len() != 0 || r.Signatures() != nil {
		t.Errorf("Take gave %d, left %d", len(got), r.Len())
	}
}

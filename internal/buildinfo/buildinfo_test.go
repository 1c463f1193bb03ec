package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	vcs := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "f00d"}, {Key: "vcs.modified", Value: "true"},
		}}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	tests := []struct {
		name       string
		v, c       string
		read       func() (*debug.BuildInfo, bool)
		want       string
		wantCommit string
		modified   bool
	}{
		{"stamped wins over vcs", "1.2.3", "abc", vcs, "1.2.3", "abc", false},
		{"vcs fallback", "", "", vcs, "dev", "f00d", true},
		{"nothing known", "", "", none, "dev", "unknown", false},
		{"module version", "", "", func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, true
		}, "v0.4.0", "unknown", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := get(tt.v, tt.c, tt.read)
			if in.Version != tt.want || in.Commit != tt.wantCommit || in.Modified != tt.modified {
				t.Fatalf("got %+v, want version %q commit %q modified %v", in, tt.want, tt.wantCommit, tt.modified)
			}
			if s := in.String(); !strings.HasPrefix(s, "weaveproxy "+tt.want+" (commit "+tt.wantCommit) {
				t.Fatalf("String() = %q", s)
			}
		})
	}
}

// Package buildinfo says which weaveproxy this binary is. scripts/dist.sh
// stamps the version and commit with -ldflags -X; a plain `go build` from a
// git checkout still knows its commit from the VCS stamp Go embeds, so a
// binary is never anonymous.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker: -X github.com/weaveproxy/weaveproxy/internal/buildinfo.version=1.2.3
// -X github.com/weaveproxy/weaveproxy/internal/buildinfo.commit=abcdef. Strings, not consts, so
// that -X can reach them.
var (
	version = ""
	commit  = ""
)

// Info is what `weaveproxy version` prints.
type Info struct {
	Version  string // "dev" when nobody stamped one
	Commit   string // full hash, "unknown" without a stamp or VCS info
	Modified bool   // built from a tree with uncommitted changes (VCS info only)
	Go       string
}

// Get reads the linker stamps, falling back to the VCS information the Go
// toolchain embeds in builds from a git checkout.
func Get() Info {
	return get(version, commit, debug.ReadBuildInfo)
}

func get(v, c string, read func() (*debug.BuildInfo, bool)) Info {
	in := Info{Version: v, Commit: c, Go: runtime.Version()}
	if bi, ok := read(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if in.Commit == "" {
					in.Commit = s.Value
				}
			case "vcs.modified":
				in.Modified = s.Value == "true" && c == ""
			}
		}
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
	}
	if in.Version == "" {
		in.Version = "dev"
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	return in
}

// String is one line: "weaveproxy 1.2.3 (commit abcdef, go1.26.8)".
func (in Info) String() string {
	dirty := ""
	if in.Modified {
		dirty = "+modified"
	}
	return fmt.Sprintf("weaveproxy %s (commit %s%s, %s)", in.Version, in.Commit, dirty, in.Go)
}

package weaveurl

import "testing"

func TestHasDotSegment(t *testing.T) {
	for p, want := range map[string]bool{
		"/1.0/bob/storage/tabs":                 false,
		"/1.0/bob/storage/tabs/a.b":             false,
		"/1.0/bob/storage/tabs/...":             false,
		"/1.0/bob/storage/tabs/%2e%2e%2e":       false,
		"/1.0/../user/1.0/bob":                  true,
		"/1.0/bob/./info/collections":           true,
		"/1.0/%2e%2e/user/1.0/bob":              true,
		"/1.0/%2E%2e/user/1.0/bob":              true,
		"/1.0/.%2e/user":                        true,
		"/1.0/bob/storage/..%2f..%2fuser":       true,
		"/1.0/bob/storage/x%2f%2e%2e%2fy":       true,
		"/1.0/bob\\..\\user":                    true,
		"/1.0/bob/storage/tabs?x=/../":          false,
		"/1.0/bob/storage/%zz/..":               true,
		"/1.0/bob/storage/%zz%2e%2e":            true,
		"/1.0/bob/storage/%zz":                  false,
		"/":                                     false,
		"/weave-password-reset":                 false,
		"/1.1/bob/storage/bookmarks/..x":        false,
		"/1.1/bob/storage/bookmarks/x..":        false,
		"/1.1/bob/storage/bookmarks/%2e%2ex%2e": false,
	} {
		if got := HasDotSegment(p); got != want {
			t.Errorf("HasDotSegment(%q) = %v, want %v", p, got, want)
		}
	}
}

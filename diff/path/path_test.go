package path

import "testing"

func TestRender(t *testing.T) {
	tests := []struct{ got, want string }{
		{"body" + Key("success") + Index(3), "body.success[3]"},
		{"body" + Key("a b"), `body["a b"]`},
		{"body" + Key("*"), `body["*"]`},
		{"body" + ID("h3") + Key("modified"), "body[id=h3].modified"},
		{"body" + ID("a b"), `body[id="a b"]`},
		{"header" + Key("x-weave-records"), "header.x-weave-records"},
		{"body" + Key("ünï"), `body["ünï"]`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestGeneralize(t *testing.T) {
	tests := map[string]string{
		"status":                 "status",
		"body.success[3]":        "body.success[*]",
		"body[id=h3].modified":   "body[*].modified",
		`body[id="a b"].payload`: "body[*].payload",
		`body["a b"]`:            `body["a b"]`,
		"body[2][0].x":           "body[*][*].x",
		"header.x-weave-records": "header.x-weave-records",
	}
	for in, want := range tests {
		if got := Generalize(in); got != want {
			t.Errorf("Generalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		match, prefix bool
	}{
		{"body[*].modified", "body[*].modified", true, true},
		{"body[*].modified", "body[id=h1].modified", true, true},
		{"body[*].modified", "body[4].modified", true, true},
		{"body[*].modified", "body[4].payload", false, false},
		{"body.*", "body.forms", true, true},
		{"body.*", `body["a b"]`, true, true},
		{"body.*", "body", false, false},
		{"body.*", "body[1]", false, false},
		{`body["*"]`, "body.forms", false, false},
		{`body["*"]`, `body["*"]`, true, true},
		{"body", "body.success[3]", false, true},
		{"body.**", "body.success[3]", true, true},
		{"body.**", "header.x", false, false},
		{"header.x-weave-timestamp", "header.x-weave-timestamp", true, true},
		{"header.*", "header.x-weave-records", true, true},
		{"body.failed.*", `body.failed["zz z"]`, true, true},
	}
	for _, tt := range tests {
		pt, err := Compile(tt.pattern)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.pattern, err)
		}
		if got := pt.Match(tt.path); got != tt.match {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.pattern, tt.path, got, tt.match)
		}
		if got := pt.MatchPrefix(tt.path); got != tt.prefix {
			t.Errorf("%q.MatchPrefix(%q) = %v, want %v", tt.pattern, tt.path, got, tt.prefix)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, p := range []string{"", "body..x", "body[", `body["x`, "body.**.x", "body]"} {
		if _, err := Compile(p); err == nil {
			t.Errorf("Compile(%q) succeeded, want an error", p)
		}
	}
}

func TestGeneralizeDynamic(t *testing.T) {
	g := Generalizer{Dynamic: []Pattern{MustCompile("body.failed.*")}, Positional: []Pattern{MustCompile("body")}}
	tests := map[string]string{
		`body.failed["zz z"][0]`: "body.failed.*[*]",
		"body.failed.x1":         "body.failed.*",
		"body.success[2]":        "body.success[*]",
		"body.failed":            "body.failed",
		"body[1]":                "body[1]",
		"body[id=x]":             "body[*]",
		"body[1][2]":             "body[1][*]",
	}
	for in, want := range tests {
		if got := g.Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
	if !g.Dynamic[0].Match("body.failed.*") {
		t.Error("a generalised key must still match its pattern")
	}
}

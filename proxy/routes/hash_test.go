package routes

import (
	"strings"
	"testing"
)

func TestHashIsTheTableNotTheText(t *testing.T) {
	const base = `legacy:
  url: http://127.0.0.1:8081
default: legacy
routes:
  - match: "GET /{version}/{user}/info/collections"
    mode: shadow
    diff:
      timestamp_tolerance: 10s
      learn_noise: 0.2
`
	hash := func(src string) string {
		t.Helper()
		tb, err := Parse([]byte(src), "routes.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if len(tb.Hash()) != 16 {
			t.Fatalf("hash %q", tb.Hash())
		}
		return tb.Hash()
	}
	h := hash(base)
	same := map[string]string{
		"comments and blank lines": "# edited by Ops\n" + strings.ReplaceAll(base, "mode: shadow", "mode: shadow   # watching\n"),
		"key order":                strings.Replace(base, "timestamp_tolerance: 10s\n      learn_noise: 0.2", "learn_noise: 0.2\n      timestamp_tolerance: 10s", 1),
		"flow style":               strings.Replace(base, "diff:\n      timestamp_tolerance: 10s\n      learn_noise: 0.2", "diff: {learn_noise: 0.2, timestamp_tolerance: 10s}", 1),
	}
	for name, src := range same {
		if got := hash(src); got != h {
			t.Errorf("%s changed the hash: %s vs %s", name, got, h)
		}
	}
	differ := map[string]string{
		"mode":        strings.Replace(base, "mode: shadow", "mode: native", 1),
		"default":     strings.Replace(base, "default: legacy", "default: native", 1),
		"legacy url":  strings.Replace(base, "8081", "8082", 1),
		"diff rules":  strings.Replace(base, "10s", "20s", 1),
		"extra route": base + "  - match: \"GET /{version}/{user}/info/quota\"\n    mode: native\n",
	}
	differ["breaker"] = strings.Replace(base, "default:", "  breaker:\n    failures: 9\ndefault:", 1)
	if a, b := hash(base), mustParse(t, base, "/etc/weaveproxy/routes.yaml").Hash(); a != b {
		t.Errorf("the file's name changed the hash: %s vs %s", a, b)
	}
	for name, src := range differ {
		if got := hash(src); got == h {
			t.Errorf("changing the %s kept the hash %s", name, h)
		}
	}
}

func mustParse(t *testing.T, src, name string) *Table {
	t.Helper()
	tb, err := Parse([]byte(src), name)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

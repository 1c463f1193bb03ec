package shadow

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffBlocksCheckedAtLoad (issue 9): a broken diff: block used to load
// and then compare under the default rules after a warning at the first
// shadowed request. Through Parser it is refused at load, at its line and
// column, beside the file's other problems.
func TestDiffBlocksCheckedAtLoad(t *testing.T) {
	head := "legacy: {url: http://127.0.0.1:1}\nroutes:\n  - match: \"GET /{version}/{user}/info/collections\"\n    mode: shadow\n    diff:\n"
	cases := []struct{ block, want string }{
		{"      ignroe: [body.x]\n", "f:6:7: diff: unknown key \"ignroe\""},
		{"      ignore: [bdy.x]\n", "f:6:15: diff: ignore: path \"bdy.x\""},
		{"      timestamp_tolerance: soon\n", "f:6:28: diff: timestamp_tolerance:"},
		{"      learn_noise: 2\n", "f:6:20: diff: learn_noise: \"2\""},
		{"      relations: maybe\n      learn_noise: often\n", "f:6:18: diff: relations: cannot unmarshal"},
		{"      - ignore\n", "f:6:7: diff must be a mapping"},
	}
	for _, tc := range cases {
		src := head + tc.block
		_, err := Parser().Parse([]byte(src), "f")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got  %v\n want %s", tc.block, err, tc.want)
		}
	}
	ok := head + "      learn_noise: 0.2\n      timestamp_tolerance: 10s\n      ignore: [body.payload]\n"
	tb, err := Parser().Parse([]byte(ok), "f")
	if err != nil {
		t.Fatalf("a valid block refused: %v", err)
	}
	// A table remembers how it was parsed: reloads check diff: blocks too.
	if _, err := tb.Parser().Parse([]byte(head+"      ignroe: [x]\n"), "f"); err == nil {
		t.Error("the table's parser does not check diff: blocks")
	}
	if _, err := Parser().Load(filepath.Join("..", "routes.yaml")); err != nil {
		t.Errorf("the root routes.yaml: %v", err)
	}
}

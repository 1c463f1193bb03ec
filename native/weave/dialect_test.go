package weave

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/store"
)

func TestDialectFor(t *testing.T) {
	for v, want := range map[string]Dialect{"1.0": Legacy, "1.1": Python, "1": Python} {
		if d, ok := DialectFor(v); !ok || d != want {
			t.Errorf("DialectFor(%q) = %v, %v; want %v", v, d, ok, want)
		}
	}
	for _, v := range []string{"", "2.0", "1.2", "1.", "01.0"} {
		if _, ok := DialectFor(v); ok {
			t.Errorf("DialectFor(%q) accepted", v)
		}
	}
}

func TestFormatTimestamp(t *testing.T) {
	tests := []struct {
		ts             store.Timestamp
		legacy, python string
	}{
		{179589550070, "1795895500.7", "1795895500.70"},
		{179589550065, "1795895500.65", "1795895500.65"},
		{179589550000, "1795895500", "1795895500.00"},
		{179589550001, "1795895500.01", "1795895500.01"},
		{127834567810, "1278345678.1", "1278345678.10"},
		{0, "0", "0.00"},
		{5, "0.05", "0.05"},
		{-150, "-1.5", "-1.50"},
	}
	for _, tt := range tests {
		if got := Legacy.FormatTimestamp(tt.ts); got != tt.legacy {
			t.Errorf("Legacy(%d) = %q, want %q", tt.ts, got, tt.legacy)
		}
		if got := Python.FormatTimestamp(tt.ts); got != tt.python {
			t.Errorf("Python(%d) = %q, want %q", tt.ts, got, tt.python)
		}
	}
}

var floatCases = []float64{0, 1, 10, 100, 196, 0.5, 0.48828125, 0.0009765625, 1e-4, 1e-5, 0.00012,
	1795895500.65, 1795895500.7, 1e15, 1e16, 1e17, 1e20, 123456789012345678, 0.1 + 0.2, -0.5, -1e-5,
	503.0 / 1024, 5e-324, 1.7976931348623157e308, 4.8828125e-4, 5119.9765625}

// TestFloatsMatchReferences renders floats as PHP's json_encode and
// Python's json.dumps do, asking the real interpreters when installed.
func TestFloatsMatchReferences(t *testing.T) {
	var legacy, python []string
	for _, f := range floatCases {
		legacy = append(legacy, string(Legacy.AppendFloat(nil, f)))
		python = append(python, string(Python.AppendFloat(nil, f)))
	}
	// 'e' notation keeps every value a float for both interpreters.
	reprs := make([]string, len(floatCases))
	for i, f := range floatCases {
		reprs[i] = strconv.FormatFloat(f, 'e', -1, 64)
	}
	list := "[" + strings.Join(reprs, ",") + "]"
	if php, err := exec.LookPath("php"); err == nil {
		out, err := exec.Command(php, "-r", `echo json_encode(json_decode($argv[1]));`, string(list)).Output()
		if err != nil {
			t.Fatalf("php: %v", err)
		}
		if want := "[" + strings.Join(legacy, ",") + "]"; string(out) != want {
			t.Errorf("legacy floats\n got %s\nwant %s", want, out)
		}
	} else {
		t.Log("php not installed: legacy floats checked by golden file only")
	}
	if py, err := exec.LookPath("python3"); err == nil {
		out, err := exec.Command(py, "-c",
			`import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",",":")), end="")`,
			string(list)).Output()
		if err != nil {
			t.Fatalf("python3: %v", err)
		}
		if want := "[" + strings.Join(python, ",") + "]"; string(out) != want {
			t.Errorf("python floats\n got %s\nwant %s", want, out)
		}
	}
	golden(t, "floats.golden", []byte(strings.Join(legacy, "\n")+"\n--\n"+strings.Join(python, "\n")+"\n"))
}

func TestFormatHeaderFloat(t *testing.T) {
	tests := []struct {
		f              float64
		legacy, python string
	}{
		{0.0765625, "0.0765625", "0.0765625"},
		{1.0 / 3, "0.3333333333333333", "0.333333333333"},
		{1024, "1024", "1024.0"},
		{-0.5, "-0.5", "-0.5"},
	}
	for _, tt := range tests {
		if got := Legacy.FormatHeaderFloat(tt.f); got != tt.legacy {
			t.Errorf("Legacy(%v) = %q, want %q", tt.f, got, tt.legacy)
		}
		if got := Python.FormatHeaderFloat(tt.f); got != tt.python {
			t.Errorf("Python(%v) = %q, want %q", tt.f, got, tt.python)
		}
	}
}

var stringCases = []string{"", "plain", "a/b", `quote" back\ slash`, "tab\tnl\ncr\rbs\bff\f",
	"\x00\x01\x1f\x7f", "ünïcödé ✓ 漢字 😀", "<>&'", "\u2028\u2029", "\U0010FFFF", "{6820f3ca-6e8a-4b1e-a2d4-0123456789ab}"}

// TestStringsMatchReferences compares string escaping with PHP's
// json_encode (Legacy) and Python's json.dumps with ensure_ascii (Python).
func TestStringsMatchReferences(t *testing.T) {
	list, _ := json.Marshal(stringCases)
	render := func(d Dialect) string {
		parts := make([]string, len(stringCases))
		for i, s := range stringCases {
			parts[i] = string(d.AppendString(nil, s))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	if php, err := exec.LookPath("php"); err == nil {
		out, err := exec.Command(php, "-r", `echo json_encode(json_decode($argv[1]));`, string(list)).Output()
		if err != nil {
			t.Fatalf("php: %v", err)
		}
		if got := render(Legacy); got != string(out) {
			t.Errorf("legacy strings\n got %s\nwant %s", got, out)
		}
	}
	if py, err := exec.LookPath("python3"); err == nil {
		out, err := exec.Command(py, "-c",
			`import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",",":")), end="")`,
			string(list)).Output()
		if err != nil {
			t.Fatalf("python3: %v", err)
		}
		if got := render(Python); got != string(out) {
			t.Errorf("python strings\n got %s\nwant %s", got, out)
		}
	}
	golden(t, "strings.golden", []byte(render(Legacy)+"\n"+render(Python)+"\n"))
}

func TestInvalidUTF8BecomesReplacement(t *testing.T) {
	if got := string(Legacy.AppendString(nil, "a\xffb")); got != `"a\ufffdb"` {
		t.Errorf("got %s", got)
	}
}

func TestSortCollections(t *testing.T) {
	names := []string{"zeta", "tabs", "alpha", "forms", "clients", "bookmarks", "history"}
	SortCollections(names)
	want := "clients forms history bookmarks tabs alpha zeta"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestInfoBodies(t *testing.T) {
	stamps := map[string]store.Timestamp{"tabs": 179589550067, "forms": 179589550062,
		"history": 179589550069, "bookmarks": 179589550062}
	counts := map[string]int64{"forms": 1, "history": 16, "bookmarks": 9, "tabs": 150}
	usage := map[string]int64{"col2": 503, "col1": 1024}
	var out []byte
	for _, d := range []Dialect{Legacy, Python} {
		out = append(out, d.String()+"\n"...)
		out = append(d.AppendTimestampMap(out, stamps), '\n')
		out = append(d.AppendTimestampMap(out, nil), '\n')
		out = append(d.AppendCountMap(out, counts), '\n')
		out = append(d.AppendCountMap(out, map[string]int64{}), '\n')
		out = append(d.AppendUsageMap(out, usage), '\n')
		out = append(d.AppendUsageMap(out, nil), '\n')
		out = append(d.AppendQuota(out, 0, 5120, true), '\n')
		out = append(d.AppendQuota(out, 200704, 0, false), '\n')
		out = append(d.AppendModified(out, nil), '\n')
		out = append(d.AppendModified(out, ptr(store.Timestamp(179589550060))), '\n')
	}
	golden(t, "info.golden", out)
	// PY's test_overquota configures 0.1 KB: a fractional quota stays one.
	if got := string(Python.AppendQuota(nil, 24, 0.1, true)); got != "[0.0234375,0.1]" {
		t.Errorf("fractional quota: %s", got)
	}
	// REC #104/#105: the legacy server's exact bytes.
	if got := string(Legacy.AppendTimestampMap(nil, stamps)); got !=
		`{"forms":1795895500.62,"history":1795895500.69,"bookmarks":1795895500.62,"tabs":1795895500.67}` {
		t.Errorf("REC #104 mismatch: %s", got)
	}
	if got := string(Legacy.AppendCountMap(nil, counts)); got != `{"forms":1,"history":16,"bookmarks":9,"tabs":150}` {
		t.Errorf("REC #105 mismatch: %s", got)
	}
}

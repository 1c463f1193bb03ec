package weaveurl

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// moduleRoot is the repository's root directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", dir, err)
	}
	return dir
}

// TestOneOwner (issue 9): every package that names routes, keys users or
// dispatches Weave paths imports this package directly, so route names,
// budgets, cache keys, report rows and metric labels agree by
// construction.
func TestOneOwner(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go tool on PATH")
	}
	users := []string{
		"github.com/weaveproxy/weaveproxy/proxy/routes",     // route table
		"github.com/weaveproxy/weaveproxy/proxy/metrics",    // route labels
		"github.com/weaveproxy/weaveproxy/native/ratelimit", // budgets
		"github.com/weaveproxy/weaveproxy/native/lockout",   // lockout counters
		"github.com/weaveproxy/weaveproxy/diff/rules",       // report rows
		"github.com/weaveproxy/weaveproxy/diff/redact",      // what is storage data
		"github.com/weaveproxy/weaveproxy/native",           // the native dispatcher
		"github.com/weaveproxy/weaveproxy/native/storageapi",
		"github.com/weaveproxy/weaveproxy/native/userapi",
		"github.com/weaveproxy/weaveproxy/shadow", // which routes write
	}
	cmd := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}"}, users...)...)
	cmd.Dir = moduleRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if !strings.Contains(" "+imports+" ", " github.com/weaveproxy/weaveproxy/internal/weaveurl ") {
			t.Errorf("%s does not import internal/weaveurl", pkg)
		}
	}
}

// parsing matches code that takes a Weave path apart by hand: splitting
// or cutting a request path, or testing it against an API prefix.
var parsing = []*regexp.Regexp{
	regexp.MustCompile(`strings\.(Split|SplitN|Cut|CutPrefix|CutSuffix|Trim|TrimLeft|TrimRight|TrimPrefix|TrimSuffix|HasPrefix|HasSuffix|Index|LastIndex|Fields)\([^)]*URL\.(Path|RawPath|EscapedPath)`),
	regexp.MustCompile(`strings\.(Split|SplitN|Cut|CutPrefix|TrimPrefix|HasPrefix)\([^)]*"/(1\.0|1\.1|1|user|misc)/"`),
	regexp.MustCompile(`\{version:1`), // a mux template of its own
}

// notWeave are files that take apart paths of URL spaces of their own,
// which are no Weave paths, with the reason.
var notWeave = map[string]string{
	"native/userapi/internal.go": "/internal/1.0/users: the operators' user API on a listener of its own",
}

// TestNoOtherParser: no code outside this package parses Weave paths.
// Tests may build and take apart paths freely; code may not.
func TestNoOtherParser(t *testing.T) {
	root := moduleRoot(t)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if notWeave[filepath.ToSlash(rel)] != "" {
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") ||
			strings.HasPrefix(rel, filepath.Join("internal", "weaveurl")+string(filepath.Separator)) {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			for _, re := range parsing {
				if re.MatchString(line) {
					t.Errorf("%s:%d parses a Weave path itself; use internal/weaveurl.Classify:\n\t%s", rel, i+1, strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The guard must catch the parsers it replaced.
func TestGuardCatches(t *testing.T) {
	for _, line := range []string{
		`seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")`,
		`case strings.HasPrefix(p, "/user/"), strings.HasPrefix(p, "/misc/"):`,
		`prefix := ` + "`" + `/{version:1\.0|1\.1|1}/{user}` + "`",
		`rawPath, rawQuery, _ := strings.Cut(r.URL.EscapedPath(), "?")`,
	} {
		hit := false
		for _, re := range parsing {
			hit = hit || re.MatchString(line)
		}
		if !hit {
			t.Errorf("guard misses %s", line)
		}
	}
}

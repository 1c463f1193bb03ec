package e2e

import (
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestInstallScript installs into a temp root (--prefix) twice, checks
// every file and that the second run changed nothing but the binary it may
// replace (the same one here), then uninstalls keeping the data and finally
// purges.
func TestInstallScript(t *testing.T) {
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	install := func() {
		t.Helper()
		cmd := exec.Command("bash", "../scripts/install.sh", "--prefix", root, "--binary", bin)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("install.sh: %v\n%s", err, b)
		}
	}
	install()
	first := snapshot(t, root)
	want := map[string]string{
		"etc/systemd/system/weaveproxy.service": "-rw-r--r--",
		"etc/weaveproxy/":                       "drwxr-xr-x",
		"etc/weaveproxy/routes.yaml":            "-rw-r-----",
		"etc/weaveproxy/weaveproxy.yaml":        "-rw-r-----",
		"usr/local/bin/weaveproxy":              "-rwxr-xr-x",
		"var/lib/weaveproxy/":                   "drwxr-x---",
		"var/lib/weaveproxy/weave.db":           "-rw-r--r--",
		"var/log/weaveproxy/":                   "drwxr-x---",
	}
	for path, mode := range want {
		got, ok := first[path]
		if !ok {
			t.Errorf("install made no %s", path)
			continue
		}
		if !strings.HasPrefix(got, mode) {
			t.Errorf("%s: mode %s, want %s", path, got, mode)
		}
	}
	for path := range first {
		if _, ok := want[path]; !ok && !isParentDir(path) {
			t.Errorf("install made an unexpected %s", path)
		}
	}
	// The legacy tables at least; native adds its own beside them.
	tables := "," + strings.SplitN(first["var/lib/weaveproxy/weave.db"], "sqlite:", 2)[1] + ","
	for _, want := range []string{"users", "collections", "wbo"} {
		if !strings.Contains(tables, ","+want+",") {
			t.Errorf("db init left weave.db without %s: %s", want, tables)
		}
	}
	sameFile(t, filepath.Join(root, "usr/local/bin/weaveproxy"), bin)
	sameFile(t, filepath.Join(root, "etc/weaveproxy/weaveproxy.yaml"), "../deploy/weaveproxy.yaml")
	sameFile(t, filepath.Join(root, "etc/systemd/system/weaveproxy.service"), "../deploy/weaveproxy.service")
	verifyUnit(t, root)

	// A second run changes nothing, and leaves an edited config alone.
	cfg := filepath.Join(root, "etc/weaveproxy/weaveproxy.yaml")
	edited := "# the operator's own\nlisten: 127.0.0.1:8181\n"
	if err := os.WriteFile(cfg, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	first["etc/weaveproxy/weaveproxy.yaml"] = fileKey(t, cfg)
	install()
	if second := snapshot(t, root); fmt.Sprint(second) != fmt.Sprint(first) {
		t.Errorf("second install changed the tree:\nfirst  %v\nsecond %v", first, second)
	}

	uninstall := func(args ...string) {
		t.Helper()
		cmd := exec.Command("bash", append([]string{"../scripts/uninstall.sh", "--prefix", root}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("uninstall.sh: %v\n%s", err, b)
		}
	}
	uninstall()
	kept := snapshot(t, root)
	for _, gone := range []string{"usr/local/bin/weaveproxy", "etc/systemd/system/weaveproxy.service"} {
		if _, ok := kept[gone]; ok {
			t.Errorf("uninstall left %s", gone)
		}
	}
	for _, stays := range []string{"etc/weaveproxy/weaveproxy.yaml", "etc/weaveproxy/routes.yaml", "var/lib/weaveproxy/weave.db", "var/log/weaveproxy/"} {
		if kept[stays] != first[stays] {
			t.Errorf("uninstall without --purge touched %s: %q, was %q", stays, kept[stays], first[stays])
		}
	}
	uninstall("--purge")
	for path := range snapshot(t, root) {
		if !isParentDir(path) {
			t.Errorf("uninstall --purge left %s", path)
		}
	}
}

// isParentDir: directories install.sh creates only as parents of its own,
// which uninstall leaves (they are the system's, like /usr/local/bin).
func isParentDir(p string) bool {
	switch p {
	case "etc/", "etc/systemd/", "etc/systemd/system/", "usr/", "usr/local/", "usr/local/bin/", "var/", "var/lib/", "var/log/":
		return true
	}
	return false
}

// snapshot maps every path under root (directories with a trailing /) to
// its mode and, for files, a content hash. The SQLite file is compared by
// mode and its tables, not bytes: db init may touch its header.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if fi.IsDir() {
			m[rel+"/"] = fi.Mode().String()
			return nil
		}
		m[rel] = fileKey(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fileKey(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(p, ".db") {
		return fi.Mode().String() + " sqlite:" + strings.Join(sqliteTables(t, p), ",")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s %x", fi.Mode(), sha256.Sum256(b))
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	if err1 != nil || err2 != nil || string(x) != string(y) {
		t.Errorf("%s differs from %s (%v, %v)", a, b, err1, err2)
	}
}

// verifyUnit runs systemd-analyze verify on the installed unit, pointed at
// the staged binary, where systemd-analyze exists. Any complaint fails.
func verifyUnit(t *testing.T, root string) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not on PATH: the unit is not verified")
		return
	}
	unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/weaveproxy.service"))
	if err != nil {
		t.Fatal(err)
	}
	staged := strings.ReplaceAll(string(unit), "/usr/local/bin/weaveproxy", filepath.Join(root, "usr/local/bin/weaveproxy"))
	f := filepath.Join(t.TempDir(), "weaveproxy.service")
	if err := os.WriteFile(f, []byte(staged), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", f).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// sqliteTables lists the tables of the SQLite file at p, read-only.
func sqliteTables(t *testing.T, p string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+p+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

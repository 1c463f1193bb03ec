package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// TestDistTarball builds the release tarball with scripts/dist.sh (amd64
// only, to save time), unpacks it into a temp folder and runs the binary
// from there as an operator would: a Sync session against ./weave.db, then
// a clean stop.
func TestDistTarball(t *testing.T) {
	out := t.TempDir()
	const version = "0.0.0-e2e"
	cmd := exec.Command("bash", "../scripts/dist.sh", "--arch", "amd64", "--out", out, "--version", version)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dist.sh: %v\n%s", err, b)
	}
	name := "weaveproxy-" + version + "-linux-amd64"
	tarball := filepath.Join(out, name+".tar.gz")
	check := exec.Command("sha256sum", "-c", name+".tar.gz.sha256")
	check.Dir = out
	if b, err := check.CombinedOutput(); err != nil {
		t.Fatalf("checksum: %v\n%s", err, b)
	}
	unpacked := t.TempDir()
	if b, err := exec.Command("tar", "-C", unpacked, "-xzf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, b)
	}
	root := filepath.Join(unpacked, name)
	checkTarballFiles(t, root)

	bin := filepath.Join(root, "weaveproxy")
	if b, err := exec.Command("file", bin).CombinedOutput(); err == nil && !strings.Contains(string(b), "statically linked") {
		t.Errorf("binary is not static: %s", b)
	}
	v, err := exec.Command(bin, "version").CombinedOutput()
	head, _ := exec.Command("git", "rev-parse", "HEAD").Output()
	want := "weaveproxy " + version + " (commit " + strings.TrimSpace(string(head))
	if err != nil || !strings.HasPrefix(string(v), want) {
		t.Fatalf("weaveproxy version = %q (%v), want prefix %q", v, err, want)
	}

	// Ports by flag, so that the test never collides with a real 8080.
	listen, admin := freeAddr(t), freeAddr(t)
	s := startBinary(t, bin, root, listen, admin, "--listen", listen, "--admin-listen", admin)
	syncSession(t, s)
	s.stop(t)
	if _, err := os.Stat(filepath.Join(root, "weave.db")); err != nil {
		t.Errorf("no weave.db in the unpacked folder: %v", err)
	}

	// The true no-flag start, when the default ports are free here.
	if !portFree("127.0.0.1:8080") || !portFree("127.0.0.1:9090") {
		t.Log("127.0.0.1:8080 or :9090 is taken: the no-flag start is not tried")
		return
	}
	dir := t.TempDir()
	s = startBinary(t, bin, dir, "127.0.0.1:8080", "127.0.0.1:9090")
	syncSession(t, s)
	s.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "weave.db")); err != nil {
		t.Errorf("no-flag start made no ./weave.db: %v", err)
	}
}

// checkTarballFiles: every file the issue promises, and nothing built
// outside the list by accident.
func checkTarballFiles(t *testing.T, root string) {
	t.Helper()
	var got []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(root, p)
			got = append(got, rel)
		}
		return err
	})
	sort.Strings(got)
	want := []string{"weaveproxy", "README.md", "LICENSE", "routes.yaml", "scripts/install.sh", "scripts/uninstall.sh"}
	deploy, err := os.ReadDir("../deploy")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deploy {
		want = append(want, "deploy/"+d.Name())
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tarball holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range []string{"weaveproxy", "scripts/install.sh"} {
		if fi, err := os.Stat(filepath.Join(root, f)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable (%v)", f, err)
		}
	}
}

func freeAddr(t testing.TB) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}

func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

package synth

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// readOnlyEnv makes the test binary run readOnlyCase (as a user without
// root's powers, which ignore file modes).
const readOnlyEnv = "STAGECRAFT_TEST_READONLY"

// TestWriteDirReadOnlyPrevious replaces a previous output whose tree is
// read-only: written by the same user (it is removed), and owned by
// another user (it cannot be removed, which is a notice, not a failure,
// since the new output is in place). Under root, whom file modes do not
// stop, the test runs itself again as the user nobody.
func TestWriteDirReadOnlyPrevious(t *testing.T) {
	if os.Getenv(readOnlyEnv) != "" {
		if msg := readOnlyCase(os.Getenv(readOnlyEnv)); msg != "" {
			t.Fatal(msg)
		}
		return
	}
	if os.Geteuid() != 0 {
		dist := t.TempDir()
		if msg := readOnlyCase(dist); msg != "" {
			t.Fatal(msg)
		}
		return
	}
	// Under root: a copy of the test binary and a dist that nobody may use,
	// with a second app written by root, read-only.
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "synth.test")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(root, "dist")
	if err := WriteDir(filepath.Join(dist, "foreign"), version("a")); err != nil {
		t.Fatal(err)
	}
	readOnly(t, filepath.Join(dist, "foreign"))
	if err := os.Chmod(dist, 0o777); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestWriteDirReadOnlyPrevious$", "-test.v")
	cmd.Env = append(os.Environ(), readOnlyEnv+"="+dist)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	// Root's next write removes what nobody could not.
	if err := WriteDir(filepath.Join(dist, "foreign"), version("a")); err != nil {
		t.Fatal(err)
	}
	if left := names(t, dist); strings.Join(left, " ") != "foreign own" {
		t.Errorf("after root's write, dist holds %v", left)
	}
}

// readOnlyCase runs in dist as an ordinary user and returns what went
// wrong, or "".
func readOnlyCase(dist string) string {
	own := filepath.Join(dist, "own")
	if err := WriteDir(own, version("a")); err != nil {
		return err.Error()
	}
	if err := filepath.WalkDir(own, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chmod(p, 0o555)
	}); err != nil {
		return err.Error()
	}
	if err := WriteDir(own, version("b")); err != nil {
		return "replacing a read-only output of one's own: " + err.Error()
	}
	if v := which(own); v != "b" {
		return "after replacing a read-only output, it holds version " + v
	}
	foreign := filepath.Join(dist, "foreign")
	if _, err := os.Stat(foreign); err != nil {
		return "" // not under root: there is no other user's output
	}
	var notices []string
	out, err := openOutput(foreign, linkPolicy{root: dist}, func(f string, a ...any) { notices = append(notices, fmt.Sprintf(f, a...)) })
	if err != nil {
		return err.Error()
	}
	defer out.close()
	if err := out.replace(version("b")); err != nil {
		return "replacing another user's read-only output: " + err.Error()
	}
	if v := which(foreign); v != "b" || len(notices) != 1 || !strings.Contains(notices[0], "could not be removed") {
		return fmt.Sprintf("another user's read-only output: version %q, notices %q", v, notices)
	}
	return ""
}

func readOnly(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			defer os.Chmod(p, 0o555)
			return nil
		}
		return os.Chmod(p, 0o444)
	})
	if err != nil {
		t.Fatal(err)
	}
}

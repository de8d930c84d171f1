package synth_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

// readTree returns every file under dir, by relative path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if d.Name() == synth.MarkerFile {
			return nil // every output folder holds one; the fault tests check it
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFailedSynthLeavesPreviousOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs an app")
	}
	bin := filepath.Join(t.TempDir(), "app")
	build := exec.Command("go", "build", "-o", bin, "./testdata/app")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dist := filepath.Join(t.TempDir(), "dist")
	run := func(broken bool) (string, error) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), synth.DistEnv+"="+dist, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
		if broken {
			cmd.Env = append(cmd.Env, "BROKEN=1")
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}

	if stderr, err := run(false); err != nil {
		t.Fatalf("good app failed: %v\n%s", err, stderr)
	}
	good := readTree(t, dist)
	if len(good) != 3 || !strings.Contains(good["demo/demo.k8s.yaml"], "kind: Deployment") ||
		!strings.Contains(good["demo/pipeline.md"], "```mermaid") || !strings.Contains(good["demo/kustomization.yaml"], "- demo.k8s.yaml") {
		t.Fatalf("unexpected output of the good app: %v", good)
	}

	stderr, err := run(true)
	exit, ok := err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 1 {
		t.Fatalf("broken app: want exit status 1, got %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"stagecraft: app demo: 2 invalid inputs",
		`demo/demo/api: Image: Invalid value: "ghcr.io/acme/api": image has no tag or digest`,
		"demo/demo/api: Ports[0].ContainerPort: Invalid value: 0: must be between 1 and 65535",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Errorf("stderr holds a stack trace:\n%s", stderr)
	}
	if after := readTree(t, dist); !equalTrees(good, after) {
		t.Errorf("failed synth changed dist/:\nbefore %v\nafter  %v", good, after)
	}

	// A crash between the two renames of the fallback path left the output
	// moved aside: the next synth puts it back first, even if it fails.
	if err := os.Rename(filepath.Join(dist, "demo"), filepath.Join(dist, ".demo.old-1")); err != nil {
		t.Fatal(err)
	}
	if stderr, err := run(true); err == nil || !strings.Contains(stderr, "restored the previous output") {
		t.Errorf("broken app after a crash: want exit 1 and a notice of the restore, got %v\n%s", err, stderr)
	}
	if after := readTree(t, dist); !equalTrees(good, after) {
		t.Errorf("the moved-aside output was not restored:\nbefore %v\nafter  %v", good, after)
	}
}

func equalTrees(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestWriteDirReplacesWholeDirectory(t *testing.T) {
	dist := t.TempDir()
	dir := filepath.Join(dist, "app")
	if err := synth.WriteDir(dir, map[string][]byte{"a.yaml": []byte("a"), "b.yaml": []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteDir(dir, map[string][]byte{"a.yaml": []byte("a2")}); err != nil {
		t.Fatal(err)
	}
	got := readTree(t, dist)
	if len(got) != 1 || got["app/a.yaml"] != "a2" {
		t.Errorf("want only app/a.yaml = a2, got %v", got)
	}
}

func TestWriteDirRejectsBadNamesWithoutTouchingOutput(t *testing.T) {
	dist := t.TempDir()
	dir := filepath.Join(dist, "app")
	if err := synth.WriteDir(dir, map[string][]byte{"a.yaml": []byte("a")}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../escape.yaml", "/abs.yaml", "sub/../x.yaml", ".hidden", "a//b.yaml", `a\b.yaml`} {
		if err := synth.WriteDir(dir, map[string][]byte{"ok.yaml": []byte("x"), bad: []byte("x")}); err == nil {
			t.Errorf("want an error for the file name %q", bad)
		}
	}
	if got := readTree(t, dist); len(got) != 1 || got["app/a.yaml"] != "a" {
		t.Errorf("output changed or temporary files left behind: %v", got)
	}
}

func TestWriteDirWritesSubdirectories(t *testing.T) {
	dist := t.TempDir()
	dir := filepath.Join(dist, "app")
	if err := synth.WriteDir(dir, map[string][]byte{"dev/a.yaml": []byte("d"), "prod/a.yaml": []byte("p")}); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, dist); len(got) != 2 || got["app/dev/a.yaml"] != "d" || got["app/prod/a.yaml"] != "p" {
		t.Errorf("got %v", got)
	}
}

func TestWriteDirRecoversFromCrashBetweenRenames(t *testing.T) {
	dist := t.TempDir()
	// A crash after the old directory was moved away and before the new
	// one took its place leaves only the moved-away copy.
	old := filepath.Join(dist, ".app.old-123")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "a.yaml"), []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dist, ".app.tmp-456")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteDir(filepath.Join(dist, "app"), map[string][]byte{"a.yaml": []byte("next")}); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, dist); len(got) != 1 || got["app/a.yaml"] != "next" {
		t.Errorf("want only app/a.yaml = next, got %v", got)
	}
}

// TestWriteDirKeepsSymlink: a link at the output folder to a folder yet
// to be made in the same directory, and then to the output written there,
// is followed, and kept.
func TestWriteDirKeepsSymlink(t *testing.T) {
	dist := t.TempDir()
	real := filepath.Join(dist, "app-v2")
	link := filepath.Join(dist, "app")
	if err := os.Symlink("app-v2", link); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.yaml", "b.yaml"} { // made, then replaced
		if err := synth.WriteDir(link, map[string][]byte{name: []byte(name)}); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("the link was replaced: %v %v", fi, err)
		}
		if got := readTree(t, real); len(got) != 1 || got[name] != name {
			t.Errorf("the link's target holds %v; want only %s", got, name)
		}
	}
	if entries, _ := os.ReadDir(dist); len(entries) != 2 {
		t.Errorf("files left beside the link: %v", entries)
	}
}

func TestWriteDirRefusesAFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.WriteFile(dir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteDir(dir, map[string][]byte{"a.yaml": []byte("a")}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("want an error naming a file in the way, got %v", err)
	}
	if b, _ := os.ReadFile(dir); string(b) != "x" {
		t.Errorf("the file was changed")
	}
}

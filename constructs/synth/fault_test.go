package synth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	yamlv2 "go.yaml.in/yaml/v2"
)

// otherManifest is the manifest of dist/other.
const otherManifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: o\n"

// faultRepo makes a throwaway repository: a file beside dist, and
// dist/other, an output of another app.
func faultRepo(t *testing.T) (repo, dist string) {
	t.Helper()
	repo = t.TempDir()
	dist = filepath.Join(repo, "dist")
	for name, data := range map[string]string{"README.md": "repo", ".git/HEAD": "ref", "elsewhere/keep.txt": "keep"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteDir(filepath.Join(dist, "other"), map[string][]byte{"o.yaml": []byte(otherManifest)}); err != nil {
		t.Fatal(err)
	}
	return repo, dist
}

// untouched fails unless the repository still holds what faultRepo made.
func untouched(t *testing.T, repo string) {
	t.Helper()
	for name, want := range map[string]string{"README.md": "repo", ".git/HEAD": "ref", "elsewhere/keep.txt": "keep", "dist/other/o.yaml": otherManifest} {
		if got, err := os.ReadFile(filepath.Join(repo, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
}

// TestFaultLinkedOutput: an output folder that is a symbolic link to the
// repository, to dist, to a folder that is not an output, or out of dist,
// is refused before anything is written or removed (dist/seed linked to
// ".." once replaced the whole repository).
func TestFaultLinkedOutput(t *testing.T) {
	for _, c := range []struct{ name, link, want string }{
		{"the repository", "..", "which holds the output directory"},
		{"dist itself", ".", "which holds the output directory"},
		{"the file system's root", "/", "which holds the output directory"},
		{"a folder that is not an output", "../elsewhere", "outside"},
		{"a folder in dist that is not an output", "notes", "holds files synth did not write"},
		{"another app's output", "other", `is the output of "other", not of "seed"`},
		{"a folder yet to be made, out of dist", "../elsewhere/seed", "outside"},
		{"a folder yet to be made in a folder that is not there", "../nowhere/seed", "whose folder cannot be resolved"},
		{"a loop", "seed", "cannot be resolved"},
		{"an empty folder inside another app's output", "other/sub", `inside ` + "%DIST%" + `/other, the output of "other": synth writes an output beside the others`},
		{"a folder yet to be made inside another app's output", "other/new", `, the output of "other": synth writes an output beside the others`},
	} {
		repo, dist := faultRepo(t)
		if err := os.Mkdir(filepath.Join(dist, "other", "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		c.want = strings.ReplaceAll(c.want, "%DIST%", evalDir(t, dist))
		if err := os.MkdirAll(filepath.Join(dist, "notes"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dist, "notes", "n.txt"), []byte("n"), 0o644); err != nil {
			t.Fatal(err)
		}
		seed := filepath.Join(dist, "seed")
		if err := os.Symlink(c.link, seed); err != nil {
			t.Fatal(err)
		}
		err := WriteDir(seed, map[string][]byte{"seed.yaml": []byte("s\n")})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("link to %s: %v; want an error with %q", c.name, err, c.want)
		}
		untouched(t, repo)
		if b, err := os.ReadFile(filepath.Join(dist, "notes", "n.txt")); err != nil || string(b) != "n" {
			t.Errorf("link to %s: dist/notes changed", c.name)
		}
		if left, _ := filepath.Glob(filepath.Join(dist, ".seed.*")); len(left) > 0 {
			t.Errorf("link to %s: left %v", c.name, left)
		}
	}
}

// TestFaultForeignFolder: a folder at dist/<app> that synth did not write
// is not replaced; an empty one, or an output of a release before
// MarkerFile (a generated kustomization.yaml), is.
func TestFaultForeignFolder(t *testing.T) {
	repo, dist := faultRepo(t)
	seed := filepath.Join(dist, "seed")
	if err := os.MkdirAll(seed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(seed, map[string][]byte{"a.yaml": nil}); err != nil {
		t.Errorf("an empty folder: %v", err)
	}
	if err := os.Remove(filepath.Join(seed, MarkerFile)); err != nil {
		t.Fatal(err)
	}
	err := WriteDir(seed, map[string][]byte{"a.yaml": nil})
	if err == nil || !strings.Contains(err.Error(), "holds files synth did not write (it has no .stagecraft-output)") {
		t.Errorf("a folder synth did not write: %v", err)
	}
	if err := os.WriteFile(filepath.Join(seed, KustomizationFile), []byte(kustomizationHeader), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(seed, map[string][]byte{"a.yaml": nil}); err != nil {
		t.Errorf("an output of an earlier release: %v", err)
	}
	// A copy of another app's output (an app renamed): its own now.
	if err := os.Rename(seed, filepath.Join(dist, "seed2")); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(filepath.Join(dist, "seed2"), map[string][]byte{"a.yaml": nil}); err != nil {
		t.Errorf("an output renamed: %v", err)
	}
	if name, _ := markerName(filepath.Join(dist, "seed2")); name != "seed2" {
		t.Errorf("the renamed output's marker names %q", name)
	}
	untouched(t, repo)
}

// TestFaultLinkedOutputAllowed: a link out of dist is followed when told
// to (Options.LinkOutsideDir), to an output or a missing folder only.
func TestFaultLinkedOutputAllowed(t *testing.T) {
	repo, dist := faultRepo(t)
	seed := filepath.Join(dist, "seed")
	if err := os.Symlink("../elsewhere", seed); err != nil {
		t.Fatal(err)
	}
	out, err := openOutput(seed, linkPolicy{root: dist, outside: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "holds files synth did not write") {
		t.Errorf("allowed out of dist, to a folder that is not an output: %v", err)
	}
	if err == nil {
		out.close()
	}
	untouched(t, repo)
	target := filepath.Join(repo, "mnt", "seed-output")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(seed); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, seed); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // made, then replaced as an output
		out, err := openOutput(seed, linkPolicy{root: dist, outside: true}, nil)
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		err = out.replace(map[string][]byte{"seed.yaml": []byte("s\n")})
		out.close()
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if !isOutput(target) {
			t.Errorf("write %d: the target holds no %s", i, MarkerFile)
		}
	}
	untouched(t, repo)
}

// TestFaultSpecialFiles: a FIFO, a socket or a file where the output
// folder should be, and a FIFO, a device or a link among the previous
// output's manifests, are problems, found at once, with the lock
// released (a FIFO named x.yaml once hung the upgrade check for good,
// holding the lock; a link to /dev/zero grew without bound).
func TestFaultSpecialFiles(t *testing.T) {
	mkfifo := func(p string) error { return syscall.Mkfifo(p, 0o644) }
	link := func(to string) func(string) error { return func(p string) error { return os.Symlink(to, p) } }
	for _, c := range []struct {
		name string
		make func(string) error
		want string
	}{
		{"a FIFO", mkfifo, "a FIFO (named pipe)"},
		{"a link to /dev/zero", link("/dev/zero"), "a symbolic link"},
		{"a link to /dev/urandom", link("/dev/urandom"), "a symbolic link"},
		{"a link to a manifest elsewhere", link("../../elsewhere/keep.txt"), "a symbolic link"},
	} {
		repo, dist := faultRepo(t)
		if err := c.make(filepath.Join(dist, "other", "x.yaml")); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := previousApp(filepath.Join(dist, "other"))
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "x.yaml is "+c.want) {
				t.Errorf("%s in the previous output: %v; want %q", c.name, err, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s in the previous output: reading it hangs", c.name)
		}
		untouched(t, repo)
	}
	// Where the output folder should be.
	for _, c := range []struct {
		name string
		make func(string) error
		want string
	}{
		{"a FIFO", mkfifo, "is a FIFO (named pipe), not a directory"},
		{"a file", func(p string) error { return os.WriteFile(p, nil, 0o644) }, "is a regular file, not a directory"},
		{"a link to /dev/null", link("/dev/null"), "outside"},
	} {
		repo, dist := faultRepo(t)
		if err := c.make(filepath.Join(dist, "seed")); err != nil {
			t.Fatal(err)
		}
		err := WriteDir(filepath.Join(dist, "seed"), map[string][]byte{"a.yaml": nil})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s at the output folder: %v; want %q", c.name, err, c.want)
		}
		untouched(t, repo)
	}
}

// TestFaultLockFile: a link or a FIFO where the lock file goes is an
// error, and the file it points to is left alone.
func TestFaultLockFile(t *testing.T) {
	for _, c := range []struct {
		name string
		make func(string) error
	}{
		{"a link", func(p string) error { return os.Symlink("../README.md", p) }},
		{"a FIFO", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
	} {
		repo, dist := faultRepo(t)
		if err := c.make(filepath.Join(dist, ".seed.lock")); err != nil {
			t.Fatal(err)
		}
		err := WriteDir(filepath.Join(dist, "seed"), map[string][]byte{"a.yaml": nil})
		if err == nil || !strings.Contains(err.Error(), "which synth never makes: remove it") {
			t.Errorf("%s as the lock: %v", c.name, err)
		}
		untouched(t, repo)
	}
}

// TestFaultLeftoverLinks: links named as an interrupted write's
// leftovers are removed, never restored as the output nor followed.
func TestFaultLeftoverLinks(t *testing.T) {
	repo, dist := faultRepo(t)
	for _, n := range []string{".seed.old-1", ".seed.tmp-1"} {
		if err := os.Symlink("..", filepath.Join(dist, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteDir(filepath.Join(dist, "seed"), map[string][]byte{"a.yaml": []byte("a\n")}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(dist, "seed")); err != nil || !fi.IsDir() || !isOutput(filepath.Join(dist, "seed")) {
		t.Errorf("dist/seed is not the new output: %v, %v", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dist, ".seed.*")); len(left) > 0 {
		t.Errorf("left %v", left)
	}
	untouched(t, repo)
}

// TestFaultReadsAreBounded: a previous manifest larger than
// MaxPreviousFileBytes is refused after reading at most one byte more.
func TestFaultReadsAreBounded(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxPreviousFileBytes + 1); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	if _, err := previousObjects(dir, "", map[string]int{}); err == nil || !strings.Contains(err.Error(), "big.yaml: it is larger than") {
		t.Errorf("a manifest past the limit: %v", err)
	}
}

// TestFaultLockIsReleased: after a refused previous output, the next
// writer takes the lock at once.
func TestFaultLockIsReleased(t *testing.T) {
	_, dist := faultRepo(t)
	if err := syscall.Mkfifo(filepath.Join(dist, "other", "x.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := openOutput(filepath.Join(dist, "other"), linkPolicy{root: dist}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = previousApp(filepath.Join(dist, "other"))
	out.close()
	if err == nil {
		t.Fatal("a FIFO in the previous output was read")
	}
	done := make(chan error, 1)
	go func() {
		out, err := openOutput(filepath.Join(dist, "other"), linkPolicy{root: dist}, func(string, ...any) { err = errors.New("waited") })
		if err == nil {
			out.close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lock is still held")
	}
}

// TestKustomizationIsYAML11: the kustomization's entries are read back as
// the file names they are, by a YAML 1.1 reader too.
func TestKustomizationIsYAML11(t *testing.T) {
	names := []string{"seed.k8s.yaml", "*x.k8s.yaml", "&a.k8s.yaml", "!t.k8s.yaml", "a: b.k8s.yaml", "#c.k8s.yaml", "- d.k8s.yaml", "%e.yaml", "@f.yaml", "'g'.yaml", "yes", "=", "<<"}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	if err := yamlv2.Unmarshal(kustomization(names), &k); err != nil || strings.Join(k.Resources, "|") != strings.Join(names, "|") {
		t.Errorf("read back as %q (%v) from\n%s", k.Resources, err, kustomization(names))
	}
}

// TestFaultLeftoversOfSimilarNames: the leftovers of an interrupted write
// are matched exactly (".<name>.old-<digits>"), so app x neither adopts
// nor removes those of apps x.old-y and x.tmp-y (it once restored
// .x.old-y.old-123456 as its own output); each app recovers its own.
func TestFaultLeftoversOfSimilarNames(t *testing.T) {
	repo, dist := faultRepo(t)
	for _, app := range []string{"x.old-y", "x.tmp-y"} {
		if err := WriteDir(filepath.Join(dist, app), map[string][]byte{"a.yaml": []byte(app + "\n")}); err != nil {
			t.Fatal(err)
		}
	}
	// x.old-y crashed between its two renames; x.tmp-y while writing.
	if err := os.Rename(filepath.Join(dist, "x.old-y"), filepath.Join(dist, ".x.old-y.old-123456")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dist, ".x.tmp-y.tmp-77"), 0o700); err != nil {
		t.Fatal(err)
	}
	var notes []string
	notify := func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }
	out, err := openOutput(filepath.Join(dist, "x"), linkPolicy{root: dist}, notify)
	if err != nil {
		t.Fatal(err)
	}
	err = out.replace(map[string][]byte{"a.yaml": []byte("x\n")})
	out.close()
	if err != nil || len(notes) > 0 {
		t.Fatalf("app x: %v, notices %q; want none", err, notes)
	}
	for _, n := range []string{".x.old-y.old-123456", ".x.tmp-y.tmp-77"} {
		if _, err := os.Lstat(filepath.Join(dist, n)); err != nil {
			t.Errorf("app x removed %s: %v", n, err)
		}
	}
	if name, _ := markerName(filepath.Join(dist, "x")); name != "x" {
		t.Errorf("dist/x is the output of %q", name)
	}
	out, err = openOutput(filepath.Join(dist, "x.old-y"), linkPolicy{root: dist}, notify)
	if err != nil {
		t.Fatal(err)
	}
	out.close()
	if len(notes) != 1 || !strings.Contains(notes[0], "restored the previous output of "+filepath.Join(dist, "x.old-y")+" from .x.old-y.old-123456") {
		t.Errorf("app x.old-y: notices %q", notes)
	}
	if b, err := os.ReadFile(filepath.Join(dist, "x.old-y", "a.yaml")); err != nil || string(b) != "x.old-y\n" {
		t.Errorf("app x.old-y's output: %q, %v", b, err)
	}
	if err := WriteDir(filepath.Join(dist, "x.tmp-y"), map[string][]byte{"a.yaml": nil}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dist, ".x*-*")); len(left) > 0 {
		t.Errorf("left %v", left)
	}
	untouched(t, repo)
}

// TestLeftoverNames: the working names are those leftover matches.
func TestLeftoverNames(t *testing.T) {
	dir := t.TempDir()
	for _, part := range []string{tmpPart, oldPart} {
		p, err := workDir(dir, "x", part, part == tmpPart)
		if err != nil || !leftover(filepath.Base(p), "x", part) {
			t.Errorf("workDir(%q) = %s, %v: not a leftover", part, p, err)
		}
	}
	for _, n := range []string{".x.old-", ".x.old-y.old-1", ".x.tmp-1a", "x.old-1", ".x.lock", ".xy.old-1"} {
		if leftover(n, "x", oldPart) || leftover(n, "x", tmpPart) {
			t.Errorf("%s is taken for a leftover of x", n)
		}
	}
}

// evalDir returns dir with its links resolved.
func evalDir(t *testing.T, dir string) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestFaultNestedOutput: an output inside another's is refused, both when
// it would be written and when the outer output would be replaced (which
// deleted the inner one, written through a link by a release before the
// link check).
func TestFaultNestedOutput(t *testing.T) {
	repo, dist := faultRepo(t)
	err := WriteDir(filepath.Join(dist, "other", "sub"), map[string][]byte{"s.yaml": []byte("s\n")})
	if err == nil || !strings.Contains(err.Error(), `is inside `+evalDir(t, dist)+`/other, the output of "other"`) {
		t.Errorf("an output inside another's: %v", err)
	}
	sub := filepath.Join(dist, "other", "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, MarkerFile), []byte(markerText("s8", nil)), 0o644); err != nil {
		t.Fatal(err)
	}
	err = WriteDir(filepath.Join(dist, "other"), map[string][]byte{"o.yaml": []byte(otherManifest)})
	if err == nil || !strings.Contains(err.Error(), "output "+filepath.Join(dist, "other")+" holds "+sub+`, the output of "s8" (a link led its synthesis there): replacing the folder would delete it`) {
		t.Errorf("replacing an output that holds another: %v", err)
	}
	if !isOutput(sub) {
		t.Error("the inner output is gone")
	}
	untouched(t, repo)
}

package synth

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashTrials is the number of kill -9 trials of TestWriteDirSurvivesKill;
// `make crash` runs many more than make test does.
var crashTrials = flag.Int("crash.trials", 8, "kill -9 trials of TestWriteDirSurvivesKill")

// helperEnv makes the test binary a writer process (TestHelperWriter).
const helperEnv = "STAGECRAFT_TEST_WRITER"

// version returns one of two known, complete outputs: they share some
// file names and differ in others and in every file's content, so that a
// mix of the two, or a part of one, is told apart from both.
func version(v string) map[string][]byte {
	files := map[string][]byte{}
	for i := range 40 {
		body := strings.Repeat(fmt.Sprintf("version %s object %d\n", v, i), 200)
		files[fmt.Sprintf("shared-%02d.yaml", i)] = []byte(body)
		files[fmt.Sprintf("only-%s-%02d.yaml", v, i)] = []byte(body)
	}
	files["env/kustomization.yaml"] = []byte("version " + v + "\n")
	return files
}

// TestHelperWriter is not a test: started by TestWriteDirSurvivesKill with
// helperEnv set, it writes the two versions in turn until it is killed.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("a helper process of TestWriteDirSurvivesKill")
	}
	if os.Getenv("STAGECRAFT_TEST_RENAMES") == "1" {
		exchangeDirs = func(a, b string) error { return errors.ErrUnsupported }
	}
	vs := [2]map[string][]byte{version("a"), version("b")}
	for i := rand.IntN(2); ; i++ {
		if err := WriteDir(dir, vs[i%2]); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(3)
		}
	}
}

// TestWriteDirSurvivesKill starts several writers of one output folder at
// once, some through the atomic exchange and some through two renames,
// kills each with SIGKILL at a random moment, and checks that the folder
// holds one of the two complete versions: right after the kills (or, after
// a kill between the two renames, that the previous version waits beside
// it), and after the next writer's recovery, which also leaves nothing
// else behind.
func TestWriteDirSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills writer processes")
	}
	const writers = 4
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	dir := filepath.Join(dist, "app")
	if err := WriteDir(dir, version("a")); err != nil {
		t.Fatal(err)
	}
	// Each writer's jsii runtime (made while Go packages initialize) goes
	// into a directory of the test's, since SIGKILL leaves it behind.
	tmp := t.TempDir()
	kills := 0
	for trial := range *crashTrials {
		var stderr strings.Builder
		var procs []*exec.Cmd
		for w := range writers {
			cmd := exec.Command(exe, "-test.run=^TestHelperWriter$")
			cmd.Env = append(os.Environ(), helperEnv+"="+dir, fmt.Sprintf("STAGECRAFT_TEST_RENAMES=%d", (trial+w)%2), "TMPDIR="+tmp)
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			procs = append(procs, cmd)
		}
		for _, cmd := range procs {
			time.Sleep(time.Duration(rand.IntN(120)) * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			err := cmd.Wait()
			if status, ok := err.(*exec.ExitError); !ok || status.ExitCode() != -1 {
				t.Errorf("trial %d: a writer ended before it was killed: %v", trial, err)
			}
			kills++
		}
		if stderr.Len() > 0 {
			t.Fatalf("trial %d: a writer failed:\n%s", trial, stderr.String())
		}
		checkCrashed(t, trial, dist)
		out, err := openOutput(dir, linkPolicy{root: dist}, nil)
		if err != nil {
			t.Fatalf("trial %d: recovery: %v", trial, err)
		}
		out.close()
		checkRecovered(t, trial, dist)
	}
	t.Logf("%d trials, %d concurrent writers each, %d kill -9: 0 mixed or missing outputs", *crashTrials, writers, kills)
}

// checkCrashed checks dist right after the writers were killed: the
// output is a complete version, or it is missing and a complete version
// waits to be restored (a kill between the two renames).
func checkCrashed(t *testing.T, trial int, dist string) {
	t.Helper()
	dir := filepath.Join(dist, "app")
	if _, err := os.Lstat(dir); err == nil {
		if which(dir) == "" {
			t.Fatalf("trial %d: after the kills, %s is neither version: %v", trial, dir, names(t, dir))
		}
		return
	}
	olds, _ := filepath.Glob(filepath.Join(dist, ".app.old-*"))
	if len(olds) != 1 || which(olds[0]) == "" {
		t.Fatalf("trial %d: %s is missing and no complete previous version waits beside it (%v)", trial, dir, olds)
	}
}

// checkRecovered checks dist after a recovery: one complete version and
// nothing else.
func checkRecovered(t *testing.T, trial int, dist string) {
	t.Helper()
	if which(filepath.Join(dist, "app")) == "" {
		t.Fatalf("trial %d: after recovery, the output is neither version", trial)
	}
	if left := names(t, dist); len(left) != 1 {
		t.Fatalf("trial %d: after recovery, %s holds %v; want only app", trial, dist, left)
	}
}

// which returns "a" or "b" when dir holds exactly that version, byte for
// byte, else "".
func which(dir string) string {
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == MarkerFile {
			return nil
		}
		got[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		return ""
	}
	for _, v := range []string{"a", "b"} {
		if sameFiles(got, version(v)) {
			return v
		}
	}
	return ""
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || string(w) != string(v) {
			return false
		}
	}
	return true
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

//go:build unix

package synth

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReapTempRemovesOnlyDeadOnes: the private temporary directories of
// processes that are gone are removed (those that died before they locked
// theirs too, once setupGrace has passed), and nothing else.
func TestReapTempRemovesOnlyDeadOnes(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, lock bool) string {
		d := filepath.Join(base, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if lock {
			if err := os.WriteFile(filepath.Join(d, ".lock"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	dead := mk(runPrefix+"dead", true)
	alive := mk(runPrefix+"alive", true)
	f, err := os.Open(filepath.Join(alive, ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	diedInSetup := mk(runPrefix+"setup-died", false)
	old := time.Now().Add(-2 * setupGrace)
	if err := os.Chtimes(diedInSetup, old, old); err != nil {
		t.Fatal(err)
	}
	settingUp := mk(runPrefix+"setting-up", false)
	notOurs := mk("other-dir", true)
	target := mk("target", false)
	if err := os.Symlink(target, filepath.Join(base, runPrefix+"link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(target, old, old); err != nil {
		t.Fatal(err)
	}
	reapTemp(base)
	for d, want := range map[string]bool{dead: false, alive: true, diedInSetup: false, settingUp: true, notOurs: true, target: true, filepath.Join(base, runPrefix+"link"): true} {
		if _, err := os.Lstat(d); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}

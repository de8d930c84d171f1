package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

// copyApp copies the committed output of app into dist under name.
func copyApp(t *testing.T, app, dist, name string) {
	t.Helper()
	if err := copyTree(filepath.Join("..", "..", "dist", app), filepath.Join(dist, name)); err != nil {
		t.Fatal(err)
	}
}

// TestRemovedAppIsChecked: the output of an app that no longer exists is
// removed only when pruning it deletes no namespace, claim or volume, or
// when the upgrade check is skipped on purpose.
func TestRemovedAppIsChecked(t *testing.T) {
	dist := t.TempDir()
	copyApp(t, "seed", dist, "gone")
	copyApp(t, "rag", dist, "gone-envs")
	if err := os.MkdirAll(filepath.Join(dist, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := removeStale(dist, []string{"kept"})
	if err == nil {
		t.Fatal("removing the output of apps with namespaces and claims: want an error")
	}
	for _, want := range []string{"[removed app gone]", "Namespace ai-pipeline", "PersistentVolumeClaim", "[removed app gone-envs] [dev]", "Namespace rag-prod", synth.SkipUpgradeCheckEnv + "=1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
	for _, name := range []string{"gone", "gone-envs", "empty"} {
		if _, err := os.Stat(filepath.Join(dist, name)); err != nil {
			t.Errorf("%s was removed though the check refused: %v", name, err)
		}
	}
	t.Setenv(synth.SkipUpgradeCheckEnv, "1")
	if err := removeStale(dist, []string{"kept"}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dist); len(entries) != 0 {
		t.Errorf("with the check skipped, want every stale output removed, got %v", entries)
	}
}

// TestTwoAppsOwningOneObject: two apps that write the same object are an
// error naming both files.
func TestTwoAppsOwningOneObject(t *testing.T) {
	dist := t.TempDir()
	copyApp(t, "seed", dist, "a")
	copyApp(t, "seed", dist, "b")
	copyApp(t, "rag", dist, "c")
	err := synth.CheckOwners(dist, []string{"a", "b", "c"})
	if err == nil || !strings.Contains(err.Error(), "Namespace ai-pipeline is written by a/seed.k8s.yaml and by b/seed.k8s.yaml") {
		t.Fatalf("want an error naming both apps, got %v", err)
	}
	if strings.Contains(err.Error(), "c/") {
		t.Errorf("rag shares nothing with seed: %v", err)
	}
	if err := synth.CheckOwners(dist, []string{"a", "c"}); err != nil {
		t.Errorf("apps of their own: %v", err)
	}
}

// TestRemovedAppLeftovers: the leftovers of an interrupted write of an app
// that no longer exists are cleaned up (a previous output moved aside is
// put back and checked), and a folder stagecraft did not write is kept.
func TestRemovedAppLeftovers(t *testing.T) {
	t.Setenv(synth.SkipUpgradeCheckEnv, "1")
	dist := t.TempDir()
	copyApp(t, "seed", dist, ".gone.old-123")
	for _, d := range []string{".gone.tmp-456/x", "notes/n"} {
		if err := os.MkdirAll(filepath.Join(dist, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dist, ".gone.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeStale(dist, []string{"kept"}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dist)
	if len(entries) != 1 || entries[0].Name() != "notes" {
		t.Errorf("want only notes (not an output) left, got %v", entries)
	}
}

// TestLeftoverNamesOfSimilarApps: leftovers are matched to their app
// exactly, so the lock left by a removed app x.old-y is cleaned up while
// an app x exists (it was taken for x's, and kept).
func TestLeftoverNamesOfSimilarApps(t *testing.T) {
	for n, want := range map[string]string{".x.lock": "x", ".x.old-y.lock": "x.old-y", ".x.old-y.old-12": "x.old-y", ".x.tmp-y.old-5": "x.tmp-y",
		".x.tmp-34": "x", ".x.old-": "", ".x.old-1a": "", "x.lock": "", ".lock": "", ".x.tmp-y": ""} {
		if got := leftoverApp(n); got != want {
			t.Errorf("leftoverApp(%q) = %q, want %q", n, got, want)
		}
	}
	dist := t.TempDir()
	if err := os.WriteFile(filepath.Join(dist, ".x.old-y.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeStale(dist, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dist); len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
}

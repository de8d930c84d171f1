package stagetest

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// update is the -update flag of every test binary that imports the kit.
// A package that imports the kit must not define a flag of the same name:
// the flag package panics on the second definition. Read it with Update.
var update = flag.Bool("update", false, "stagetest: rewrite the golden files of the tests that run instead of comparing with them")

// Update reports whether the test binary was run with -update, for a
// package that keeps golden files of its own.
func Update() bool { return *update }

// GoldenDir is the directory of the golden files, relative to the test's
// working directory, which go test sets to the directory of the package
// under test.
const GoldenDir = "testdata"

// Golden compares the manifest's YAML with the golden file
// testdata/<name>.golden.yaml, as AssertGolden does.
func (m *Manifest) Golden(t testing.TB, name string) {
	t.Helper()
	AssertGolden(t, name, m.YAML)
}

// AssertGolden compares got with the golden file
// testdata/<name>.golden.yaml of the package under test. name may contain
// slashes for subdirectories of testdata. On a difference it marks the test
// failed (and goes on) with a diff that names each object that changed,
// was added or was removed; see Diff. If the file does not exist, it stops
// the test.
//
// Run the tests with -update to write got to the golden file instead: only
// the golden files of the tests that run (and call AssertGolden) are
// written, and a file whose content is already got is left untouched.
// Line endings of the golden file are compared as "\n", so a checkout that
// turned them into "\r\n" still matches.
func AssertGolden(t testing.TB, name string, got []byte) {
	t.Helper()
	if name == "" || !filepath.IsLocal(filepath.FromSlash(name)) {
		t.Fatalf("stagetest: golden name %q must be a non-empty relative path inside %s", name, GoldenDir)
		return
	}
	path := filepath.Join(GoldenDir, filepath.FromSlash(name)+".golden.yaml")
	want, err := os.ReadFile(path)
	if *update {
		if err == nil && bytes.Equal(want, got) {
			return
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("stagetest: %v", err)
			return
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("stagetest: %v", err)
			return
		}
		t.Logf("stagetest: wrote %s", path)
		return
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stagetest: golden file %s does not exist; to create it, run\n\tgo test -run '%s' -update", path, runPattern(t.Name()))
		return
	}
	if err != nil {
		t.Fatalf("stagetest: %v", err)
		return
	}
	if d := Diff(want, got); d != "" {
		t.Errorf("stagetest: the YAML differs from %s (- golden, + new):\n%s"+
			"If the change is intended, rewrite the golden file with\n\tgo test -run '%s' -update",
			path, d, runPattern(t.Name()))
	}
}

// runPattern is a -run pattern that selects exactly the named test or
// subtest.
func runPattern(testName string) string {
	parts := strings.Split(testName, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

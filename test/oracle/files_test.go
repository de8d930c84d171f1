package oracle

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the stagecraft checkout this module is part of.
const repoRoot = "../.."

var theOracle = sync.OnceValues(func() (*Oracle, error) { return NewForRepo(repoRoot) })

func oracle(t testing.TB) *Oracle {
	t.Helper()
	o, err := theOracle()
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	return o
}

// checkFiles runs the oracle over files and fails on every finding. It
// returns the number of objects checked.
func checkFiles(t *testing.T, files []string) int {
	t.Helper()
	o := oracle(t)
	total := 0
	for _, f := range files {
		n, findings := o.CheckFile(f)
		total += n
		for _, fd := range findings {
			t.Error(fd)
		}
	}
	return total
}

// TestGoldenFiles checks every golden file of the repository that holds
// manifests (not the diagrams, diffs and messages).
func TestGoldenFiles(t *testing.T) {
	var files []string
	err := filepath.WalkDir(repoRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != repoRoot {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".golden.yaml") || filepath.Base(filepath.Dir(p)) != "testdata" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if IsManifest(data) {
			files = append(files, p)
		} else {
			t.Logf("not manifests: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := checkFiles(t, files)
	t.Logf("%d golden files, %d objects", len(files), n)
	if len(files) < 20 || n < 100 {
		t.Errorf("only %d golden files with %d objects: the walk missed them", len(files), n)
	}
}

// TestDist checks every manifest of every output folder under dist/.
func TestDist(t *testing.T) {
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "dist"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yaml") && d.Name() != "kustomization.yaml" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := checkFiles(t, files)
	t.Logf("%d files in dist/, %d objects", len(files), n)
	if n == 0 {
		t.Error("no objects in dist/")
	}
}

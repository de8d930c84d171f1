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

// checkFolders runs the oracle over folders (each a list of files applied
// together, so that two objects that are one object of the cluster are
// found too) and fails on every finding. It returns the number of objects
// checked.
func checkFolders(t *testing.T, folders [][]string) int {
	t.Helper()
	o := oracle(t)
	total := 0
	for _, files := range folders {
		contents := map[string][]byte{}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			contents[f] = data
		}
		n, findings := o.CheckFolder(contents)
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
	// Each golden file is an app of its own.
	var folders [][]string
	for _, f := range files {
		folders = append(folders, []string{f})
	}
	n := checkFolders(t, folders)
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
	// Each folder of dist/ is applied as one.
	byDir := map[string][]string{}
	var dirs []string
	for _, f := range files {
		d := filepath.Dir(f)
		if byDir[d] == nil {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], f)
	}
	var folders [][]string
	for _, d := range dirs {
		folders = append(folders, byDir[d])
	}
	n := checkFolders(t, folders)
	t.Logf("%d files in %d folders of dist/, %d objects", len(files), len(folders), n)
	if n == 0 {
		t.Error("no objects in dist/")
	}
}

package oracle

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidRows checks every valid input of the library's validation
// tables, its secrets table and its accepted overrides (but those allowed
// to be privileged), and the seed inputs of its fuzz targets: the library's tests
// write their manifests into a folder per row ($STAGECRAFT_EXPORT_VALID,
// see constructs/stagecraft/validation_test.go), and the oracle checks
// each folder as one apply.
func TestValidRows(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the library's tests")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "test", "-count=1", "-run", "^(TestValidation.*|TestSecretLiteralsRefused|TestOverridesCheckedAgain|TestOverridesGrantNoMore|TestFuzzFindings|Fuzz.*)$", "./constructs/stagecraft")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "STAGECRAFT_EXPORT_VALID="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the library's tests failed: %v\n%s", err, out)
	}
	rows, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	o := oracle(t)
	objects := 0
	for _, row := range rows {
		files := map[string][]byte{}
		entries, err := os.ReadDir(filepath.Join(dir, row.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, row.Name(), e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = data
		}
		n, findings := o.CheckFolder(files)
		objects += n
		for _, f := range findings {
			t.Errorf("%s: %s", strings.ReplaceAll(row.Name(), "~", "/"), f)
		}
	}
	t.Logf("%d valid rows, %d objects", len(rows), objects)
	if len(rows) < 50 {
		t.Errorf("only %d valid rows were exported", len(rows))
	}
}

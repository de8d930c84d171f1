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
	dir, rows := exportRows(t, "STAGECRAFT_EXPORT_VALID", "^(TestValidation.*|TestSecretLiteralsRefused|TestOverridesCheckedAgain|TestOverridesGrantNoMore|TestOverridesOfArgoTasks|TestFuzzFindings|Fuzz.*)$")
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

// TestRefusedOverrideRows checks the other side: every override that the
// library refuses because the API server would refuse its result (the
// rows of TestOverridesCheckedAgain marked apiRefuses) is refused by the
// API server's own validation too. The library's test writes the objects
// as the overrides left them ($STAGECRAFT_EXPORT_REFUSED); each folder
// must draw at least one finding.
func TestRefusedOverrideRows(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the library's tests")
	}
	dir, rows := exportRows(t, "STAGECRAFT_EXPORT_REFUSED", "^TestOverridesCheckedAgain$")
	o := oracle(t)
	for _, row := range rows {
		data, err := os.ReadFile(filepath.Join(dir, row.Name(), "objects.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		name := strings.ReplaceAll(row.Name(), "~", "/")
		_, findings := o.CheckFolder(map[string][]byte{"objects.yaml": data})
		if len(findings) == 0 {
			t.Errorf("%s: the library refuses the override, the API server accepts it:\n%s", name, data)
			continue
		}
		t.Logf("%s: %s", name, findings[0])
	}
	if len(rows) < 20 {
		t.Errorf("only %d refused rows were exported", len(rows))
	}
}

// exportRows runs the library's tests that match run with env naming a new
// folder, into which they write a folder of objects per row; it returns
// that folder and its entries.
func exportRows(t *testing.T, env, run string) (string, []os.DirEntry) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "test", "-count=1", "-run", run, "./constructs/stagecraft")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env+"="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the library's tests failed: %v\n%s", err, out)
	}
	rows, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, rows
}

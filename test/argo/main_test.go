// Package argo proves stagecraft's Argo Workflows output against Argo
// Workflows itself, pinned in this module's go.mod: the upstream CRDs
// (full schemas), Argo's own validation, and its workflow-controller
// running on a real control plane with simulated nodes. See README.md.
package argo

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// argoModule is the Argo Workflows module this suite pins.
const argoModule = "github.com/argoproj/argo-workflows/v4"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stagecraft-argo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratchRoot = dir
	handleSignals()
	code := m.Run()
	killAll()
	if code == 0 || os.Getenv("STAGECRAFT_E2E_KEEP") == "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// distDir is where the synthesized apps are: $STAGECRAFT_DIST, or the
// repository's dist/.
func distDir() string {
	if d := os.Getenv("STAGECRAFT_DIST"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "dist")
}

var (
	moduleOnce sync.Once
	moduleDir  string
	moduleErr  error
)

// argoDir returns the folder of the pinned Argo Workflows module.
func argoDir(t *testing.T) string {
	t.Helper()
	moduleOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", argoModule).Output()
		moduleDir, moduleErr = strings.TrimSpace(string(out)), err
		if err == nil && moduleDir == "" {
			moduleErr = fmt.Errorf("go list -m %s: no folder (run go mod download)", argoModule)
		}
	})
	if moduleErr != nil {
		t.Fatalf("the pinned %s: %v", argoModule, moduleErr)
	}
	return moduleDir
}

// upstreamCRDs returns the files of the CRDs with full schemas that the
// pinned module ships.
func upstreamCRDs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(argoDir(t), "manifests", "base", "crds", "full", "argoproj.io_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs under %s/manifests/base/crds/full (%v)", argoDir(t), err)
	}
	sort.Strings(files)
	return files
}

// doc is one object of a YAML file.
type doc struct {
	file string
	obj  *unstructured.Unstructured
}

// readDocs returns the objects of the YAML files under dir (recursively,
// files sorted, documents in order), skipping kustomization files.
func readDocs(t *testing.T, dir string) []doc {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && strings.HasPrefix(name, ".") && path != dir {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".yaml") && name != "kustomization.yaml" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var out []doc
	for _, f := range files {
		out = append(out, parseFile(t, f)...)
	}
	return out
}

// parseFile returns the objects of one YAML file.
func parseFile(t *testing.T, file string) []doc {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []doc
	for _, part := range bytes.Split(data, []byte("\n---")) {
		if len(bytes.TrimSpace(part)) == 0 {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal(part, &m); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if m == nil || m["kind"] == nil {
			continue
		}
		out = append(out, doc{file: file, obj: &unstructured.Unstructured{Object: m}})
	}
	return out
}

// argoDocs returns the Argo Workflows objects of dist/, by kind.
func argoDocs(t *testing.T) map[string][]doc {
	t.Helper()
	out := map[string][]doc{}
	for _, d := range readDocs(t, distDir()) {
		if d.obj.GetAPIVersion() == "argoproj.io/v1alpha1" {
			out[d.obj.GetKind()] = append(out[d.obj.GetKind()], d)
		}
	}
	if len(out["WorkflowTemplate"]) == 0 {
		t.Fatalf("no WorkflowTemplate in %s: synthesize the apps first (make synth)", distDir())
	}
	return out
}

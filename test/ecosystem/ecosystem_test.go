// Package ecosystem checks that the deploy tools people use render
// stagecraft's output unchanged.
//
// For every deploy unit under dist/ (a directory with a kustomization.yaml;
// STAGECRAFT_DIST names another directory), it parses the unit's plain
// manifest files, in the kustomization's order, and asserts that
//
//   - kustomize (as a library, the version kubectl v1.36 vendors, with the
//     options kubectl's -k gives it) builds the same objects, namespaces
//     first, and prints no warning;
//   - the Helm chart that internal/helmchart makes of the unit renders, with
//     Helm's engine and default values, the same set of objects, none of
//     them a hook, and passes Helm's linter as `helm lint --strict` would
//     (no warnings or errors).
//
// It is a module of its own so that Helm and kustomize stay out of
// stagecraft's go.mod. Run it from this directory: go test ./...
package ecosystem

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// repoRoot is stagecraft's module root, relative to this package.
const repoRoot = "../.."

// object is one Kubernetes object, decoded the way kubectl decodes
// manifests (sigs.k8s.io/yaml: YAML to JSON), with where it came from.
type object struct {
	key    string // apiVersion kind namespace/name
	source string // file and document number, or Helm template
	data   map[string]any
}

func (o object) String() string { return o.key + " (" + o.source + ")" }

// unit is one deploy unit.
type unit struct {
	dir  string // absolute
	rel  string // relative to the dist directory, e.g. rag/prod
	name string // chart name, e.g. rag-prod
}

func (u unit) String() string { return "unit " + u.rel }

func distDir(t *testing.T) string {
	dir := os.Getenv("STAGECRAFT_DIST")
	if dir == "" {
		dir = filepath.Join(repoRoot, "dist")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// findUnits returns the directories under dist that hold a
// kustomization.yaml, skipping hidden ones (scratch directories of an
// interrupted synth).
func findUnits(t *testing.T, dist string) []unit {
	var units []unit
	err := filepath.WalkDir(dist, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dist && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != dist && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(p, "kustomization.yaml")); err != nil {
			return nil
		}
		rel, err := filepath.Rel(dist, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := strings.ReplaceAll(rel, "/", "-")
		if rel == "." {
			name = filepath.Base(p)
		}
		units = append(units, unit{dir: p, rel: rel, name: name})
		return nil
	})
	if err != nil {
		t.Fatalf("looking for deploy units in %s: %v", dist, err)
	}
	sort.Slice(units, func(i, j int) bool { return units[i].rel < units[j].rel })
	return units
}

// parse decodes a multi-document YAML stream into objects, skipping empty
// documents.
func parse(source string, data []byte) ([]object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []object
	for n := 1; ; n++ {
		doc, err := r.Read()
		if err == io.EOF {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, n, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, n, err)
		}
		if m == nil {
			continue
		}
		src := fmt.Sprintf("%s document %d", source, n)
		key, err := keyOf(m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		objs = append(objs, object{key: key, source: src, data: m})
	}
}

func keyOf(m map[string]any) (string, error) {
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	md, _ := m["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	if apiVersion == "" || kind == "" || name == "" {
		return "", fmt.Errorf("not a Kubernetes object (apiVersion %q, kind %q, name %q)", apiVersion, kind, name)
	}
	if ns != "" {
		name = ns + "/" + name
	}
	return apiVersion + " " + kind + " " + name, nil
}

// plainObjects reads the unit's kustomization resources, in order.
func plainObjects(t *testing.T, u unit) []object {
	data, err := os.ReadFile(filepath.Join(u.dir, "kustomization.yaml"))
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatalf("%s: kustomization.yaml: %v", u, err)
	}
	if len(k.Resources) == 0 {
		t.Fatalf("%s: kustomization.yaml lists no resources", u)
	}
	var objs []object
	for _, r := range k.Resources {
		data, err := os.ReadFile(filepath.Join(u.dir, filepath.FromSlash(r)))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		o, err := parse(r, data)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		objs = append(objs, o...)
	}
	if len(objs) == 0 {
		t.Fatalf("%s: its files hold no objects", u)
	}
	return objs
}

// kustomizeObjects builds the unit with kustomize's library, as
// `kubectl apply -k` does (k8s.io/cli-runtime sets the legacy order: by
// kind, namespaces first), and returns what kustomize logged too: a
// kustomization that sets sortOptions makes it warn.
func kustomizeObjects(u unit) ([]object, string, error) {
	var logged bytes.Buffer
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	k := krusty.MakeKustomizer(opts)
	m, err := k.Run(filesys.MakeFsOnDisk(), u.dir)
	if err != nil {
		return nil, logged.String(), err
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, logged.String(), err
	}
	objs, err := parse("kustomize output", out)
	return objs, logged.String(), err
}

// packageCharts runs internal/helmchart once for the whole dist directory
// and returns the directory holding one chart per unit.
func packageCharts(t *testing.T, dist string) string {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "helm")
	cmd := exec.Command("go", "run", "./internal/helmchart", "-all", dist, "-out", out, "-version", "0.1.0")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s in %s: %v\n%s", strings.Join(cmd.Args, " "), root, err, b)
	}
	return out
}

// helmObjects renders the unit's chart the way `helm install` / `helm
// template` do, with the chart's default values, and returns its objects.
// A hook would be run by Helm instead of installed, so it is an error.
func helmObjects(chartDir, namespace string) ([]object, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("loading chart: %w", err)
	}
	vals, err := chartutil.ToRenderValues(ch, map[string]any{}, chartutil.ReleaseOptions{
		Name: ch.Name(), Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	files, err := engine.Engine{Strict: true}.Render(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering: %w", err)
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, fmt.Errorf("splitting the rendered manifests: %w", err)
	}
	for _, h := range hooks {
		return nil, fmt.Errorf("%s %s in %s is a Helm hook (%v): Helm would run it, not install it", h.Kind, h.Name, h.Path, h.Events)
	}
	var objs []object
	for _, m := range manifests {
		o, err := parse(m.Name, []byte(m.Content))
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	return objs, nil
}

// helmLint runs Helm's chart linter and returns its warnings and errors,
// what `helm lint --strict` fails on.
func helmLint(chartDir, namespace string) []string {
	var problems []string
	for _, m := range lint.All(chartDir, map[string]any{}, namespace, false).Messages {
		if m.Severity >= support.WarningSev {
			problems = append(problems, m.Error())
		}
	}
	return problems
}

// namespaceOf is the name of the unit's Namespace object, or "default".
func namespaceOf(objs []object) string {
	for _, o := range objs {
		if o.data["kind"] == "Namespace" && o.data["apiVersion"] == "v1" {
			return o.data["metadata"].(map[string]any)["name"].(string)
		}
	}
	return "default"
}

func keys(objs []object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.key)
	}
	return ks
}

// compareSets reports the differences between want and got as sets of
// objects keyed by apiVersion, kind, namespace and name.
func compareSets(t *testing.T, u unit, tool string, want, got []object) {
	t.Helper()
	index := func(side string, objs []object) map[string]object {
		m := map[string]object{}
		for _, o := range objs {
			if prev, ok := m[o.key]; ok {
				t.Errorf("%s: %s has %s twice: %s and %s", u, side, o.key, prev.source, o.source)
			}
			m[o.key] = o
		}
		return m
	}
	w, g := index("the plain files", want), index(tool, got)
	for _, o := range want {
		other, ok := g[o.key]
		if !ok {
			t.Errorf("%s: %s output lacks %s", u, tool, o)
			continue
		}
		if d := cmp.Diff(o.data, other.data); d != "" {
			t.Errorf("%s: %s changes %s, rendered from %s (-plain +%s):\n%s", u, tool, o, other.source, tool, d)
		}
	}
	for _, o := range got {
		if _, ok := w[o.key]; !ok {
			t.Errorf("%s: %s output has %s, which the plain files do not", u, tool, o)
		}
	}
}

func TestToolsRenderUnitsUnchanged(t *testing.T) {
	checkDist(t, distDir(t))
}

// TestEscapedTemplates runs the same checks on a unit made for them: its
// values hold template syntax ({{ .Values.x }}, stray and doubled braces)
// that Helm must render verbatim.
func TestEscapedTemplates(t *testing.T) {
	dist, err := filepath.Abs(filepath.Join("testdata", "dist"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(findUnits(t, dist)); n != 1 {
		t.Fatalf("testdata/dist has %d units, want 1", n)
	}
	checkDist(t, dist)
}

func checkDist(t *testing.T, dist string) {
	units := findUnits(t, dist)
	if len(units) == 0 {
		t.Skipf("no deploy units (directories with a kustomization.yaml) under %s; run make synth", dist)
	}
	charts := packageCharts(t, dist)
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) {
			plain := plainObjects(t, u)
			t.Run("kustomize", func(t *testing.T) {
				got, logged, err := kustomizeObjects(u)
				if err != nil {
					t.Fatalf("%s: kustomize build: %v", u, err)
				}
				if logged != "" {
					t.Errorf("%s: kustomize warns, as kubectl apply -k would print:\n%s", u, logged)
				}
				compareSets(t, u, "kustomize", plain, got)
				if len(got) == 0 || got[0].data["kind"] != "Namespace" {
					t.Errorf("%s: kustomize does not apply the namespace first", u)
				}
			})
			t.Run("helm", func(t *testing.T) {
				got, err := helmObjects(filepath.Join(charts, u.name), namespaceOf(plain))
				if err != nil {
					t.Fatalf("%s: helm chart %s: %v", u, filepath.Join(charts, u.name), err)
				}
				compareSets(t, u, "helm", plain, got)
			})
			t.Run("helm-lint", func(t *testing.T) {
				for _, p := range helmLint(filepath.Join(charts, u.name), namespaceOf(plain)) {
					t.Errorf("%s: helm lint: %s", u, p)
				}
			})
		})
	}
}

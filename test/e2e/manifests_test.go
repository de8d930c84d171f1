package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// manifest is one Kubernetes object read from an app's output.
type manifest struct {
	file  string // path relative to the app directory
	doc   int    // 1-based document number in the file
	obj   *unstructured.Unstructured
	index int // position in apply order
}

// String names the object and where it came from, e.g.
// "jobs.yaml#2 batch/v1 Job ml/train".
func (m *manifest) String() string {
	name := m.obj.GetName()
	if ns := m.obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s#%d %s %s %s", m.file, m.doc, m.obj.GetAPIVersion(), m.obj.GetKind(), name)
}

// app is one deployable unit of dist/, read in apply order: files sorted by
// path, documents in file order.
type app struct {
	name      string // e.g. "seed", or "rag/prod" for one environment of an app
	dir       string
	manifests []*manifest
	skipped   []string // files and folders that hold no Kubernetes objects
}

// unit is one deployable directory of dist/: app is the top-level folder,
// env the path below it ("" when the app folder itself holds the manifests).
type unit struct {
	app, env, dir string
}

func (u unit) name() string {
	if u.env == "" {
		return u.app
	}
	return u.app + "/" + u.env
}

// discoverApps lists the deployable units of a dist directory. Each
// top-level folder is an app. A folder that holds manifest files itself is
// one unit (with everything below it); one that does not is split into its
// subfolders, e.g. dist/rag/dev and dist/rag/prod for an app synthesized per
// environment. A missing dist directory has no apps.
func discoverApps(dist string) ([]unit, error) {
	entries, err := os.ReadDir(dist)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var units []unit
	var walk func(app, env, dir string) error
	walk = func(app, env, dir string) error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		var subdirs []string
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			if e.IsDir() {
				subdirs = append(subdirs, name)
				continue
			}
			if isManifestFile(name) || name == "Chart.yaml" {
				units = append(units, unit{app: app, env: env, dir: dir})
				return nil
			}
		}
		for _, sd := range subdirs {
			if err := walk(app, strings.TrimPrefix(env+"/"+sd, "/"), filepath.Join(dir, sd)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			if err := walk(e.Name(), "", filepath.Join(dist, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	return units, nil
}

// isManifestFile reports whether a file name is one loadApp reads.
func isManifestFile(name string) bool {
	ext := filepath.Ext(name)
	return (ext == ".yaml" || ext == ".yml") && !strings.HasPrefix(name, ".") && !isKustomization(name)
}

// isKustomization reports whether a file name is one kustomize reads as its
// configuration rather than as a resource.
func isKustomization(name string) bool {
	switch name {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// loadApp reads every *.yaml / *.yml file under dir (recursively), skipping
// hidden entries, Helm chart folders (they hold templates, not objects) and
// kustomization files.
func loadApp(name, dir string) (*app, error) {
	a := &app{name: name, dir: dir}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "Chart.yaml")); err == nil {
				a.skipped = append(a.skipped, rel+"/ (Helm chart)")
				return filepath.SkipDir
			}
			return nil
		}
		if isKustomization(d.Name()) {
			a.skipped = append(a.skipped, rel+" (kustomization)")
			return nil
		}
		if !isManifestFile(d.Name()) {
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)

	var errs []error
	seen := map[string]*manifest{}
	for _, rel := range files {
		ms, isK8s, err := readManifests(filepath.Join(dir, rel), rel)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !isK8s {
			a.skipped = append(a.skipped, rel+" (no Kubernetes objects)")
			continue
		}
		for _, m := range ms {
			key := objectKey(m.obj)
			if prev, dup := seen[key]; dup {
				errs = append(errs, fmt.Errorf("%s: duplicate of %s: the later one would overwrite it", m, prev))
				continue
			}
			seen[key] = m
			m.index = len(a.manifests)
			a.manifests = append(a.manifests, m)
		}
	}
	return a, errors.Join(errs...)
}

// objectKey identifies an object as the API server does (group, kind,
// namespace, name), ignoring the version.
func objectKey(o *unstructured.Unstructured) string {
	gvk := o.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind + "/" + o.GetNamespace() + "/" + o.GetName()
}

// readManifests splits a YAML file into documents and returns the Kubernetes
// objects in it. A file none of whose documents has apiVersion and kind is not
// a manifest file (isK8s false); one that mixes objects with other documents
// is an error.
func readManifests(path, rel string) (ms []*manifest, isK8s bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var other []int
	for doc := 1; ; doc++ {
		raw, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("%s: document %d: %w", rel, doc, err)
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, false, fmt.Errorf("%s: document %d: %w", rel, doc, err)
		}
		js = bytes.TrimSpace(js)
		if len(js) == 0 || string(js) == "null" {
			doc-- // empty document (e.g. after a trailing ---): not counted
			continue
		}
		var content map[string]any
		if err := json.Unmarshal(js, &content); err != nil {
			other = append(other, doc) // a list or a scalar
			continue
		}
		obj := &unstructured.Unstructured{Object: content}
		if obj.GetAPIVersion() == "" || obj.GetKind() == "" || isToolConfig(obj) {
			other = append(other, doc)
			continue
		}
		if obj.IsList() {
			err := obj.EachListItem(func(item k8sruntime.Object) error {
				u, ok := item.(*unstructured.Unstructured)
				if !ok {
					return fmt.Errorf("unexpected list item %T", item)
				}
				ms = append(ms, &manifest{file: rel, doc: doc, obj: u})
				return nil
			})
			if err != nil {
				return nil, false, fmt.Errorf("%s: document %d: %w", rel, doc, err)
			}
			continue
		}
		ms = append(ms, &manifest{file: rel, doc: doc, obj: obj})
	}
	if len(ms) == 0 {
		return nil, false, nil
	}
	if len(other) > 0 {
		return nil, true, fmt.Errorf("%s: documents %v are not Kubernetes objects (no apiVersion/kind) but others in the file are", rel, other)
	}
	return ms, true, nil
}

// isToolConfig reports objects that configure tools rather than the cluster
// (kustomize components, KRM function configs), which carry apiVersion and kind
// too.
func isToolConfig(o *unstructured.Unstructured) bool {
	g := o.GroupVersionKind().Group
	return g == "kustomize.config.k8s.io" || g == "config.kubernetes.io"
}

package oracle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// A Finding is one way an object would fail on a kube-apiserver v1.36.3: a
// rejection, a warning, or a Pod Security "restricted" violation.
type Finding struct {
	// Source is the file or input and the document's index in it.
	Source string
	// Object is "Kind namespace/name", followed by the objects a controller
	// would create from it ("CronJob ns/a -> Job ns/a-29 -> Pod ns/a-29-x").
	Object string
	// Message says what the API server (or Pod Security) says.
	Message string
}

func (f Finding) String() string { return f.Source + ": " + f.Object + ": " + f.Message }

// Oracle checks objects as a kube-apiserver v1.36.3 does on create, in
// process: built-in kinds through their registry strategies, custom
// resources through the structural schemas of their CRDs.
type Oracle struct {
	crds map[schema.GroupVersionKind]*customResource
}

// New returns an oracle that knows the custom resources of the CRD files.
func New(crdFiles ...string) (*Oracle, error) {
	o := &Oracle{crds: map[schema.GroupVersionKind]*customResource{}}
	for _, f := range crdFiles {
		if err := o.loadCRDs(f); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return o, nil
}

// NewForRepo returns an oracle for stagecraft's output: it knows the CRDs
// in imports/crds of the checkout at root.
func NewForRepo(root string) (*Oracle, error) {
	files, err := filepath.Glob(filepath.Join(root, "imports", "crds", "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", filepath.Join(root, "imports", "crds"))
	}
	return New(files...)
}

// CheckFile checks every document of a YAML file.
func (o *Oracle) CheckFile(path string) (objects int, findings []Finding) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, []Finding{{Source: path, Message: err.Error()}}
	}
	return o.Check(path, data)
}

// Check checks every document of a YAML stream; source names it in the
// findings. It returns the number of objects checked (not counting those a
// controller would create from them).
func (o *Oracle) Check(source string, data []byte) (objects int, findings []Finding) {
	ids, findings := o.check(source, data)
	for _, id := range ids {
		if !id.created {
			objects++
		}
	}
	return objects, findings
}

// CheckFolder checks an output folder (file name to content) as one apply:
// every manifest, and that no two objects, including those the controllers
// create from them, are one object of the cluster. kustomization.yaml and
// files other than YAML are skipped. It returns the number of objects
// checked, as Check does.
func (o *Oracle) CheckFolder(files map[string][]byte) (objects int, findings []Finding) {
	var ids []objectID
	for _, name := range sortedNames(files) {
		if name == "kustomization.yaml" || !strings.HasSuffix(name, ".yaml") {
			continue
		}
		i, f := o.check(name, files[name])
		ids = append(ids, i...)
		findings = append(findings, f...)
	}
	for _, id := range ids {
		if !id.created {
			objects++
		}
	}
	return objects, append(findings, collisions(ids)...)
}

func (o *Oracle) check(source string, data []byte) (ids []objectID, findings []Finding) {
	docs, err := splitYAML(data)
	if err != nil {
		return nil, []Finding{{Source: source, Message: err.Error()}}
	}
	for i, doc := range docs {
		src := fmt.Sprintf("%s#%d", source, i)
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			findings = append(findings, Finding{Source: src, Message: "not strict YAML: " + err.Error()})
			continue
		}
		f, id := o.checkJSON(js, "")
		for _, x := range f {
			x.Source = src
			findings = append(findings, x)
		}
		for _, x := range id {
			x.source = src
			ids = append(ids, x)
		}
	}
	return ids, findings
}

// CheckJSON checks one object, and what a controller would create from it
// (the Job of a CronJob, the pods of a Job or a StatefulSet, the
// ReplicaSet and pods of a Deployment).
func (o *Oracle) CheckJSON(js []byte) []Finding {
	f, _ := o.checkJSON(js, "")
	return f
}

// objectID identifies an object in the cluster.
type objectID struct {
	group, kind, namespace, name string
	// path is how the object came to be (with the controllers' steps);
	// source the document it came from.
	path, source string
	// created is true for an object a controller creates.
	created bool
}

func (o *Oracle) checkJSON(js []byte, parent string) ([]Finding, []objectID) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(js, &tm); err != nil {
		return []Finding{{Object: parent, Message: "not an object: " + err.Error()}}, nil
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	name := tm.Kind + " " + tm.Metadata.Name
	if tm.Metadata.Namespace != "" {
		name = tm.Kind + " " + tm.Metadata.Namespace + "/" + tm.Metadata.Name
	}
	if parent != "" {
		name = parent + " -> " + name
	}
	var ids []objectID
	if tm.Metadata.Name != "" {
		ids = append(ids, objectID{group: gvk.Group, kind: gvk.Kind, namespace: tm.Metadata.Namespace,
			name: tm.Metadata.Name, path: name, created: parent != ""})
	}
	var msgs []string
	var created []child
	if cr, ok := o.crds[gvk]; ok {
		msgs = cr.check(js)
	} else {
		msgs, created = checkBuiltin(gvk, js)
	}
	var out []Finding
	for _, m := range msgs {
		out = append(out, Finding{Object: name, Message: m})
	}
	for _, c := range created {
		f, i := o.checkJSON(c.json, name)
		out = append(out, f...)
		ids = append(ids, i...)
	}
	return out, ids
}

// collisions finds objects that are one object of the cluster, and
// objects that replace one the cluster makes itself.
func collisions(ids []objectID) []Finding {
	var out []Finding
	seen := map[[4]string]objectID{}
	for _, id := range ids {
		key := [4]string{id.group, id.kind, id.namespace, id.name}
		if first, dup := seen[key]; dup {
			out = append(out, Finding{Source: id.source, Object: id.path,
				Message: fmt.Sprintf("is the same object as %s (%s): one replaces the other", first.path, first.source)})
			continue
		}
		seen[key] = id
		if id.group == "" && id.kind == "ServiceAccount" && id.name == "default" {
			out = append(out, Finding{Source: id.source, Object: id.path,
				Message: "replaces the namespace's default ServiceAccount, which the cluster creates and every pod without a service account runs as"})
		}
	}
	return out
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// child is an object a controller creates from a checked one.
type child struct{ json []byte }

// splitYAML returns the non-empty documents of a YAML stream.
func splitYAML(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		if isEmptyDoc(doc) {
			continue
		}
		docs = append(docs, doc)
	}
}

func isEmptyDoc(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && t != "---" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

// IsManifest tells whether a YAML file is a stream of Kubernetes objects
// (its first document has an apiVersion and a kind) rather than another
// kind of golden file (a diagram, a diff, messages).
func IsManifest(data []byte) bool {
	docs, err := splitYAML(data)
	if err != nil || len(docs) == 0 {
		return false
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if yaml.Unmarshal(docs[0], &tm) != nil {
		return false
	}
	return tm.APIVersion != "" && tm.Kind != ""
}

package stagetest

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// Manifest is the synthesized output of an app: its YAML and the
// Kubernetes objects in it, parsed, in file order.
type Manifest struct {
	// Files maps each chart's file name ("<chart>.k8s.yaml") to its YAML,
	// as synth.FilePerChart lays them out. Parse leaves it nil.
	Files map[string][]byte
	// Diagram is the Mermaid diagram of the app's pipelines (pipeline.md).
	// Parse leaves it empty.
	Diagram string
	// YAML is the whole output, the text that Golden compares. With one
	// chart it is that chart's file; with several, their files in name
	// order, each document stream headed by a "# Source: <file>" comment
	// and separated by "---".
	YAML []byte

	docs []doc
}

// doc is one YAML document of a manifest that holds an object.
type doc struct {
	obj   *unstructured.Unstructured
	text  string // the document's lines, without the separators
	start int    // line number of its first line in Manifest.YAML, from 1
}

// Parse reads a stream of YAML documents (separated by "---" lines) into a
// Manifest, for assertions on YAML that was not synthesized here: a
// hand-written snippet, or a file from dist/. Empty documents are skipped;
// any other document must be a Kubernetes object.
func Parse(yamlText []byte) (*Manifest, error) {
	docs, err := parseDocs(yamlText)
	if err != nil {
		return nil, err
	}
	return &Manifest{YAML: yamlText, docs: docs}, nil
}

func newManifest(files map[string][]byte) (*Manifest, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var all []byte
	switch len(names) {
	case 0:
	case 1:
		all = files[names[0]]
	default:
		var b bytes.Buffer
		for i, n := range names {
			if i > 0 {
				b.WriteString("---\n")
			}
			fmt.Fprintf(&b, "# Source: %s\n", n)
			b.Write(files[n])
			if l := len(files[n]); l > 0 && files[n][l-1] != '\n' {
				b.WriteByte('\n')
			}
		}
		all = b.Bytes()
	}
	m, err := Parse(all)
	if err != nil {
		return nil, err
	}
	m.Files = files
	return m, nil
}

var separator = regexp.MustCompile(`^---(\s|$)`)

// splitDocs splits a YAML stream into documents: their text and the line
// number of their first line.
func splitDocs(text string) (texts []string, starts []int) {
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var cur strings.Builder
	start := 1
	for i, l := range lines {
		if separator.MatchString(l) {
			texts, starts = append(texts, cur.String()), append(starts, start)
			cur.Reset()
			start = i + 2
			if rest := strings.TrimSpace(l[3:]); rest != "" && !strings.HasPrefix(rest, "#") {
				cur.WriteString(rest + "\n")
				start = i + 1
			}
			continue
		}
		cur.WriteString(l)
	}
	return append(texts, cur.String()), append(starts, start)
}

func parseDocs(yamlText []byte) ([]doc, error) {
	texts, starts := splitDocs(strings.ReplaceAll(string(yamlText), "\r\n", "\n"))
	var docs []doc
	for i, text := range texts {
		j, err := yaml.YAMLToJSON([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("document at line %d: %w", starts[i], err)
		}
		if s := string(bytes.TrimSpace(j)); s == "null" || s == "" {
			continue
		}
		var obj map[string]any
		if err := utiljson.Unmarshal(j, &obj); err != nil {
			return nil, fmt.Errorf("document at line %d is not an object: %w", starts[i], err)
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() == "" {
			return nil, fmt.Errorf("document at line %d has no kind", starts[i])
		}
		docs = append(docs, doc{obj: u, text: text, start: starts[i]})
	}
	return docs, nil
}

// Objects returns the objects of the given kind ("Deployment"), or every
// object when kind is "", in file order. The objects are the manifest's
// own: a test that changes one changes the manifest.
func (m *Manifest) Objects(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, d := range m.docs {
		if kind == "" || d.obj.GetKind() == kind {
			out = append(out, d.obj)
		}
	}
	return out
}

// Find returns the object of that kind, namespace and name; namespace is ""
// for a cluster-scoped object such as a Namespace. If there is none, Find
// fails the test with a list of the objects there are.
func (m *Manifest) Find(t testing.TB, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	for _, d := range m.docs {
		o := d.obj
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	var have strings.Builder
	for _, d := range m.docs {
		have.WriteString("\n\t" + Describe(d.obj))
	}
	if have.Len() == 0 {
		have.WriteString(" none")
	}
	t.Fatalf("stagetest: no %s in the manifest; objects:%s", describe(kind, namespace, name), have.String())
	return nil
}

// FindStage returns the object of that kind and namespace that belongs to
// the stage (its app.kubernetes.io/name label), whatever its name: a
// BatchStage's Job is named after its run, "<stage>-<digest>". If there is
// none, or more than one, FindStage fails the test.
func (m *Manifest) FindStage(t testing.TB, kind, namespace, stage string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, d := range m.docs {
		o := d.obj
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetLabels()[stageLabel] == stage {
			found = append(found, o)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	var have strings.Builder
	for _, d := range m.docs {
		have.WriteString("\n\t" + Describe(d.obj))
	}
	t.Fatalf("stagetest: %d objects of kind %s of stage %s in namespace %q; objects:%s", len(found), kind, stage, namespace, have.String())
	return nil
}

// stageLabel names the stage an object belongs to.
const stageLabel = "app.kubernetes.io/name"

// Describe names an object as the kit's messages do: its kind, then
// namespace/name, or only the name when it is cluster-scoped
// ("Deployment ai-pipeline/data-processor", "Namespace ai-pipeline").
func Describe(obj *unstructured.Unstructured) string {
	return describe(obj.GetKind(), obj.GetNamespace(), obj.GetName())
}

func describe(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// Get returns the value at path in obj, or fails the test naming the object
// and the part of the path that is missing. See Lookup for the path syntax
// and the types of the values.
func (m *Manifest) Get(t testing.TB, obj *unstructured.Unstructured, path string) any {
	t.Helper()
	v, err := Lookup(obj.Object, path)
	if err != nil {
		t.Fatalf("stagetest: %s: %v", Describe(obj), err)
		return nil
	}
	return v
}

// Lookup returns the value at path in obj. A path is a chain of field
// names separated by dots, list indices in brackets, and quoted keys in
// brackets for keys that contain dots or slashes:
//
//	spec.template.spec.containers[0].image
//	metadata.labels["app.kubernetes.io/name"]
//
// Values are as JSON decodes them, except that whole numbers are int64:
// string, int64, float64, bool, nil, map[string]any or []any.
func Lookup(obj map[string]any, path string) (any, error) {
	steps, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	var cur any = obj
	done := ""
	for _, s := range steps {
		at := done
		if at == "" {
			at = "the object"
		}
		switch v := cur.(type) {
		case map[string]any:
			if s.index >= 0 {
				return nil, fmt.Errorf("path %q: %s is a map, not a list; no [%d]", path, at, s.index)
			}
			next, ok := v[s.key]
			if !ok {
				return nil, fmt.Errorf("path %q: %s has no field %q (fields: %s)", path, at, s.key, keys(v))
			}
			cur = next
		case []any:
			if s.index < 0 {
				return nil, fmt.Errorf("path %q: %s is a list, not a map; no field %q", path, at, s.key)
			}
			if s.index >= len(v) {
				return nil, fmt.Errorf("path %q: %s has %d items; no [%d]", path, at, len(v), s.index)
			}
			cur = v[s.index]
		default:
			return nil, fmt.Errorf("path %q: %s is %v (%T), not a map or a list", path, at, v, v)
		}
		done += s.text
	}
	return cur, nil
}

func keys(m map[string]any) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) == 0 {
		return "none"
	}
	return strings.Join(ks, ", ")
}

// step is one step of a path: a key, or an index when index >= 0.
type step struct {
	key   string
	index int
	text  string // as written, for messages
}

func parsePath(path string) ([]step, error) {
	var steps []step
	i := 0
	dotted := false
	bad := func(msg string) ([]step, error) {
		return nil, fmt.Errorf("path %q: %s at offset %d", path, msg, i)
	}
	for i < len(path) {
		switch c := path[i]; {
		case c == '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				return bad("unclosed [")
			}
			in := path[i+1 : i+end]
			if len(in) >= 2 && (in[0] == '"' || in[0] == '\'') && in[len(in)-1] == in[0] {
				steps = append(steps, step{key: in[1 : len(in)-1], index: -1, text: path[i : i+end+1]})
			} else if n, err := strconv.Atoi(in); err == nil && n >= 0 {
				steps = append(steps, step{index: n, text: path[i : i+end+1]})
			} else {
				return bad("want [N] or [\"key\"]")
			}
			if dotted {
				return bad("want a field name after .")
			}
			i += end + 1
		case c == '.' && len(steps) > 0:
			if dotted {
				return bad("empty field name")
			}
			i++
			dotted = true
		default:
			if len(steps) > 0 && !dotted {
				return bad("want . or [")
			}
			dotted = false
			j := i
			for j < len(path) && path[j] != '.' && path[j] != '[' {
				j++
			}
			if j == i {
				return bad("empty field name")
			}
			text := path[i:j]
			if len(steps) > 0 {
				text = "." + text
			}
			steps = append(steps, step{key: path[i:j], index: -1, text: text})
			i = j
		}
	}
	if dotted {
		return bad("want a field name after .")
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("path %q is empty", path)
	}
	return steps, nil
}

package synth

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
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// MaxPreviousFileBytes is the largest manifest file of a previous output
// that the upgrade check reads: 64 MiB (an API server stores objects of
// at most about 1.5 MB). A larger file is a problem naming it.
const MaxPreviousFileBytes = 64 << 20

// prevGroup is the previous output of one folder of an app: the app's
// folder itself (env "") or the folder of one environment.
type prevGroup struct {
	env  string
	docs map[objectKey]*prevDoc
}

// previousApp reads the whole previous output of an app, whatever layout
// wrote it: the manifests in its folder (MainChart, Main) and those in
// each of its subfolders (MainEnvironments), so that a change of layout
// is checked like any other. A folder that does not exist has none. A
// manifest that the output's kustomization.yaml or MarkerFile lists and
// that is gone, empty or shorter than synth wrote it is an error: its
// objects would be missing from the check, and pruned unchecked.
func previousApp(dir string) ([]prevGroup, error) {
	counts := map[string]int{}
	top, err := previousObjects(dir, "", counts)
	if err != nil || top == nil {
		return nil, err
	}
	groups := []prevGroup{{docs: top}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		docs, err := previousObjects(filepath.Join(dir, e.Name()), e.Name()+"/", counts)
		if err != nil {
			return nil, fmt.Errorf("%s/%w", e.Name(), err)
		}
		groups = append(groups, prevGroup{env: e.Name(), docs: docs})
	}
	if err := checkComplete(dir, counts); err != nil {
		return nil, err
	}
	return groups, nil
}

// checkComplete compares the documents of each manifest read (counts, by
// path in dir) with those MarkerFile says synth wrote.
func checkComplete(dir string, counts map[string]int) error {
	want, err := markerCounts(dir)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var problems []string
	for _, p := range paths {
		got, ok := counts[p]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is missing: synth wrote it with %d documents (%s lists it)", p, want[p], MarkerFile))
		case got < want[p]:
			problems = append(problems, fmt.Sprintf("%s holds %d documents, %d when synth wrote it (%s): it was cut short or documents were removed", p, got, want[p], MarkerFile))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// previousObjects reads the documents of a previous output folder: every
// YAML document of its *.yaml and *.yml files, but the kustomization, by
// the object each holds. A folder that does not exist has none. An entry
// that is neither a regular file nor a folder (a link, a FIFO, a device, a
// socket) is an error: synth writes none, and reads none. counts gets the
// number of documents of each manifest, by prefix and file name; a
// manifest that the folder's kustomization.yaml lists and that is missing
// or empty is an error.
func previousObjects(dir, prefix string, counts map[string]int) (map[objectKey]*prevDoc, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[objectKey]*prevDoc{}
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() && !e.IsDir() {
			return nil, fmt.Errorf("%s is %s, which synth never writes: remove it (synth reads and replaces only the regular files and folders it wrote)", n, describeMode(e.Type()))
		}
		if e.IsDir() || !isManifest(n) {
			continue
		}
		data, err := readPrevious(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		counts[prefix+n] = documentCount(data)
		if err := splitDocuments(n, data, out); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
	}
	return out, listedManifests(dir, prefix, counts)
}

// listedManifests returns an error unless every manifest that the
// kustomization.yaml synth wrote in dir lists was read (is in counts) and
// holds a document.
func listedManifests(dir, prefix string, counts map[string]int) error {
	if !generatedKustomization(dir) {
		return nil
	}
	data, err := readPrevious(filepath.Join(dir, KustomizationFile))
	if err != nil {
		return fmt.Errorf("%s: %w", KustomizationFile, err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	j, err := yaml.YAMLToJSONStrict(data)
	if err == nil {
		err = json.Unmarshal(j, &k)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", KustomizationFile, err)
	}
	var problems []string
	for _, r := range k.Resources {
		switch n, ok := counts[prefix+r]; {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s lists %s, which is missing", KustomizationFile, r))
		case n == 0:
			problems = append(problems, fmt.Sprintf("%s lists %s, which is empty (no document)", KustomizationFile, r))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; ") + ": synth wrote every file it lists with its objects")
	}
	return nil
}

// readPrevious reads a regular file of at most MaxPreviousFileBytes,
// without following a link or waiting on a FIFO.
func readPrevious(path string) ([]byte, error) {
	f, err := openPrevious(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("it is %s, not a regular file", describeMode(fi.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxPreviousFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxPreviousFileBytes {
		return nil, fmt.Errorf("it is larger than %d bytes (MaxPreviousFileBytes), more than synth writes", MaxPreviousFileBytes)
	}
	return data, nil
}

// splitDocuments adds the documents of a YAML stream to out. The key of a
// document written as stagecraft writes YAML is read off its lines (the
// document is decoded when a rule needs it); any other document is
// decoded. Git conflict markers and a file cut short are errors.
func splitDocuments(file string, data []byte, out map[objectKey]*prevDoc) error {
	if err := damaged(data); err != nil {
		return err
	}
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		if len(doc) > 0 && doc[len(doc)-1] != '\n' {
			doc = append(doc[:len(doc):len(doc)], '\n')
		}
		doc = bytes.TrimPrefix(doc, []byte("---\n"))
		if k, ok := scanKey(doc); ok {
			if err := addDoc(out, k, &prevDoc{file: file, text: doc}); err != nil {
				return fmt.Errorf("document %d: %w", i+1, err)
			}
			continue
		}
		objs := map[objectKey]*unstructured.Unstructured{}
		if err := decodeObjects(doc, objs); err != nil {
			return fmt.Errorf("document %d: %w", i+1, err)
		}
		for k, o := range objs {
			if err := addDoc(out, k, &prevDoc{file: file, text: doc, obj: o}); err != nil {
				return fmt.Errorf("document %d: %w", i+1, err)
			}
		}
	}
	return nil
}

// addDoc adds the document d of object k to out; an object that is in
// the folder twice (a copied file) is an error, as kustomize refuses it.
func addDoc(out map[objectKey]*prevDoc, k objectKey, d *prevDoc) error {
	if prev, dup := out[k]; dup {
		return fmt.Errorf("%s is in the folder twice (also in %s): kustomize refuses such a folder; remove the copy", k, prev.file)
	}
	out[k] = d
	return nil
}

// damaged finds what no file synth wrote holds: git conflict markers, and
// an end that is not the end of a line (a file cut short).
func damaged(data []byte) error {
	for _, m := range []string{"<<<<<<<", "=======", ">>>>>>>"} {
		i := bytes.Index(data, []byte("\n"+m))
		if bytes.HasPrefix(data, []byte(m)) {
			i = 0
		} else if i >= 0 {
			i++
		}
		if i >= 0 {
			line := 1 + bytes.Count(data[:i], []byte("\n"))
			return fmt.Errorf("line %d starts with a git conflict marker (%s): resolve the conflict, or restore the file", line, m)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return errors.New("the file does not end with a newline, as every file synth writes does: it was cut short (truncated) or edited by hand")
	}
	return nil
}

// scanKey reads the key of a document from its top-level apiVersion and
// kind lines and the name and namespace lines of its metadata, if they
// are plain scalars.
func scanKey(doc []byte) (objectKey, bool) {
	var apiVersion, kind, name, namespace string
	inMeta := false
	seen := map[string]bool{} // the lines of the key read, by key
	for _, line := range strings.Split(string(doc), "\n") {
		if k, _, _ := strings.Cut(line, ":"); keyLines[k] && (inMeta || k[0] != ' ') {
			if seen[k] {
				return objectKey{}, false // a key twice: decoded, and refused
			}
			seen[k] = true
		}
		switch {
		case strings.HasPrefix(line, "apiVersion: "):
			apiVersion = line[len("apiVersion: "):]
		case strings.HasPrefix(line, "kind: "):
			kind = line[len("kind: "):]
		case line == "metadata:":
			inMeta = true
		case inMeta && strings.HasPrefix(line, "  name: "):
			name = line[len("  name: "):]
		case inMeta && strings.HasPrefix(line, "  namespace: "):
			namespace = line[len("  namespace: "):]
		case len(line) > 0 && line[0] != ' ':
			inMeta = false
		}
	}
	for _, v := range []string{apiVersion, kind, name, namespace} {
		if strings.ContainsAny(v, "\"'{[&*!|>%@`#") {
			return objectKey{}, false
		}
	}
	return keyOf(apiVersion, kind, namespace, name), kind != "" && name != ""
}

// keyLines are the keys of the lines scanKey reads a document's key from.
var keyLines = map[string]bool{"apiVersion": true, "kind": true, "metadata": true, "  name": true, "  namespace": true}

// decodeObjects adds the objects of a YAML stream to out. A document
// with a key twice in one mapping is an error (sigs.k8s.io/yaml's strict
// mode): a reader would keep one of the two, and which one is not ours to
// guess (a claim whose kind was overwritten by a second kind line once
// passed for a ConfigMap).
func decodeObjects(data []byte, out map[objectKey]*unstructured.Unstructured) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			return err
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetName() == "" {
			return errors.New("a document has no kind or no metadata.name: it is not a whole Kubernetes object")
		}
		out[keyOf(u.GetAPIVersion(), u.GetKind(), u.GetNamespace(), u.GetName())] = u
	}
}

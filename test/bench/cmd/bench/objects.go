package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// readObjects parses every *.yaml file directly in dir (in name order) as a
// stream of YAML documents, skipping stagecraft's kustomization, and
// returns the objects in JSON form.
func readObjects(dir string) ([]any, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []any
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		objs, err := readYAMLFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no objects in %s", dir)
	}
	return out, nil
}

func readYAMLFile(path string) ([]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := k8syaml.NewYAMLReader(bufio.NewReaderSize(f, 1<<20))
	var out []any
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var o any
		if err := json.Unmarshal(j, &o); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if o != nil {
			out = append(out, o)
		}
	}
}

// objectName is "Kind namespace/name".
func objectName(o any) string {
	m, _ := o.(map[string]any)
	md, _ := m["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	name, _ := md["name"].(string)
	return fmt.Sprintf("%v %s/%s", m["kind"], ns, name)
}

// compareObjects compares two lists of objects as sets (order does not
// matter) and describes each difference, at most max of them.
func compareObjects(want, got []any, max int) []string {
	key := func(o any) string { return objectName(o) }
	wm := map[string]any{}
	for _, o := range want {
		wm[key(o)] = o
	}
	gm := map[string]any{}
	var diffs []string
	add := func(s string) {
		if len(diffs) < max {
			diffs = append(diffs, s)
		} else if len(diffs) == max {
			diffs = append(diffs, "...")
		}
	}
	if len(wm) != len(want) {
		add(fmt.Sprintf("the reference has %d objects but only %d distinct kind/namespace/name keys", len(want), len(wm)))
	}
	for _, o := range got {
		k := key(o)
		if _, dup := gm[k]; dup {
			add("written twice: " + k)
		}
		gm[k] = o
		w, ok := wm[k]
		if !ok {
			add("extra object: " + k)
			continue
		}
		if p := firstDiff(w, o, ""); p != "" {
			add(k + ": " + p)
		}
	}
	var missing []string
	for k := range wm {
		if _, ok := gm[k]; !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		add("missing object: " + k)
	}
	return diffs
}

// firstDiff returns the path of the first difference between a and b and
// the two values there, or "".
func firstDiff(a, b any, at string) string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if d := firstDiff(av[k], bv[k], at+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			break
		}
		for i := range av {
			if d := firstDiff(av[i], bv[i], fmt.Sprintf("%s[%d]", at, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if reflect.DeepEqual(a, b) {
		return ""
	}
	return fmt.Sprintf("%s: reference %s, got %s", strings.TrimPrefix(at, "."), short(a), short(b))
}

func short(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

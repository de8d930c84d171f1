package argo

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"
)

// subsetCRDs is the hand-written subset of Argo's CRDs that `cdk8s
// import` generates the library's bindings from.
var subsetCRDs = filepath.Join("..", "..", "imports", "crds", "argo-workflows.yaml")

// TestSubsetCRDsMatchUpstream checks that every field of the subset CRDs
// exists in the pinned module's CRDs (full schemas) with a compatible
// type, and that the subset declares every field upstream requires of an
// object it declares: the library's bindings can write nothing Argo does
// not accept, and leave out nothing Argo needs.
func TestSubsetCRDsMatchUpstream(t *testing.T) {
	upstream := map[string]map[string]any{}
	for _, f := range upstreamCRDs(t) {
		for _, d := range parseFile(t, f) {
			upstream[d.obj.GetName()] = d.obj.Object
		}
	}
	subset := parseFile(t, subsetCRDs)
	if len(subset) == 0 {
		t.Fatalf("no CRDs in %s", subsetCRDs)
	}
	for _, d := range subset {
		name := d.obj.GetName()
		up, ok := upstream[name]
		if !ok {
			t.Errorf("%s: no upstream CRD of that name", name)
			continue
		}
		var problems []string
		compareSchema(name, true, schemaOf(t, d.obj.Object), schemaOf(t, up), &problems)
		for _, p := range problems {
			t.Error(p)
		}
		t.Logf("subset CRD %s: %d fields, each in the upstream CRD (Argo Workflows v4.0.5, full schema)", name, countFields(schemaOf(t, d.obj.Object)))
	}
}

// schemaOf returns the openAPIV3Schema of a CRD's one version.
func schemaOf(t *testing.T, crd map[string]any) map[string]any {
	t.Helper()
	versions, _ := dig(crd, "spec", "versions").([]any)
	if len(versions) != 1 {
		t.Fatalf("CRD %v: want one version, got %d", dig(crd, "metadata", "name"), len(versions))
	}
	s, _ := dig(versions[0], "schema", "openAPIV3Schema").(map[string]any)
	return s
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// compareSchema checks the subset schema sub against upstream up at path;
// root is the object itself.
func compareSchema(path string, root bool, sub, up map[string]any, problems *[]string) {
	fail := func(format string, args ...any) {
		*problems = append(*problems, path+": "+fmt.Sprintf(format, args...))
	}
	if up == nil {
		fail("not in the upstream CRD")
		return
	}
	if !compatible(sub, up) {
		fail("type %v (x-kubernetes-preserve-unknown-fields %v) is not compatible with upstream %v", sub["type"], sub["x-kubernetes-preserve-unknown-fields"], typeOf(up))
		return
	}
	if sub["x-kubernetes-preserve-unknown-fields"] == true {
		return // kept open: filled with typed k8s.io/api values
	}
	props, _ := sub["properties"].(map[string]any)
	upProps, _ := up["properties"].(map[string]any)
	for _, k := range sortedKeys(props) {
		s, _ := props[k].(map[string]any)
		u, _ := upProps[k].(map[string]any)
		compareSchema(path+"."+k, false, s, u, problems)
	}
	if len(props) > 0 {
		declared := map[string]bool{}
		for _, r := range asStrings(sub["required"]) {
			declared[r] = true
		}
		for _, r := range asStrings(up["required"]) {
			if r == "metadata" && root {
				continue // the object's metadata: cdk8s writes it
			}
			if !declared[r] {
				fail("upstream requires %q; the subset must declare it as required", r)
			}
		}
	}
	if items, ok := sub["items"].(map[string]any); ok {
		upItems, _ := up["items"].(map[string]any)
		compareSchema(path+"[]", false, items, upItems, problems)
	}
	if ap, ok := sub["additionalProperties"].(map[string]any); ok {
		upAP, _ := up["additionalProperties"].(map[string]any)
		compareSchema(path+"{}", false, ap, upAP, problems)
	}
}

// compatible reports whether every value the subset's schema allows, the
// upstream schema allows too (as far as types go).
func compatible(sub, up map[string]any) bool {
	st, ut := sub["type"], typeOf(up)
	switch {
	case up["x-kubernetes-int-or-string"] == true:
		return st == "integer" || st == "string"
	case sub["x-kubernetes-preserve-unknown-fields"] == true:
		return ut == "object" || up["x-kubernetes-preserve-unknown-fields"] == true
	}
	return st == ut
}

func typeOf(s map[string]any) any {
	if t, ok := s["type"]; ok {
		return t
	}
	if s["x-kubernetes-int-or-string"] == true {
		return "int-or-string"
	}
	return nil
}

func countFields(s map[string]any) int {
	n := 0
	props, _ := s["properties"].(map[string]any)
	for _, p := range props {
		n++
		n += countFields(p.(map[string]any))
	}
	if items, ok := s["items"].(map[string]any); ok {
		n += countFields(items)
	}
	return n
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

package synth

import (
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// statefulSetRule checks a StatefulSet: the API server refuses a change of
// any field but replicas, ordinals, template, updateStrategy,
// revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and
// minReadySeconds.
func statefulSetRule(k objectKey, old, new *unstructured.Unstructured) []finding {
	orphan := fmt.Sprintf("delete the StatefulSet but not its pods and claims (kubectl delete statefulset %s -n %s --cascade=orphan), then apply: the new StatefulSet adopts the running pods", k.name, k.namespace)
	out := immutable(old, new, orphan, "spec", "selector")
	out = append(out, immutable(old, new, orphan, "spec", "serviceName")...)
	if o, n := orderedReady(at(old, "spec", "podManagementPolicy")), orderedReady(at(new, "spec", "podManagementPolicy")); o != n {
		out = append(out, finding{field: "spec.podManagementPolicy", accept: "spec.podManagementPolicy", old: o, new: n, fix: orphan,
			why: "the API server refuses to change a StatefulSet's podManagementPolicy"})
	}
	return append(out, claimTemplates(k, old, new, orphan)...)
}

func orderedReady(v any) any {
	if v == nil {
		return "OrderedReady"
	}
	return v
}

// claimTemplates compares the volume claim templates of a StatefulSet, by
// name.
func claimTemplates(k objectKey, old, new *unstructured.Unstructured, orphan string) []finding {
	oldT, newT := templatesByName(old), templatesByName(new)
	var out []finding
	for _, name := range templateNames(old, new) {
		o, n := oldT[name], newT[name]
		fld := fmt.Sprintf("spec.volumeClaimTemplates[%s]", name)
		claims := fmt.Sprintf("%s-%s-<replica>", name, k.name)
		switch {
		case o == nil:
			out = append(out, finding{field: fld, accept: fld, new: size(n), fix: orphan + "; each replica gets a new claim " + claims,
				why: "the API server refuses changes to a StatefulSet's volumeClaimTemplates"})
		case n == nil:
			out = append(out, finding{field: fld, accept: fld, old: size(o), fix: orphan + "; the claims " + claims + " stay with their data: delete them when it is no longer needed",
				why: "the API server refuses changes to a StatefulSet's volumeClaimTemplates"})
		default:
			out = append(out, templateChange(k, fld, claims, o, n, orphan)...)
		}
	}
	return out
}

// templateChange compares one claim template kept from the previous
// output.
func templateChange(k objectKey, fld, claims string, o, n map[string]any, orphan string) []finding {
	why := "the API server refuses changes to a StatefulSet's volumeClaimTemplates"
	oldSize, newSize := size(o), size(n)
	if oldSize != newSize {
		fix := fmt.Sprintf("grow each replica's claim (kubectl patch pvc %s -n %s --type merge -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"%v\"}}}}'; its StorageClass must allow volume expansion), then %s", claims, k.namespace, newSize, orphan)
		if len(shrink(oldSize, newSize, "", "")) > 0 {
			fix = "claims cannot shrink: add a template of another name with the new size, copy the data, then remove the old one"
		}
		return []finding{{field: fld + ".spec.resources.requests.storage", accept: fld, old: oldSize, new: newSize, why: why, fix: fix}}
	}
	os, _, _ := unstructured.NestedMap(o, "spec")
	nsp, _, _ := unstructured.NestedMap(n, "spec")
	if reflect.DeepEqual(os, nsp) {
		return nil
	}
	first := differences(fld+".spec", os, nsp)[0]
	return []finding{{field: first.path, accept: fld, old: first.old, new: first.new, why: why,
		fix: orphan + "; the existing claims " + claims + " keep their old settings: delete a claim (and its data) to have it created anew"}}
}

// templatesByName returns the claim templates of a StatefulSet by name.
func templatesByName(u *unstructured.Unstructured) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _, _ := unstructured.NestedSlice(u.Object, "spec", "volumeClaimTemplates")
	for _, t := range list {
		m, ok := t.(map[string]any)
		if !ok {
			continue
		}
		name, _, _ := unstructured.NestedString(m, "metadata", "name")
		out[name] = m
	}
	return out
}

// templateNames returns the names of the claim templates of either side,
// old ones first.
func templateNames(old, new *unstructured.Unstructured) []string {
	var names []string
	seen := map[string]bool{}
	for _, u := range []*unstructured.Unstructured{old, new} {
		list, _, _ := unstructured.NestedSlice(u.Object, "spec", "volumeClaimTemplates")
		for _, t := range list {
			m, _ := t.(map[string]any)
			name, _, _ := unstructured.NestedString(m, "metadata", "name")
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	return names
}

func size(t map[string]any) any {
	v, _, _ := unstructured.NestedFieldNoCopy(t, "spec", "resources", "requests", "storage")
	return v
}

package synth

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The rules of the upgrade check, after the API server's own update
// validation (k8s.io/kubernetes/pkg/apis/*/validation, v1.36): for each
// kind, the fields an update may not change. The real-cluster tests prove
// each rule against a kube-apiserver.

// rule checks an object kept from the previous output.
type rule func(k objectKey, old, new *unstructured.Unstructured) []finding

// rules holds the rule of each kind, by "group/kind".
var rules = map[string]rule{
	"apps/Deployment":                       selectorRule,
	"apps/DaemonSet":                        selectorRule,
	"apps/ReplicaSet":                       selectorRule,
	"apps/StatefulSet":                      statefulSetRule,
	"batch/Job":                             jobRule,
	"/Service":                              serviceRule,
	"/PersistentVolumeClaim":                claimRule,
	"/PersistentVolume":                     volumeRule,
	"rbac.authorization.k8s.io/RoleBinding": roleRefRule,
	"rbac.authorization.k8s.io/ClusterRoleBinding": roleRefRule,
}

// changed checks an object kept from the previous output whose text
// changed.
func changed(k objectKey, old *prevDoc, o stagecraft.Object) ([]finding, error) {
	r, ok := rules[k.group+"/"+k.kind]
	if !ok {
		return nil, nil
	}
	next := map[objectKey]*unstructured.Unstructured{}
	if err := decodeObjects(o.YAML, next); err != nil || len(next) != 1 {
		return nil, nil // stagecraft wrote the YAML: it decodes
	}
	prev, err := old.object()
	if err != nil {
		return nil, err
	}
	for _, n := range next {
		return r(k, prev, n), nil
	}
	return nil, nil
}

// at returns the value at a field path of an object.
func at(u *unstructured.Unstructured, path ...string) any {
	v, _, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
	return v
}

// immutable reports a field that differs, by the first of its leaves that
// does.
func immutable(old, new *unstructured.Unstructured, fix string, path ...string) []finding {
	o, n := at(old, path...), at(new, path...)
	if reflect.DeepEqual(o, n) {
		return nil
	}
	fld := strings.Join(path, ".")
	leaves := differences(fld, o, n)
	why := "the API server refuses the change: " + fld + " is immutable"
	if len(leaves) > 1 {
		why += fmt.Sprintf(" (%d of its fields differ; the first is shown)", len(leaves))
	}
	first := leaves[0]
	return []finding{{field: first.path, accept: fld, old: first.old, new: first.new, why: why, fix: fix}}
}

// leaf is a difference between two values at a field path.
type leaf struct {
	path     string
	old, new any
}

// differences lists the paths below path at which o and n differ, in a
// stable order.
func differences(path string, o, n any) []leaf {
	om, oIsMap := o.(map[string]any)
	nm, nIsMap := n.(map[string]any)
	if oIsMap && nIsMap {
		var keys []string
		for k := range om {
			keys = append(keys, k)
		}
		for k := range nm {
			if _, ok := om[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var out []leaf
		for _, k := range keys {
			if !reflect.DeepEqual(om[k], nm[k]) {
				out = append(out, differences(path+"."+k, om[k], nm[k])...)
			}
		}
		return out
	}
	ol, oIsList := o.([]any)
	nl, nIsList := n.([]any)
	if oIsList && nIsList && len(ol) == len(nl) {
		var out []leaf
		for i := range ol {
			if !reflect.DeepEqual(ol[i], nl[i]) {
				out = append(out, differences(fmt.Sprintf("%s[%d]", path, i), ol[i], nl[i])...)
			}
		}
		return out
	}
	return []leaf{{path: path, old: o, new: n}}
}

func deleteAndApply(k objectKey, what string) string {
	return fmt.Sprintf("delete the %s (kubectl delete %s %s -n %s%s), then apply", k.kind, strings.ToLower(k.kind), k.name, k.namespace, what)
}

func selectorRule(k objectKey, old, new *unstructured.Unstructured) []finding {
	return immutable(old, new, deleteAndApply(k, "; its pods are replaced"), "spec", "selector")
}

func jobRule(k objectKey, old, new *unstructured.Unstructured) []finding {
	fix := deleteAndApply(k, "; the Job runs again") + ", or let the stage name its Job after its run (no FixedJobName)"
	var out []finding
	for _, f := range []string{"template", "completions", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "selector", "successPolicy", "managedBy"} {
		out = append(out, immutable(old, new, fix, "spec", f)...)
	}
	// Kueue's webhook refuses a change to these labels while the Job is not
	// suspended, so once Kueue admitted it, and for ever after it finished.
	for _, l := range []string{"kueue.x-k8s.io/queue-name", "kueue.x-k8s.io/priority-class"} {
		if o, n := at(old, "metadata", "labels", l), at(new, "metadata", "labels", l); !reflect.DeepEqual(o, n) {
			fld := "metadata.labels[" + l + "]"
			out = append(out, finding{field: fld, accept: fld, old: o, new: n, fix: fix,
				why: "Kueue's webhook refuses the change: the label is immutable while the Job is not suspended"})
		}
	}
	return out
}

func serviceRule(k objectKey, old, new *unstructured.Unstructured) []finding {
	fix := deleteAndApply(k, "; clients see a short gap while it is recreated")
	out := immutable(old, new, fix, "spec", "clusterIP")
	oldType, newType := at(old, "spec", "type"), at(new, "spec", "type")
	if (oldType == "ExternalName") != (newType == "ExternalName") {
		out = append(out, finding{field: "spec.type", accept: "spec.type", old: oldType, new: newType, fix: fix,
			why: "the API server refuses a change to or from ExternalName that keeps the cluster IP"})
	}
	return append(out, immutable(old, new, fix, "spec", "ipFamilies")...)
}

func roleRefRule(k objectKey, old, new *unstructured.Unstructured) []finding {
	return immutable(old, new, deleteAndApply(k, ""), "roleRef")
}

func volumeRule(k objectKey, old, new *unstructured.Unstructured) []finding {
	fix := "delete the PersistentVolume (its data stays: reclaim policy Retain) and its claim, then apply to bind them again"
	var out []finding
	for _, src := range []string{"nfs", "csi", "hostPath", "local", "iscsi", "fc"} {
		out = append(out, immutable(old, new, fix, "spec", src)...)
	}
	return append(out, immutable(old, new, fix, "spec", "volumeMode")...)
}

// claimRule checks a PersistentVolumeClaim: only its requested size may
// change, and only grow.
func claimRule(k objectKey, old, new *unstructured.Unstructured) []finding {
	fix := fmt.Sprintf("copy the data out, delete the claim (kubectl delete pvc %s -n %s: its data is lost unless the volume's reclaim policy is Retain), then apply", k.name, k.namespace)
	var out []finding
	for _, f := range []string{"storageClassName", "accessModes", "volumeMode", "volumeName", "selector", "dataSource"} {
		out = append(out, immutable(old, new, fix, "spec", f)...)
	}
	return append(out, shrink(at(old, "spec", "resources", "requests", "storage"), at(new, "spec", "resources", "requests", "storage"), "spec.resources.requests.storage", fix)...)
}

// shrink reports a size that got smaller.
func shrink(old, new any, fld, fix string) []finding {
	o, err1 := resource.ParseQuantity(fmt.Sprint(old))
	n, err2 := resource.ParseQuantity(fmt.Sprint(new))
	if err1 != nil || err2 != nil || n.Cmp(o) >= 0 {
		return nil
	}
	return []finding{{field: fld, accept: fld, old: old, new: new, fix: fix,
		why: "the API server refuses to make a claim smaller than it is"}}
}

// removed checks an object the new output no longer has: pruning deletes
// it.
func removed(k objectKey, doc *prevDoc) ([]finding, error) {
	var old *unstructured.Unstructured
	switch k.group + "/" + k.kind {
	case "/PersistentVolumeClaim", "/PersistentVolume", "/Namespace":
		var err error
		if old, err = doc.object(); err != nil {
			return nil, err
		}
	}
	switch k.group + "/" + k.kind {
	case "/PersistentVolumeClaim":
		return []finding{{old: at(old, "spec", "resources", "requests", "storage"),
			why: "the claim is no longer in the output: pruning deletes it, and its data with it unless the volume's reclaim policy is Retain",
			fix: "copy the data elsewhere (or make sure the volume's reclaim policy is Retain) before you apply the output without the storage"}}, nil
	case "/PersistentVolume":
		return []finding{{old: at(old, "spec", "capacity", "storage"),
			why: "the volume is no longer in the output: pruning deletes the PersistentVolume (its data stays, reclaim policy Retain) and its claim loses its binding",
			fix: "remove the claim that uses the volume first, or keep the existing storage in the pipeline until then"}}, nil
	case "/Namespace":
		return []finding{{old: k.name,
			why: "the namespace is no longer in the output (a pipeline renamed or moved): pruning deletes it and everything in it, claims and their data included",
			fix: "copy the data to the new namespace first, or keep the pipeline's Namespace prop"}}, nil
	}
	return nil, nil
}

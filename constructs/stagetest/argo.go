package stagetest

import (
	"sort"

	"encoding/json"
	"fmt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// argoKinds are the Argo Workflows kinds whose templates become pods.
var argoKinds = map[string]bool{"WorkflowTemplate": true, "ClusterWorkflowTemplate": true, "Workflow": true}

// argoExecutor are the names of the containers Argo's emissary executor
// adds to every pod of a container template.
var argoExecutor = []struct {
	name string
	init bool
}{{"init", true}, {"wait", false}}

// argoTemplate is the part of an Argo container template that shapes its
// pods.
type argoTemplate struct {
	Name         string                     `json:"name"`
	Container    *corev1.Container          `json:"container"`
	Volumes      []corev1.Volume            `json:"volumes"`
	NodeSelector map[string]string          `json:"nodeSelector"`
	Tolerations  []corev1.Toleration        `json:"tolerations"`
	Affinity     *corev1.Affinity           `json:"affinity"`
	Security     *corev1.PodSecurityContext `json:"securityContext"`
	Account      string                     `json:"serviceAccountName"`
	Automount    *bool                      `json:"automountServiceAccountToken"`
	Priority     string                     `json:"priorityClassName"`
	PodSpecPatch string                     `json:"podSpecPatch"`
}

// argoPods returns the pods an Argo Workflows object's container templates
// make, as Argo makes them: the template's container (named "main"), its
// pod fields, the executor containers init and wait, then the template's
// podSpecPatch on top. An executor container the patch does not mention
// keeps Argo's defaults here, which set no security context: the cluster's
// own executor settings are not known to the test. ok is false for other
// kinds.
func argoPods(obj *unstructured.Unstructured) (pods map[string]corev1.PodSpec, ok bool, err error) {
	if !argoKinds[obj.GetKind()] {
		return nil, false, nil
	}
	raw, _, err := unstructured.NestedSlice(obj.Object, "spec", "templates")
	if err != nil {
		return nil, true, err
	}
	pods = map[string]corev1.PodSpec{}
	for i, r := range raw {
		m, _ := r.(map[string]any)
		var t argoTemplate
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &t); err != nil {
			return pods, true, fmt.Errorf("templates[%d]: %w", i, err)
		}
		if t.Container == nil {
			continue // a DAG, steps or other template: no pod of its own
		}
		spec, err := t.pod()
		if err != nil {
			return pods, true, fmt.Errorf("template %s: %w", t.Name, err)
		}
		pods[t.Name] = spec
	}
	return pods, true, nil
}

// pod builds the pod spec of a container template.
func (t argoTemplate) pod() (corev1.PodSpec, error) {
	main := *t.Container
	main.Name = "main"
	spec := corev1.PodSpec{
		Containers: []corev1.Container{main}, Volumes: t.Volumes, NodeSelector: t.NodeSelector,
		Tolerations: t.Tolerations, Affinity: t.Affinity, SecurityContext: t.Security,
		ServiceAccountName: t.Account, AutomountServiceAccountToken: t.Automount, PriorityClassName: t.Priority,
	}
	for _, e := range argoExecutor {
		c := corev1.Container{Name: e.name, Image: "argoexec"}
		if e.init {
			spec.InitContainers = append(spec.InitContainers, c)
		} else {
			spec.Containers = append(spec.Containers, c)
		}
	}
	if t.PodSpecPatch == "" {
		return spec, nil
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal([]byte(t.PodSpecPatch), &patch); err != nil {
		return spec, fmt.Errorf("podSpecPatch: %w", err)
	}
	for key, v := range patch {
		var err error
		switch key {
		case "containers":
			spec.Containers, err = mergeContainers(spec.Containers, v)
		case "initContainers":
			spec.InitContainers, err = mergeContainers(spec.InitContainers, v)
		default:
			err = overlay(&spec, key, v)
		}
		if err != nil {
			return spec, fmt.Errorf("podSpecPatch %s: %w", key, err)
		}
	}
	return spec, nil
}

// mergeContainers merges patched containers into cs by name, as a
// strategic merge patch does: a field the patch sets replaces the
// container's.
func mergeContainers(cs []corev1.Container, raw json.RawMessage) ([]corev1.Container, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return cs, err
	}
	for _, it := range items {
		var named struct{ Name string }
		if err := json.Unmarshal(it, &named); err != nil {
			return cs, err
		}
		i := 0
		for i < len(cs) && cs[i].Name != named.Name {
			i++
		}
		if i == len(cs) {
			cs = append(cs, corev1.Container{})
		}
		if err := json.Unmarshal(it, &cs[i]); err != nil {
			return cs, err
		}
	}
	return cs, nil
}

// overlay sets one field of spec from the patch.
func overlay(spec *corev1.PodSpec, key string, v json.RawMessage) error {
	return json.Unmarshal([]byte(fmt.Sprintf("{%q:%s}", key, v)), spec)
}

// evaluateArgo evaluates the pods of an Argo object's templates, naming
// each violation's template.
func evaluateArgo(ev policy.Evaluator, lv psapi.LevelVersion, obj *unstructured.Unstructured, pods map[string]corev1.PodSpec) []Violation {
	var out []Violation
	names := make([]string, 0, len(pods))
	for n := range pods {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		spec := pods[n]
		for _, r := range ev.EvaluatePod(lv, &metav1.ObjectMeta{}, &spec) {
			if !r.Allowed {
				out = append(out, Violation{Object: Describe(obj) + " template " + n, Reason: r.ForbiddenReason, Detail: r.ForbiddenDetail})
			}
		}
	}
	return out
}

package stagecraft

import (
	"encoding/json"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A WorkflowTemplate has no typed pod template: each container template
// is a pod, built by Argo from the template's container, volumes,
// security context, service account and podSpecPatch, and from the
// workflow-wide ones. The pipeline's Override of the WorkflowTemplate is
// checked on those pods as a stage's Override is on its pod template:
// Pod Security "restricted" (unless the task's stage is deliberately
// privileged), and no more than they were granted.

// argoSpec is what a WorkflowTemplate's spec says of its pods, read from
// its JSON, whatever Go value an override left as the spec.
type argoSpec struct {
	AutomountServiceAccountToken *bool  `json:"automountServiceAccountToken"`
	ServiceAccountName           string `json:"serviceAccountName"`
	Executor                     *struct {
		ServiceAccountName string `json:"serviceAccountName"`
	} `json:"executor"`
	SecurityContext *corev1.PodSecurityContext `json:"securityContext"`
	HostNetwork     *bool                      `json:"hostNetwork"`
	Volumes         []corev1.Volume            `json:"volumes"`
	PodSpecPatch    string                     `json:"podSpecPatch"`
	Templates       []argoTemplate             `json:"templates"`
}

// argoTemplate is one template of a WorkflowTemplate, as far as its pod.
type argoTemplate struct {
	Name                         string                     `json:"name"`
	Container                    *corev1.Container          `json:"container"`
	SecurityContext              *corev1.PodSecurityContext `json:"securityContext"`
	AutomountServiceAccountToken *bool                      `json:"automountServiceAccountToken"`
	ServiceAccountName           string                     `json:"serviceAccountName"`
	Volumes                      []corev1.Volume            `json:"volumes"`
	PodSpecPatch                 string                     `json:"podSpecPatch"`
	Metadata                     *metadataLabels            `json:"metadata"`
}

type metadataLabels struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// argoSpecOf reads the spec of a WorkflowTemplate; nil for other objects
// and for a spec that is no WorkflowTemplate's.
func argoSpecOf(o runtime.Object) *argoSpec {
	c, ok := o.(*customObject)
	if !ok || c.Kind != "WorkflowTemplate" {
		return nil
	}
	raw, err := json.Marshal(c.Spec)
	if err != nil {
		return nil
	}
	var s argoSpec
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return &s
}

// pods returns the pod of each container template, by template name.
func (s *argoSpec) pods() map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for _, t := range s.Templates {
		if t.Container == nil {
			continue
		}
		var spec corev1.PodSpec
		for _, patch := range []string{s.PodSpecPatch, t.PodSpecPatch} {
			if patch != "" {
				_ = json.Unmarshal([]byte(patch), &spec) // a patch that is no pod spec patches nothing
			}
		}
		spec.Containers = append([]corev1.Container{*t.Container}, spec.Containers...)
		spec.Volumes = append(append(spec.Volumes, t.Volumes...), s.Volumes...)
		// Argo patches the pod last: what a podSpecPatch sets wins. The
		// API server takes the deprecated serviceAccount for an empty
		// serviceAccountName.
		spec.SecurityContext = firstSet(spec.SecurityContext, t.SecurityContext, s.SecurityContext)
		spec.AutomountServiceAccountToken = firstSet(spec.AutomountServiceAccountToken, t.AutomountServiceAccountToken, s.AutomountServiceAccountToken)
		if s.HostNetwork != nil && !spec.HostNetwork {
			spec.HostNetwork = *s.HostNetwork
		}
		spec.ServiceAccountName = firstOf(spec.ServiceAccountName, spec.DeprecatedServiceAccount, t.ServiceAccountName, s.ServiceAccountName)
		pod := &corev1.PodTemplateSpec{Spec: spec}
		if t.Metadata != nil {
			pod.Labels, pod.Annotations = t.Metadata.Labels, t.Metadata.Annotations
		}
		out[t.Name] = pod
	}
	return out
}

// firstSet returns the first of vs that is not nil.
func firstSet[T any](vs ...*T) *T {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// workflowViolations returns what the pods of WorkflowTemplate o break of
// Pod Security "restricted" (but for the tasks in privileged), and, unless
// widen, what they or its executor are granted that they were not in
// rendered, the spec as stagecraft wrote it.
func workflowViolations(rendered *argoSpec, o runtime.Object, privileged map[string]bool, widen bool) field.ErrorList {
	after := argoSpecOf(o)
	if rendered == nil || after == nil {
		return nil
	}
	templates := field.NewPath("spec", "templates")
	before, pods := rendered.pods(), after.pods()
	names := make([]string, 0, len(pods))
	for n := range pods {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs field.ErrorList
	for _, n := range names {
		path, pod := templates.Key(n), pods[n]
		if !privileged[n] {
			errs = append(errs, restrictedViolations(path, pod)...)
		}
		if widen {
			continue
		}
		if was, ok := before[n]; ok {
			errs = append(errs, podWidened(path, was, pod)...)
		} else {
			errs = append(errs, widened(path, n, "a container template the WorkflowTemplate did not have runs pods"))
		}
	}
	if !widen && executorAccount(rendered) != executorAccount(after) {
		errs = append(errs, widened(field.NewPath("spec", "executor", "serviceAccountName"), executorAccount(after),
			"Argo's executor containers hold the token of another account than "+quoteOr(executorAccount(rendered), "the namespace's default")))
	}
	return errs
}

// executorAccount is the account whose token Argo's executor holds.
func executorAccount(s *argoSpec) string {
	if s.Executor != nil && s.Executor.ServiceAccountName != "" {
		return s.Executor.ServiceAccountName
	}
	return s.ServiceAccountName
}

package stagetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// podTemplatePaths gives, for each kind that runs pods, where its pod
// template is; an empty path means the object is the pod itself.
var podTemplatePaths = map[string][]string{
	"Pod":                   nil,
	"PodTemplate":           {"template"},
	"Deployment":            {"spec", "template"},
	"StatefulSet":           {"spec", "template"},
	"DaemonSet":             {"spec", "template"},
	"ReplicaSet":            {"spec", "template"},
	"ReplicationController": {"spec", "template"},
	"Job":                   {"spec", "template"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template"},
}

// Violation is one way in which an object's pods break a Pod Security
// level.
type Violation struct {
	// Object names the object, as Describe does.
	Object string
	// Reason is the check's short reason, such as "privileged" or
	// "allowPrivilegeEscalation != false".
	Reason string
	// Detail says which containers or values break it; it may be empty.
	Detail string
}

// String returns "<object>: <reason> (<detail>)".
func (v Violation) String() string {
	if v.Detail == "" {
		return v.Object + ": " + v.Reason
	}
	return fmt.Sprintf("%s: %s (%s)", v.Object, v.Reason, v.Detail)
}

var evaluator = sync.OnceValues(func() (policy.Evaluator, error) {
	return policy.NewEvaluator(policy.DefaultChecks(), nil)
})

// RestrictedViolations evaluates the pod template of every object that runs
// pods (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
// ReplicationController, Job, CronJob, PodTemplate; and each container
// template of an Argo WorkflowTemplate, ClusterWorkflowTemplate or
// Workflow, with Argo's executor containers, see argoPods) against Pod Security
// "restricted" at the latest version, with the checks of
// k8s.io/pod-security-admission, and returns what breaks it. The error is
// for the objects whose pod template cannot be read; the others are
// evaluated all the same.
func (m *Manifest) RestrictedViolations() ([]Violation, error) {
	ev, err := evaluator()
	if err != nil {
		return nil, err
	}
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	var out []Violation
	var errs []error
	for _, d := range m.docs {
		if pods, ok, err := argoPods(d.obj); ok {
			out = append(out, evaluateArgo(ev, lv, d.obj, pods)...)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", Describe(d.obj), err))
			}
			continue
		}
		path, ok := podTemplatePaths[d.obj.GetKind()]
		if !ok {
			continue
		}
		name := Describe(d.obj)
		raw := d.obj.Object
		if len(path) > 0 {
			var found bool
			raw, found, err = unstructured.NestedMap(d.obj.Object, path...)
			if err != nil || !found {
				errs = append(errs, fmt.Errorf("%s has no pod template at %s", name, strings.Join(path, ".")))
				continue
			}
		}
		var pod corev1.PodTemplateSpec
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &pod); err != nil {
			errs = append(errs, fmt.Errorf("%s: read the pod template: %w", name, err))
			continue
		}
		for _, r := range ev.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec) {
			if !r.Allowed {
				out = append(out, Violation{Object: name, Reason: r.ForbiddenReason, Detail: r.ForbiddenDetail})
			}
		}
	}
	return out, errors.Join(errs...)
}

// AssertRestricted fails the test (and goes on) for every way in which a
// pod template of the manifest breaks Pod Security "restricted"; see
// RestrictedViolations. Each failure names the object, the check's reason
// and its detail.
func (m *Manifest) AssertRestricted(t testing.TB) {
	t.Helper()
	vs, err := m.RestrictedViolations()
	for _, v := range vs {
		t.Errorf("stagetest: violates Pod Security \"restricted\": %s", v)
	}
	if err != nil {
		t.Errorf("stagetest: Pod Security \"restricted\": %v", err)
	}
}

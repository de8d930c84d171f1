package oracle

import (
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

var evaluator = sync.OnceValues(func() (policy.Evaluator, error) {
	return policy.NewEvaluator(policy.DefaultChecks(), nil)
})

// restrictedViolations evaluates the pods of a workload (or a pod) against
// Pod Security "restricted" at the latest version, as the PodSecurity
// admission plugin does for a namespace labelled to enforce it.
func restrictedViolations(obj runtime.Object) []string {
	var m *metav1.ObjectMeta
	var spec *corev1.PodSpec
	switch o := obj.(type) {
	case *corev1.Pod:
		m, spec = &o.ObjectMeta, &o.Spec
	case *appsv1.Deployment:
		m, spec = &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *appsv1.ReplicaSet:
		m, spec = &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		m, spec = &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *batchv1.Job:
		m, spec = &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *batchv1.CronJob:
		m, spec = &o.Spec.JobTemplate.Spec.Template.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec
	default:
		return nil
	}
	ev, err := evaluator()
	if err != nil {
		return []string{err.Error()}
	}
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	var out []string
	for _, r := range ev.EvaluatePod(lv, m, spec) {
		if !r.Allowed {
			out = append(out, fmt.Sprintf("Pod Security restricted: %s: %s", r.ForbiddenReason, r.ForbiddenDetail))
		}
	}
	return out
}

package stagecraft

import (
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
)

// The gate of a held BatchStage: a Job that runs "gate release" as a
// service account of its own, which may read the upstream Jobs and the
// held one, fail the held one through its status, remove the scheduling
// gate from its pods and record Events; with Kueue, also read the chosen
// LocalQueue and create the run's own.

// gateBackoffLimit retries a gate pod that was killed (out of memory, a
// lost node); its own decisions end it through the pod failure policy.
const gateBackoffLimit = 3

// gateObjects returns the objects of the gate that releases the Job named
// run of stage s, or nil if s is not held.
func (r *rendering) gateObjects(s *stage, run string) []runtime.Object {
	if !s.gated || len(r.g.waits[s]) == 0 {
		return nil
	}
	upstream := r.upstreamRuns(s)
	meta := r.gateMeta(s)
	out := []runtime.Object{serviceAccount(meta)}
	out = append(out, roleAndBinding(meta, r.gateRules(s, run, upstream), meta.Name)...)
	return append(out, r.gateJob(s, run, upstream, meta))
}

// gateMeta is the metadata of a gate's objects: named after the stage,
// labelled as a component of its own so that no selector of the stage
// picks its pod.
func (r *rendering) gateMeta(s *stage) metav1.ObjectMeta {
	name := gateName(s)
	return metav1.ObjectMeta{Name: name, Namespace: r.p.namespace, Labels: r.p.objectLabels(name, componentGate)}
}

// gateRules are the gate's permissions, each as narrow as RBAC allows:
// pods cannot be named in advance, and create cannot be limited by name.
func (r *rendering) gateRules(s *stage, run string, upstream []string) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get"}, ResourceNames: append(append([]string(nil), upstream...), run)},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs/status"}, Verbs: []string{"patch"}, ResourceNames: []string{run}},
	}
	if r.heldDeadline(s) {
		// The gate sets the held Job's activeDeadlineSeconds at release.
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"patch"}, ResourceNames: []string{run}})
	}
	rules = append(rules, []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create"}},
	}...)
	if q := s.queue; q != "" {
		rules = append(rules,
			rbacv1.PolicyRule{APIGroups: []string{"kueue.x-k8s.io"}, Resources: []string{"localqueues"}, Verbs: []string{"get"}, ResourceNames: []string{q}},
			rbacv1.PolicyRule{APIGroups: []string{"kueue.x-k8s.io"}, Resources: []string{"localqueues"}, Verbs: []string{"create"}})
	}
	return rules
}

// gateJob returns the gate's Job. Its name carries the digest of its spec,
// which names the held run: a new run gets a new gate.
func (r *rendering) gateJob(s *stage, run string, upstream []string, meta metav1.ObjectMeta) *batchv1.Job {
	c := r.gateContainerSpec(gateContainer, r.gateArgs("release", run, upstream))
	labels := copyMap(meta.Labels)
	spec := batchv1.JobSpec{
		BackoffLimit: ptr.To[int32](gateBackoffLimit),
		PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr.To(gateContainer), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: append([]int32(nil), gateExitCodes...)}},
			{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
		}},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{
				Containers:                   []corev1.Container{c},
				Volumes:                      []corev1.Volume{tokenProjection()},
				RestartPolicy:                corev1.RestartPolicyNever,
				ServiceAccountName:           meta.Name,
				AutomountServiceAccountToken: ptr.To(false),
				EnableServiceLinks:           ptr.To(false),
				SecurityContext: &corev1.PodSecurityContext{
					RunAsNonRoot:   ptr.To(true),
					RunAsUser:      ptr.To[int64](gateUser),
					RunAsGroup:     ptr.To[int64](gateUser),
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			},
		},
	}
	meta.Name = gateJobName(s.name, runDigest(spec, nil, ""))
	return &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: meta, Spec: spec}
}

// gateJobName is "<stage>-gate-<digest>", the stage's part shortened so
// that the name fits in a DNS label (the Job's pods are labelled with it).
func gateJobName(stage, digest string) string {
	suffix := "-gate-" + digest
	if max := validation.DNS1123LabelMaxLength - len(suffix); len(stage) > max {
		stage = strings.TrimRight(stage[:max], "-")
	}
	return stage + suffix
}

// gatePolicy returns the NetworkPolicy that lets the gate of s reach the
// API server, or nil if s has no gate.
func (r *rendering) gatePolicy(s *stage) *networkingv1.NetworkPolicy {
	if !s.gated || len(r.g.waits[s]) == 0 {
		return nil
	}
	p, meta := r.p, r.gateMeta(s)
	return p.networkPolicy(meta.Name, meta.Labels, networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{labelName: meta.Name, labelPartOf: p.namespace}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress:      p.apiServerRule(),
	})
}

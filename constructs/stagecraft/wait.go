package stagecraft

import (
	"fmt"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// Waiting for upstream Jobs. A BatchStage that waits is held: its pod
// template carries a scheduling gate, so its pods exist but hold no node,
// accelerator or Kueue quota, and a small gate Job ("gate release", see
// internal/gate) removes the gate once the upstream Jobs have completed, or
// fails the stage's Job as soon as one of them fails. Other stages wait in
// an init container ("gate wait"). Only the gate's container and the wait
// init container get an API token, through a projected volume mounted
// into them alone (see accounts.go); the service account each runs as may
// read exactly the Jobs involved.

const (
	waitContainer = "wait-upstream"
	gateContainer = "gate"
	// schedulingGate holds a waiting BatchStage's pods (gate.SchedulingGate).
	schedulingGate = "stagecraft.dev/upstream"
	// queueAnnotation names, on a held Job queued with Kueue, the LocalQueue
	// the user chose (gate.QueueAnnotation).
	queueAnnotation = "stagecraft.dev/queue"
	// deadlineAnnotation carries, on a held Job, its ActiveDeadline in
	// seconds (gate.DeadlineAnnotation): the Job controller counts
	// spec.activeDeadlineSeconds from the Job's start, gated pods included,
	// so the gate sets it when it releases the Job, to the time elapsed
	// plus the deadline. dist/ does not set the field, so a GitOps tool's
	// re-apply leaves the gate's value alone.
	deadlineAnnotation = "stagecraft.dev/active-deadline-seconds"
	tokenVolume        = "kube-api-access-gate"
	tokenPath          = "/var/run/secrets/kubernetes.io/serviceaccount"
	// tokenLifetime is the lifetime of the gate's projected token, in
	// seconds; the kubelet renews it.
	tokenLifetime = 3600
	// gateUser runs the gate's container: the image's own non-root user.
	gateUser = 65532
)

// gateExitCodes are the gate command's exit statuses that end a wait for
// good: 1 a configuration error, 2 an upstream Job failed, 3 timed out.
var gateExitCodes = []int32{1, 2, 3}

// gateResources are the requests and limits of the gate's container: it
// reads a few Jobs every few seconds.
var gateResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi"), corev1.ResourceEphemeralStorage: resource.MustParse("1Mi")},
	Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceEphemeralStorage: resource.MustParse("16Mi")},
}

// gateName names the service account, Role, RoleBinding and NetworkPolicy
// of a held stage's gate.
func gateName(s *stage) string { return s.name + "-gate" }

// waitsInInit reports whether s waits for upstream Jobs in an init
// container.
func (r *rendering) waitsInInit(s *stage) bool { return len(r.g.waits[s]) > 0 && !s.gated }

// gateArgs returns the gate command's arguments.
func (r *rendering) gateArgs(mode, job string, upstream []string) []string {
	args := []string{mode, "--namespace=" + r.p.namespace}
	if job != "" {
		args = append(args, "--job="+job)
	}
	for _, u := range upstream {
		args = append(args, "--upstream="+u)
	}
	return append(args, fmt.Sprintf("--timeout=%ds", int64(r.p.waitFor/time.Second)))
}

// gateContainerSpec returns the container that runs the gate command, with
// the API token mounted.
func (r *rendering) gateContainerSpec(name string, args []string) corev1.Container {
	return corev1.Container{
		Name:                     name,
		Image:                    r.p.gateImage,
		Args:                     args,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePolicy: containerTerminated,
		Resources:                *gateResources.DeepCopy(),
		SecurityContext:          containerSecurity(true),
		VolumeMounts:             []corev1.VolumeMount{{Name: tokenVolume, MountPath: tokenPath, ReadOnly: true}},
	}
}

// addWait makes the pod of s wait for its upstream Jobs, if it has any:
// a held stage's pods carry the scheduling gate; others get the init
// container.
func (r *rendering) addWait(spec *corev1.PodSpec, s *stage) {
	jobs := r.g.waits[s]
	if len(jobs) == 0 {
		return
	}
	if s.gated {
		spec.SchedulingGates = append(spec.SchedulingGates, corev1.PodSchedulingGate{Name: schedulingGate})
		return
	}
	init := r.gateContainerSpec(waitContainer, r.gateArgs("wait", "", r.upstreamRuns(s)))
	if s.work.token {
		init.VolumeMounts = nil // the pod's own token is mounted already
	} else {
		spec.Volumes = append(spec.Volumes, tokenProjection())
	}
	spec.InitContainers = append(spec.InitContainers, init)
	spec.ServiceAccountName = s.work.waitAccount
}

// tokenProjection is a volume that holds what a pod needs to call the API
// server: a service-account token, the cluster's CA and the namespace.
func tokenProjection() corev1.Volume {
	return corev1.Volume{Name: tokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](tokenLifetime)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}}
}

// waitObjects returns, for a stage that waits in an init container, the
// service account it runs as (unless it has one of its own), and the Role
// and RoleBinding that let the account read the upstream Jobs.
func (r *rendering) waitObjects(s *stage) []runtime.Object {
	if !r.waitsInInit(s) {
		return nil
	}
	var out []runtime.Object
	if s.work.createAccount {
		out = append(out, serviceAccount(s.meta()))
	}
	meta := s.metaNamed(s.name + "-wait")
	rules := []rbacv1.PolicyRule{{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get"}, ResourceNames: r.upstreamRuns(s)}}
	return append(out, roleAndBinding(meta, rules, s.work.waitAccount)...)
}

func serviceAccount(meta metav1.ObjectMeta) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   meta,
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// roleAndBinding returns a Role with rules and the RoleBinding that grants
// it to the service account, both named as meta.
func roleAndBinding(meta metav1.ObjectMeta, rules []rbacv1.PolicyRule, account string) []runtime.Object {
	return []runtime.Object{
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta,
			Rules:      rules,
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: meta.Name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: account, Namespace: meta.Namespace}},
		},
	}
}

// podFailurePolicyForWait is the rule that fails a Job at once when its
// init container's wait has ended for good (an upstream Job failed, or the
// wait timed out), instead of retrying a pod that would fail again.
func podFailurePolicyForWait() batchv1.PodFailurePolicyRule {
	return batchv1.PodFailurePolicyRule{
		Action: batchv1.PodFailurePolicyActionFailJob,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: ptr.To(waitContainer),
			Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
			Values:        append([]int32(nil), gateExitCodes...),
		},
	}
}

// holdDeadline moves the ActiveDeadline of a held stage's Job from
// spec.activeDeadlineSeconds, which would count while the Job is held,
// into deadlineAnnotation, for its gate to set at release.
func (r *rendering) holdDeadline(s *stage, job *batchv1.Job) {
	if !s.gated || len(r.g.waits[s]) == 0 || job.Spec.ActiveDeadlineSeconds == nil {
		return
	}
	if job.Annotations == nil {
		job.Annotations = map[string]string{}
	}
	job.Annotations[deadlineAnnotation] = strconv.FormatInt(*job.Spec.ActiveDeadlineSeconds, 10)
	job.Spec.ActiveDeadlineSeconds = nil
}

// heldDeadline reports whether the held stage s has an ActiveDeadline,
// which its gate sets at release.
func (r *rendering) heldDeadline(s *stage) bool {
	for _, st := range r.g.order {
		if b, ok := st.(*BatchStage); ok && &b.stage == s {
			return b.job.ActiveDeadline > 0
		}
	}
	return false
}

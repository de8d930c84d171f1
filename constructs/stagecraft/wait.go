package stagecraft

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// A stage that runs after a BatchStage waits for the upstream Job in an
// init container that runs "kubectl wait". Only that container gets an API
// token, through a projected volume: the stage's own container does not.
// The token's service account may only read the upstream Jobs.

const (
	waitContainer = "wait-upstream"
	waitTmpVolume = "wait-tmp"
	tokenVolume   = "kube-api-access-wait"
	tokenPath     = "/var/run/secrets/kubernetes.io/serviceaccount"
	// tokenLifetime is the lifetime of the wait container's projected token,
	// in seconds; the kubelet renews it.
	tokenLifetime = 3600
)

// waitResources are the requests and limits of the wait container: kubectl
// needs little, and its discovery cache fits in waitTmpSize.
var waitResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceEphemeralStorage: resource.MustParse("16Mi")},
	Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceEphemeralStorage: resource.MustParse("64Mi")},
}

var waitTmpSize = resource.MustParse("64Mi")

// addWait adds to the pod of s the init container that waits for its
// upstream Jobs, if it has any.
func (r *rendering) addWait(spec *corev1.PodSpec, s *stage) {
	jobs := r.g.waits[s]
	if len(jobs) == 0 {
		return
	}
	p := r.p
	args := []string{"wait", "--for=condition=complete", "--namespace=" + p.namespace,
		fmt.Sprintf("--timeout=%ds", int64(p.waitFor/time.Second))}
	for _, j := range jobs {
		args = append(args, "job/"+r.runName(j))
	}
	init := corev1.Container{
		Name:  waitContainer,
		Image: p.waitImage,
		Args:  args,
		// kubectl keeps a discovery cache under $HOME.
		Env:                      []corev1.EnvVar{{Name: "HOME", Value: "/tmp"}},
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePolicy: containerTerminated,
		Resources:                *waitResources.DeepCopy(),
		SecurityContext:          containerSecurity(true),
		VolumeMounts:             []corev1.VolumeMount{{Name: waitTmpVolume, MountPath: "/tmp"}},
	}
	tmpSize := waitTmpSize.DeepCopy()
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: waitTmpVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &tmpSize}}})
	if !s.work.token {
		init.VolumeMounts = append(init.VolumeMounts, corev1.VolumeMount{Name: tokenVolume, MountPath: tokenPath, ReadOnly: true})
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

// waitObjects returns, for a stage that waits for upstream Jobs, the
// service account it runs as (unless it has one of its own), and the Role
// and RoleBinding that let the account read those Jobs.
func (r *rendering) waitObjects(s *stage) []runtime.Object {
	jobs := r.g.waits[s]
	if len(jobs) == 0 {
		return nil
	}
	var out []runtime.Object
	if s.work.createAccount {
		out = append(out, &corev1.ServiceAccount{
			TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta:                   s.meta(),
			AutomountServiceAccountToken: ptr.To(false),
		})
	}
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = r.runName(j)
	}
	meta := s.metaNamed(s.name + "-wait")
	out = append(out, &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta,
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"batch"}, Resources: []string{"jobs"},
			Verbs: []string{"get", "list", "watch"}, ResourceNames: names,
		}},
	})
	out = append(out, &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta,
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: meta.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: s.work.waitAccount, Namespace: s.pipeline.namespace}},
	})
	return out
}

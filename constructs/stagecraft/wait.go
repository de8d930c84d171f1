package stagecraft

import (
	"fmt"
	"time"

	"github.com/aws/constructs-go/constructs/v10"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// A stage that runs after a BatchStage waits for the upstream Job in an
// init container that runs "kubectl wait". Only that container gets an API
// token, through a projected volume: the stage's own container does not.
// The token's service account may only read the upstream Jobs.

const (
	waitContainer = "wait-upstream"
	tokenVolume   = "kube-api-access-wait"
	tokenPath     = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// upstreamJobs returns the Jobs the stage waits for, as set by the
// pipeline's graph.
func (s *stage) upstreamJobs() []*BatchStage {
	if s.pipeline == nil || s.pipeline.graph == nil {
		return nil
	}
	return s.pipeline.graph.waits[s]
}

// waitAccount returns the service account of a waiting stage's pods: the
// stage's own, or one stagecraft creates with the stage's name.
func (s *stage) waitAccount(w Workload) (name string, create bool) {
	if w.ServiceAccountName != "" {
		return w.ServiceAccountName, false
	}
	return s.name, true
}

// addWait adds the init container that waits for upstream Jobs.
func (s *stage) addWait(spec *corev1.PodSpec, w Workload) {
	jobs := s.upstreamJobs()
	if len(jobs) == 0 {
		return
	}
	p := s.pipeline
	args := []string{"wait", "--for=condition=complete", "--namespace=" + p.namespace,
		fmt.Sprintf("--timeout=%ds", int64(p.waitFor/time.Second))}
	for _, j := range jobs {
		args = append(args, "job/"+j.name)
	}
	q := resource.MustParse
	init := corev1.Container{
		Name:  waitContainer,
		Image: p.waitImage,
		Args:  args,
		// kubectl keeps a discovery cache under $HOME.
		Env:                      []corev1.EnvVar{{Name: "HOME", Value: "/tmp"}},
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePolicy: containerTerminated,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: q("10m"), corev1.ResourceMemory: q("64Mi"), corev1.ResourceEphemeralStorage: q("16Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: q("200m"), corev1.ResourceMemory: q("64Mi"), corev1.ResourceEphemeralStorage: q("64Mi")},
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "wait-tmp", MountPath: "/tmp"}},
	}
	tmpSize := q("64Mi")
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "wait-tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &tmpSize}}})
	if !w.ServiceAccountToken {
		init.VolumeMounts = append(init.VolumeMounts, corev1.VolumeMount{Name: tokenVolume, MountPath: tokenPath, ReadOnly: true})
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: tokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3600)}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
					Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
					Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
			},
		}}})
	}
	spec.InitContainers = append(spec.InitContainers, init)
	spec.ServiceAccountName, _ = s.waitAccount(w)
}

// waitObjects returns the service account (when the stage has none of its
// own), and the Role and RoleBinding that let it read the upstream Jobs.
func (s *stage) waitObjects(sc constructs.Construct, w Workload) []object {
	jobs := s.upstreamJobs()
	if len(jobs) == 0 {
		return nil
	}
	var out []object
	account, create := s.waitAccount(w)
	if create {
		out = append(out, object{scope: sc, id: "ServiceAccount", obj: &corev1.ServiceAccount{
			TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta:                   s.meta(),
			AutomountServiceAccountToken: ptr.To(false),
		}})
	}
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = j.name
	}
	meta := s.meta()
	meta.Name = s.name + "-wait"
	out = append(out, object{scope: sc, id: "WaitRole", obj: &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta,
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"batch"}, Resources: []string{"jobs"},
			Verbs: []string{"get", "list", "watch"}, ResourceNames: names,
		}},
	}})
	out = append(out, object{scope: sc, id: "WaitRoleBinding", obj: &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta,
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: meta.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: account, Namespace: s.pipeline.namespace}},
	}})
	return out
}

package stagecraft

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// containerTerminated has the kubelet report the end of the log as the
// termination message when the container wrote none.
const containerTerminated = corev1.TerminationMessageFallbackToLogsOnError

// sharedMemoryPath is where the memory-backed shared memory is mounted.
const sharedMemoryPath = "/dev/shm"

// podOptions are the parts of a pod template that differ between kinds.
type podOptions struct {
	probes      [3]*probeSpec // readiness, liveness, startup
	restart     corev1.RestartPolicy
	extraMounts []corev1.VolumeMount // volumes not in the pod spec, such as a StatefulSet's claims
}

// podTemplate builds the pod template of stage s from its resolved
// workload. The container's name is the stage's.
func podTemplate(r *rendering, s *stage, o podOptions) corev1.PodTemplateSpec {
	w := s.work
	c := container(s, o)
	volumes, mounts := podVolumes(w)
	c.VolumeMounts = append(mounts, o.extraMounts...)
	if w.sharedMemory != "" {
		shm := resource.MustParse(w.sharedMemory)
		volumes = append(volumes, corev1.Volume{Name: "shm", VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &shm},
		}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "shm", MountPath: sharedMemoryPath})
	}
	spec := corev1.PodSpec{
		Containers:                   []corev1.Container{c},
		Volumes:                      volumes,
		RestartPolicy:                o.restart,
		ServiceAccountName:           w.serviceAccount,
		AutomountServiceAccountToken: ptr.To(w.token),
		NodeSelector:                 w.nodeSelector,
		EnableServiceLinks:           ptr.To(false),
		PriorityClassName:            w.priorityClass,
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To(w.security.RunAsUser),
			RunAsGroup:     ptr.To(w.security.RunAsGroup),
			FSGroup:        ptr.To(w.security.FSGroup),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	if w.grace > 0 {
		spec.TerminationGracePeriodSeconds = ptr.To(int64(w.grace / time.Second))
	}
	applyAccelerators(&spec, w.accelerators)
	r.addWait(&spec, s)
	tmpl := corev1.PodTemplateSpec{Spec: spec}
	tmpl.Labels = s.labels()
	if len(w.annotations) > 0 {
		tmpl.Annotations = w.annotations
	}
	return tmpl
}

// container builds the stage's container, without its volume mounts.
func container(s *stage, o podOptions) corev1.Container {
	w := s.work
	c := corev1.Container{
		Name:                     s.name,
		Image:                    w.image,
		ImagePullPolicy:          w.pullPolicy,
		Command:                  w.command,
		Args:                     w.args,
		Resources:                w.resources.requirements(),
		TerminationMessagePolicy: containerTerminated,
		SecurityContext:          containerSecurity(!w.security.WritableRootFilesystem),
		ReadinessProbe:           o.probes[0].toProbe(),
		LivenessProbe:            o.probes[1].toProbe(),
		StartupProbe:             o.probes[2].toProbe(),
	}
	for _, e := range w.env {
		c.Env = append(c.Env, e.toEnvVar())
	}
	for _, cl := range s.validCalls() {
		c.Env = append(c.Env, cl.endpointEnv())
	}
	for _, p := range s.ports {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, Protocol: corev1.Protocol(p.Protocol)})
	}
	return c
}

// containerSecurity is the security context of every container stagecraft
// writes: no privilege escalation, no capabilities.
func containerSecurity(readOnlyRoot bool) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(readOnlyRoot),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// podVolumes returns the scratch and storage volumes of a pod and their
// mounts in the container.
func podVolumes(w workloadSpec) ([]corev1.Volume, []corev1.VolumeMount) {
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	scratch := resource.MustParse(w.security.ScratchSize)
	for i, p := range w.security.ScratchPaths {
		name := "scratch"
		if i > 0 {
			name = fmt.Sprintf("scratch-%d", i)
		}
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &scratch}}})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: p})
	}
	mounted := map[*PipelineStorage]bool{}
	for _, m := range w.mounts {
		vol := "storage-" + m.Storage.name
		if !mounted[m.Storage] {
			mounted[m.Storage] = true
			volumes = append(volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: m.Storage.name},
			}})
		}
		mounts = append(mounts, corev1.VolumeMount{Name: vol, MountPath: m.Path, SubPath: m.SubPath, ReadOnly: m.ReadOnly})
	}
	return volumes, mounts
}

func (r Resources) requirements() corev1.ResourceRequirements {
	q := resource.MustParse
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:              q(r.CPURequest),
			corev1.ResourceMemory:           q(r.MemoryRequest),
			corev1.ResourceEphemeralStorage: q(r.EphemeralStorageRequest),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:              q(r.CPULimit),
			corev1.ResourceMemory:           q(r.MemoryLimit),
			corev1.ResourceEphemeralStorage: q(r.EphemeralStorageLimit),
		},
	}
}

func (e EnvVar) toEnvVar() corev1.EnvVar {
	v := corev1.EnvVar{Name: e.Name, Value: e.Value}
	switch {
	case e.Secret != nil:
		v.Value = ""
		v.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: e.Secret.Name}, Key: e.Secret.Key, Optional: optional(e.Secret.Optional)}}
	case e.ConfigMap != nil:
		v.Value = ""
		v.ValueFrom = &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: e.ConfigMap.Name}, Key: e.ConfigMap.Key, Optional: optional(e.ConfigMap.Optional)}}
	}
	return v
}

func optional(b bool) *bool {
	if b {
		return ptr.To(true)
	}
	return nil
}

// probeSpec is a resolved Probe: its port is set for HTTP and TCP probes.
type probeSpec struct {
	Probe
}

// resolveProbe resolves pr for a container whose first port is first.
func resolveProbe(pr *Probe, ports []Port) *probeSpec {
	if pr == nil {
		return nil
	}
	r := &probeSpec{Probe: *pr}
	r.Command = append([]string(nil), pr.Command...)
	if r.Port == "" && len(ports) > 0 {
		r.Port = ports[0].Name
	}
	return r
}

func (pr *probeSpec) toProbe() *corev1.Probe {
	if pr == nil {
		return nil
	}
	p := &corev1.Probe{
		InitialDelaySeconds: int32(pr.InitialDelay / time.Second),
		PeriodSeconds:       int32(pr.Period / time.Second),
		TimeoutSeconds:      int32(pr.Timeout / time.Second),
		FailureThreshold:    pr.FailureThreshold,
	}
	switch {
	case len(pr.Command) > 0:
		p.Exec = &corev1.ExecAction{Command: pr.Command}
	case pr.HTTPPath != "":
		p.HTTPGet = &corev1.HTTPGetAction{Path: pr.HTTPPath, Port: intstr.FromString(pr.Port)}
	default:
		p.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromString(pr.Port)}
	}
	return p
}

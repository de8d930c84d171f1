package stagecraft

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// ovPod is a row of an override of the Deployment's pod spec that the API
// server refuses, and what the problem must hold.
func ovPod(name string, f func(d *appsv1.Deployment), want ...string) ovRow {
	return ovRow{name: name, overrides: []func(runtime.Object){onDeployment(f)}, field: "Override[0]", apiRefuses: true, want: want}
}

func ovBuilt(name string, build func(*Pipeline, ProcessorStageProps) overridable, ov func(runtime.Object), want ...string) ovRow {
	return ovRow{name: name, build: build, overrides: []func(runtime.Object){ov}, field: "Override[0]", apiRefuses: true, want: want}
}

func ovBatch(p *Pipeline, props ProcessorStageProps) overridable {
	return NewBatchStage(p, "s", BatchStageProps{Workload: props.Workload})
}

func podOf(d *appsv1.Deployment) *corev1.PodSpec { return &d.Spec.Template.Spec }

// ovPodRows are the API server's rules of pod specs, Services, Ingresses,
// Deployments and Jobs that an override may break (see override_pod.go).
var ovPodRows = []ovRow{
	ovPod("a bogus dnsPolicy", func(d *appsv1.Deployment) { podOf(d).DNSPolicy = "Bogus" }, "spec.template.spec.dnsPolicy", "ClusterFirst"),
	ovPod("a Never restartPolicy on a Deployment", func(d *appsv1.Deployment) { podOf(d).RestartPolicy = corev1.RestartPolicyNever }, "spec.template.spec.restartPolicy", `"Always"`),
	ovPod("a hostname that is no DNS label", func(d *appsv1.Deployment) { podOf(d).Hostname = "Bad_Host" }, "spec.template.spec.hostname", "RFC 1123 label"),
	ovPod("a negative grace period", func(d *appsv1.Deployment) { podOf(d).TerminationGracePeriodSeconds = ptr.To[int64](-5) }, "terminationGracePeriodSeconds", "greater than or equal to 0"),
	ovPod("a node selector key with a space", func(d *appsv1.Deployment) { podOf(d).NodeSelector = map[string]string{"bad key!": "v"} }, "spec.template.spec.nodeSelector[bad key!]"),
	ovPod("a toleration Exists with a value", func(d *appsv1.Deployment) {
		podOf(d).Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
	}, "tolerations[0].operator", "value must be empty"),
	ovPod("a negative runAsUser", func(d *appsv1.Deployment) { podOf(d).SecurityContext.RunAsUser = ptr.To[int64](-1) }, "securityContext.runAsUser", "between 0 and 2147483647"),
	ovPod("a volume of two sources", func(d *appsv1.Deployment) {
		podOf(d).Volumes[0].ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}
	}, "spec.template.spec.volumes[0]", "exactly 1 volume type"),
	ovPod("a Secret volume of mode 01000", func(d *appsv1.Deployment) {
		podOf(d).Volumes = append(podOf(d).Volumes, corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x", DefaultMode: ptr.To[int32](0o1000)}}})
	}, "volumes[1].secret.defaultMode", "0777"),
	ovPod("a volume name that is no DNS label", func(d *appsv1.Deployment) {
		podOf(d).Volumes[0].Name, ovMain(d).VolumeMounts[0].Name = "Bad_Vol", "Bad_Vol"
	}, "volumes[0].name", "RFC 1123 label"),
	ovPod("a negative emptyDir size", func(d *appsv1.Deployment) {
		q := resource.MustParse("-1Gi")
		podOf(d).Volumes[0].EmptyDir.SizeLimit = &q
	}, "emptyDir.sizeLimit", "non-negative"),
	ovPod("a spread constraint of skew 0", func(d *appsv1.Deployment) {
		podOf(d).TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}
	}, "topologySpreadConstraints[0].maxSkew", "greater than zero"),
	ovPod("an empty required node affinity", func(d *appsv1.Deployment) {
		podOf(d).Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
	}, "nodeSelectorTerms", "at least one"),
	ovPod("a template label that is no label value", func(d *appsv1.Deployment) { d.Spec.Template.Labels["team"] = "bad value!" }, "spec.template.metadata.labels"),
	ovPod("a pull policy Sometimes", func(d *appsv1.Deployment) { ovMain(d).ImagePullPolicy = "Sometimes" }, "imagePullPolicy", `"IfNotPresent"`),
	ovPod("a port name of 21 characters", func(d *appsv1.Deployment) { ovMain(d).Ports[0].Name = "averyveryverylongname" }, "ports[0].name", "no more than 15 characters"),
	ovPod("two ports of one name", func(d *appsv1.Deployment) {
		ovMain(d).Ports = append(ovMain(d).Ports, corev1.ContainerPort{Name: ovMain(d).Ports[0].Name, ContainerPort: 9999})
	}, "ports[1].name", "unique in a container"),
	ovPod("a variable name with =", func(d *appsv1.Deployment) {
		ovMain(d).Env = append(ovMain(d).Env, corev1.EnvVar{Name: "A=B", Value: "x"})
	}, "env[1].name", "other than '='"),
	ovPod("a variable defined twice", func(d *appsv1.Deployment) { ovMain(d).Env = append(ovMain(d).Env, ovMain(d).Env[0]) }, "env[1].name", "hides an earlier variable"),
	ovPod("a variable of a value and a source", func(d *appsv1.Deployment) {
		ovMain(d).Env = append(ovMain(d).Env, corev1.EnvVar{Name: "A", Value: "x", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
	}, "env[1].valueFrom", "may not be specified when `value` is not empty"),
	ovPod("a configMapKeyRef without a key", func(d *appsv1.Deployment) {
		ovMain(d).Env = append(ovMain(d).Env, corev1.EnvVar{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}}})
	}, "env[1].valueFrom.configMapKeyRef.key", "the key"),
	ovPod("a negative CPU request", func(d *appsv1.Deployment) {
		ovMain(d).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("-1")
	}, "resources.requests[cpu]", "greater than or equal to 0"),
	ovPod("a resource name with a space", func(d *appsv1.Deployment) { ovMain(d).Resources.Limits["Bogus Thing"] = resource.MustParse("1") }, "resources.limits[Bogus Thing]"),
	ovPod("an absolute subPath", func(d *appsv1.Deployment) { ovMain(d).VolumeMounts[0].SubPath = "/x" }, "volumeMounts[0].subPath", "relative path"),
	ovPod("a probe without a handler", func(d *appsv1.Deployment) { ovMain(d).ReadinessProbe.TCPSocket = nil }, "readinessProbe", "must specify a handler type"),
	ovPod("a probe of a negative period", func(d *appsv1.Deployment) { ovMain(d).ReadinessProbe.PeriodSeconds = -1 }, "readinessProbe.periodSeconds", "greater than or equal to 0"),
	ovPod("a preStop hook without a handler", func(d *appsv1.Deployment) {
		ovMain(d).Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{}}
	}, "lifecycle.preStop", "must specify a handler type"),
	ovPod("a bogus strategy", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "Bogus" }, "spec.strategy.type", `"RollingUpdate"`),
	ovPod("a rolling update that cannot progress", func(d *appsv1.Deployment) {
		z := intstr.FromInt32(0)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &z, MaxUnavailable: &z}
	}, "rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0"),
	ovBuilt("a Service of a bogus type", nil, onType(func(s *corev1.Service) { s.Spec.Type = "Bogus" }), "Service p/s", "spec.type", `"ClusterIP"`),
	ovBuilt("a Service port of protocol HTTP", nil, onType(func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }), "spec.ports[0].protocol", `"TCP"`),
	ovBuilt("a Service port twice", nil, onType(func(s *corev1.Service) { s.Spec.Ports = append(s.Spec.Ports, s.Spec.Ports[0]) }), "spec.ports[1]", "unique in a Service"),
	ovBuilt("a ClusterIP Service of externalTrafficPolicy Local", nil, onType(func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}), "spec.externalTrafficPolicy", "externally-accessible"),
	ovBuilt("an Ingress host that is an IP", ovWith(func(p *ProcessorStageProps) { p.Ingress = &Ingress{Host: "a.example.com"} }),
		onType(func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "1.2.3.4" }), "spec.rules[0].host", "not an IP address"),
	ovBuilt("an Ingress backend that is no DNS label", ovWith(func(p *ProcessorStageProps) { p.Ingress = &Ingress{} }),
		onType(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "Bad_Name" }), "backend.service.name", "RFC 1123 label"),
	ovBuilt("a Job restartPolicy Always", ovBatch, onType(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }),
		"Job p/s", "spec.template.spec.restartPolicy", `"OnFailure", "Never"`),
	ovBuilt("a per-index backoff on a NonIndexed Job", ovBatch, onType(func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) }),
		"spec.backoffLimitPerIndex", "requires indexed completion mode"),
	ovBuilt("a pod failure policy of a missing container", ovBatch, onType(func(j *batchv1.Job) {
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{ContainerName: ptr.To("nope"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}}}}}
	}), "podFailurePolicy.rules[0].onExitCodes.containerName", "nope", "container or initContainer names"),
}

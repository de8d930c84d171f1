package yamlout

import (
	"bytes"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// sameTyped fails unless EncodeObject writes obj exactly as Encode(ToMap)
// does, and, with direct, without taking the path through ToMap.
func sameTyped(t *testing.T, obj runtime.Object, direct bool) {
	t.Helper()
	before := fallbacks.Load()
	defer func() {
		if fell := fallbacks.Load() != before; fell == direct {
			t.Errorf("%T: took the path through ToMap: %v, want %v", obj, fell, !direct)
		}
	}()
	m, err := ToMap(obj)
	if err != nil {
		t.Fatal(err)
	}
	want, err := NewEncoder().Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewEncoder().EncodeObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("EncodeObject differs from Encode(ToMap):\n--- want\n%s--- got\n%s", want, got)
	}
}

func TestEncodeObjectAsToMap(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "api", Namespace: "ns", Labels: map[string]string{"b": "2", "a10": "x", "a9": "yes"},
		Annotations: map[string]string{"example.com/long-annotation-key-with-many-characters": "0 2 * * *", "note": "it's \"quoted\""}}
	container := corev1.Container{
		Name: "main", Image: "ghcr.io/acme/api:1.0.0", Args: []string{"--port", "8080", "on", ""},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
			Limits:   corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")},
		},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}},
		LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}},
		SecurityContext: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			RunAsNonRoot: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false)},
		Env: []corev1.EnvVar{{Name: "EMPTY"}, {Name: "X", Value: "1"}},
	}
	objs := []runtime.Object{
		&appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](0),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
					Spec: corev1.PodSpec{
						Containers:      []corev1.Container{container},
						InitContainers:  []corev1.Container{},
						Volumes:         []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
						SchedulingGates: []corev1.PodSchedulingGate{{Name: "stagecraft.dev/upstream"}},
						TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone",
							LabelSelector: &metav1.LabelSelector{}}},
					},
				},
			},
		},
		&autoscalingv2.HorizontalPodAutoscaler{ // its status has fields without omitempty
			TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"}, ObjectMeta: meta,
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 3, Metrics: []autoscalingv2.MetricSpec{{Type: "Resource",
				Resource: &autoscalingv2.ResourceMetricSource{Name: "cpu", Target: autoscalingv2.MetricTarget{Type: "Utilization", AverageUtilization: ptr.To[int32](70)}}}}},
		},
		&networkingv1.NetworkPolicy{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}, ObjectMeta: meta,
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Ingress", "Egress"},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}},
				Egress:  []networkingv1.NetworkPolicyEgressRule{{}}},
		},
		&corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: "c", CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))},
			Data:       map[string]string{"true": "false", "1": "2.5", "k": "a: b"}, BinaryData: map[string][]byte{"bin": {0, 1, 2}},
		},
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{}}},
	}
	for _, o := range objs {
		sameTyped(t, o, true)
	}
	// A multi-line string: sigs.k8s.io/yaml writes the whole object.
	multi := objs[4].DeepCopyObject().(*corev1.Namespace)
	multi.Annotations = map[string]string{"note": "line one\nline two"}
	sameTyped(t, multi, false)
}

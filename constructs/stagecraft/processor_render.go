package stagecraft

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// objects returns the processor's Service and Deployment (or StatefulSet),
// its Ingress and its autoscaler and disruption budget.
func (s *ProcessorStage) objects(r *rendering) []runtime.Object {
	p := s.spec
	var out []runtime.Object
	target := scaleTarget{kind: "Deployment", name: s.name}
	if p.stateful == nil {
		if len(s.servicePorts) > 0 {
			out = append(out, s.service(false))
		}
		out = append(out, s.deployment(r))
	} else {
		target.kind = "StatefulSet"
		out = append(out, s.service(true), s.statefulSet(r))
	}
	if s.ingress != nil {
		out = append(out, s.ingressObject())
	}
	if p.autoscaling != nil {
		out = append(out, autoscaler(&s.member, target, p.autoscaling))
	}
	if p.budget != nil {
		out = append(out, disruptionBudget(&s.member, p.budget))
	}
	if p.eventScaling != nil {
		out = append(out, scaledObjects(&s.member, target, p.eventScaling)...)
	}
	return out
}

func (s *ProcessorStage) deployment(r *rendering) *appsv1.Deployment {
	tmpl := podTemplate(r, &s.stage, podOptions{probes: s.spec.probes})
	tmpl.Spec.TopologySpreadConstraints = spreadConstraints(&s.member, s.spec.spread, true)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: s.meta(),
		Spec: appsv1.DeploymentSpec{
			Replicas: s.spec.replicas,
			Selector: s.selector(),
			Template: tmpl,
			Strategy: s.resolveRollout(),
		},
	}
}

func (s *ProcessorStage) statefulSet(r *rendering) *appsv1.StatefulSet {
	st := s.spec.stateful
	var claims []corev1.PersistentVolumeClaim
	var mounts []corev1.VolumeMount
	for _, v := range st.Volumes {
		claims = append(claims, claimTemplate(v))
		mounts = append(mounts, corev1.VolumeMount{Name: v.Name, MountPath: v.Path})
	}
	tmpl := podTemplate(r, &s.stage, podOptions{probes: s.spec.probes, extraMounts: mounts})
	tmpl.Spec.TopologySpreadConstraints = spreadConstraints(&s.member, s.spec.spread, false)
	policy := appsv1.OrderedReadyPodManagement
	if st.ParallelStart {
		policy = appsv1.ParallelPodManagement
	}
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: s.meta(),
		Spec: appsv1.StatefulSetSpec{
			Replicas:             s.spec.replicas,
			Selector:             s.selector(),
			ServiceName:          s.name,
			PodManagementPolicy:  policy,
			Template:             tmpl,
			VolumeClaimTemplates: claims,
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
		},
	}
}

// claimTemplate is the claim each replica of a stateful stage gets.
func claimTemplate(v VolumeClaim) corev1.PersistentVolumeClaim {
	modes := make([]corev1.PersistentVolumeAccessMode, len(v.AccessModes))
	for i, m := range v.AccessModes {
		modes[i] = corev1.PersistentVolumeAccessMode(m)
	}
	c := corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: v.Name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: modes,
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(v.Size)}},
		},
	}
	if v.StorageClassName != "" {
		c.Spec.StorageClassName = ptr.To(v.StorageClassName)
	}
	return c
}

// service returns the stage's Service. A stateful stage's Service is
// headless: each replica gets a stable DNS name.
func (s *ProcessorStage) service(headless bool) *corev1.Service {
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: s.meta(),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: s.selector().MatchLabels,
		},
	}
	if headless {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
		svc.Spec.Type = ""
	}
	for _, p := range s.servicePorts {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: p.Name, Port: p.ServicePort, TargetPort: intstr.FromString(p.Name),
			Protocol: corev1.Protocol(p.Protocol),
		})
	}
	return svc
}

func (s *ProcessorStage) ingressObject() *networkingv1.Ingress {
	in := s.ingress
	pathType := networkingv1.PathType(in.PathType)
	rule := networkingv1.IngressRule{
		Host: in.Host,
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{
				Path: in.Path, PathType: &pathType,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: s.name, Port: networkingv1.ServiceBackendPort{Name: in.Port},
				}},
			}},
		}},
	}
	ing := &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: s.meta(),
		Spec:       networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{rule}},
	}
	if len(in.Annotations) > 0 {
		ing.Annotations = in.Annotations
	}
	if in.ClassName != "" {
		ing.Spec.IngressClassName = ptr.To(in.ClassName)
	}
	if in.TLSSecretName != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{in.Host}, SecretName: in.TLSSecretName}}
	}
	return ing
}

// shape draws a processor as a stadium, with its workload and replicas.
func (s *ProcessorStage) shape(r *rendering) (open, close, text string) {
	kind := "Deployment"
	if s.spec.stateful != nil {
		kind = "StatefulSet"
	}
	return "([", "])", kind + " · " + s.replicasLabel() + accelLabel(s.work.accelerators)
}

func (s *ProcessorStage) replicasLabel() string {
	if a := s.spec.autoscaling; a != nil {
		return fmt.Sprintf("%d-%d replicas (autoscaled)", a.min, a.max)
	}
	if e := s.spec.eventScaling; e != nil {
		var types []string
		for _, t := range e.triggers {
			types = append(types, t.Type)
		}
		return fmt.Sprintf("%d-%d replicas (KEDA: %s)", e.min, e.max, strings.Join(types, ", "))
	}
	if *s.spec.replicas == 1 {
		return "1 replica"
	}
	return fmt.Sprintf("%d replicas", *s.spec.replicas)
}

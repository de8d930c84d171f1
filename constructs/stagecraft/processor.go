package stagecraft

import (
	"fmt"
	"net"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// ProcessorStageProps configures a ProcessorStage.
type ProcessorStageProps struct {
	Workload

	// Replicas is the number of pods. Default: 1.
	Replicas *int32
	// Ports the container listens on; each is also a port of the stage's
	// Service. Default: none (no Service is created).
	Ports []Port
	// Readiness gates traffic to a pod. Default: a TCP check of the first
	// port, when there is one.
	Readiness *Probe
	// Liveness restarts a container that stops answering. Default: none,
	// since a wrong liveness probe restarts healthy pods under load.
	Liveness *Probe
	// Startup holds the other probes back while a slow container starts
	// (loading a model, for example). Default: none.
	Startup *Probe
	// Ingress exposes a port outside the cluster. Default: none.
	Ingress *Ingress
	// Stateful runs the stage as a StatefulSet with a headless Service and
	// a volume per replica, for stages that keep state (a vector index, a
	// queue). Default: nil, a Deployment.
	Stateful *Stateful
	// Autoscaling adds a HorizontalPodAutoscaler; it replaces Replicas.
	// Default: none, a fixed number of replicas.
	Autoscaling *Autoscaling
	// EventScaling scales the stage with KEDA on events, down to zero; it
	// replaces Replicas and excludes Autoscaling. Default: none.
	EventScaling *EventScaling
	// DisruptionBudget limits evictions of the stage's pods. Default: a
	// PodDisruptionBudget with maxUnavailable 1 when the stage may run more
	// than one pod (Replicas, or an autoscaler's maximum) or an autoscaler
	// owns its replica count; none for a single fixed replica.
	DisruptionBudget *DisruptionBudget
	// Spread places the pods across nodes and zones. Default: when the
	// stage may run more than one pod, a preferred spread (maxSkew 1)
	// across nodes and across zones.
	Spread *Spread
}

// Port is a named container port, exposed by the stage's Service.
type Port struct {
	// Name of the port (an IANA service name such as "http" or "grpc").
	// Required; the Service targets the container port by this name.
	Name string
	// ContainerPort the process listens on. Required.
	ContainerPort int32
	// ServicePort is the port of the Service. Default: ContainerPort.
	ServicePort int32
	// Protocol is TCP, UDP or SCTP. Default: TCP.
	Protocol string
}

func (p Port) protocol() string {
	if p.Protocol == "" {
		return string(corev1.ProtocolTCP)
	}
	return p.Protocol
}

func (p Port) servicePort() int32 {
	if p.ServicePort == 0 {
		return p.ContainerPort
	}
	return p.ServicePort
}

// Ingress routes HTTP traffic from outside the cluster to a stage.
type Ingress struct {
	// Host is the fully qualified host name to route, for example
	// "api.example.com". Default: every host.
	Host string
	// Path to route. Default: "/".
	Path string
	// PathType is Prefix, Exact or ImplementationSpecific. Default: Prefix.
	PathType string
	// Port is the name of the stage's port to route to. Default: the first.
	Port string
	// TLSSecretName names the Secret holding the certificate for Host.
	// Default: no TLS.
	TLSSecretName string
	// ClassName selects the ingress controller. Default: the cluster's
	// default IngressClass.
	ClassName string
	// Annotations for the ingress controller. Default: none.
	Annotations map[string]string
}

// Stateful turns a ProcessorStage into a StatefulSet.
type Stateful struct {
	// Volumes are claimed once per replica and kept across restarts.
	Volumes []VolumeClaim
	// ParallelStart starts and stops the replicas all at once instead of
	// one after another. Default: false (ordered).
	ParallelStart bool
}

// VolumeClaim is a volume that each replica of a stateful stage owns.
type VolumeClaim struct {
	// Name of the claim template. Required.
	Name string
	// Path where the volume is mounted. Required.
	Path string
	// Size is the capacity of each replica's volume. Required.
	Size string
	// StorageClassName to provision from. Default: the cluster's default.
	StorageClassName string
	// AccessModes of each volume. Default: ReadWriteOnce.
	AccessModes []string
}

// Endpoint is a stage's address inside the cluster.
type Endpoint struct {
	// Host is the Service's DNS name, "<stage>.<namespace>.svc".
	Host string
	// Port is the Service port.
	Port int32
}

// String returns "host:port".
func (e Endpoint) String() string { return fmt.Sprintf("%s:%d", e.Host, e.Port) }

// ProcessorStage is a long-running service: a Deployment (or, when
// Stateful, a StatefulSet with a headless Service), a Service for its
// ports and an optional Ingress.
type ProcessorStage struct {
	constructs.Construct
	stage
	props ProcessorStageProps // resolved
}

// statefulNameMax leaves room for the revision hash that the StatefulSet
// controller appends to the name in a 63-character label.
const statefulNameMax = 52

// NewProcessorStage creates a long-running stage in a pipeline. Its id is
// the name of its Deployment (or StatefulSet) and Service.
func NewProcessorStage(scope constructs.Construct, id string, props ProcessorStageProps) *ProcessorStage {
	s := &ProcessorStage{}
	max := validation.DNS1123LabelMaxLength
	if props.Stateful != nil {
		max = statefulNameMax
	}
	cid := s.init(s, scope, id, componentProcessor, max, props.Labels)
	if s.pipeline != nil {
		s.props = resolveProcessor(props, s.pipeline.defaults)
		s.validate(props)
	}
	constructs.NewConstruct_Override(s, scope, &cid)
	return s
}

func resolveProcessor(p ProcessorStageProps, d Defaults) ProcessorStageProps {
	r := p
	r.Workload = resolveWorkload(p.Workload, d)
	switch {
	case p.Autoscaling != nil || p.EventScaling != nil:
		r.Replicas = nil // owned by the autoscaler
	case p.Replicas == nil:
		r.Replicas = ptr.To[int32](1)
	default:
		r.Replicas = ptr.To(*p.Replicas)
	}
	r.Autoscaling = resolveAutoscaling(p.Autoscaling)
	r.EventScaling = resolveEventScaling(p.EventScaling)
	if r.TerminationGracePeriod == 0 {
		r.TerminationGracePeriod = defaultProcessorGrace
	}
	r.Ports = append([]Port(nil), p.Ports...)
	if r.Readiness == nil && len(r.Ports) > 0 {
		r.Readiness = &Probe{}
	}
	if p.Ingress != nil {
		in := *p.Ingress
		if in.Path == "" {
			in.Path = "/"
		}
		if in.PathType == "" {
			in.PathType = string(networkingv1.PathTypePrefix)
		}
		if in.Port == "" && len(r.Ports) > 0 {
			in.Port = r.Ports[0].Name
		}
		r.Ingress = &in
	}
	return r
}

func (s *ProcessorStage) validate(p ProcessorStageProps) {
	ps := &s.problems
	var claims []namedPath
	if p.Stateful != nil {
		for i, v := range p.Stateful.Volumes {
			claims = append(claims, namedPath{field.NewPath("Stateful", "Volumes").Index(i).Child("Path"), v.Path})
		}
	}
	validateWorkload(ps, s.pipeline, p.Workload, s.props.Workload, claims...)
	validateText(ps, p)
	if p.Replicas != nil && *p.Replicas < 0 {
		ps.add(field.NewPath("Replicas"), *p.Replicas, "must be zero or more")
	}
	validateAutoscaling(ps, p)
	validateEventScaling(ps, p)
	validateMetrics(ps, p.Metrics, p.Ports, true)
	min, _ := s.podCounts()
	validateDisruptionBudget(ps, p, min)
	names := map[string]int{}
	numbers := map[string]int{}
	svcPorts := map[string]int{}
	for i, port := range p.Ports {
		fld := field.NewPath("Ports").Index(i)
		if port.Name == "" {
			ps.required(fld.Child("Name"), "a port name such as \"http\"; the Service targets the container port by name")
		} else {
			ps.addAll(fld.Child("Name"), port.Name, validation.IsValidPortName(port.Name))
			if j, ok := names[port.Name]; ok {
				ps.add(fld.Child("Name"), port.Name, fmt.Sprintf("duplicates Ports[%d].Name", j))
			}
			names[port.Name] = i
		}
		ps.addAll(fld.Child("ContainerPort"), port.ContainerPort, validation.IsValidPortNum(int(port.ContainerPort)))
		key := fmt.Sprintf("%d/%s", port.ContainerPort, port.protocol())
		if j, ok := numbers[key]; ok {
			ps.add(fld.Child("ContainerPort"), port.ContainerPort, fmt.Sprintf("duplicates Ports[%d].ContainerPort", j))
		}
		numbers[key] = i
		if port.ServicePort != 0 {
			ps.addAll(fld.Child("ServicePort"), port.ServicePort, validation.IsValidPortNum(int(port.ServicePort)))
		}
		// A Service port is unique by number and protocol.
		svcKey := fmt.Sprintf("%d/%s", port.servicePort(), port.protocol())
		if j, ok := svcPorts[svcKey]; ok && port.ContainerPort > 0 {
			if port.ServicePort != 0 {
				ps.add(fld.Child("ServicePort"), port.ServicePort, fmt.Sprintf("duplicates the Service port of Ports[%d]", j))
			} else {
				ps.add(fld, port.Name, fmt.Sprintf("its Service port defaults to its ContainerPort %d, which duplicates the Service port of Ports[%d]; set ServicePort", port.ContainerPort, j))
			}
		}
		svcPorts[svcKey] = i
		switch corev1.Protocol(port.Protocol) {
		case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			ps.add(fld.Child("Protocol"), port.Protocol, "must be \"TCP\", \"UDP\" or \"SCTP\"")
		}
	}
	validateProbe(ps, field.NewPath("Readiness"), p.Readiness, p.Ports)
	validateProbe(ps, field.NewPath("Liveness"), p.Liveness, p.Ports)
	validateProbe(ps, field.NewPath("Startup"), p.Startup, p.Ports)
	if in := p.Ingress; in != nil {
		fld := field.NewPath("Ingress")
		switch {
		case len(p.Ports) == 0:
			ps.add(fld, "no port", "an Ingress routes to a Service port; add Ports")
		case in.Port != "" && !hasPort(p.Ports, in.Port):
			ps.add(fld.Child("Port"), in.Port, "the stage has no port of that name; allowed: "+portNames(p.Ports))
		}
		if in.Host != "" {
			if net.ParseIP(in.Host) != nil {
				ps.add(fld.Child("Host"), in.Host, "must be a DNS name, not an IP address")
			} else {
				ps.addAll(fld.Child("Host"), in.Host, validation.IsDNS1123Subdomain(strings.TrimPrefix(in.Host, "*.")))
			}
		}
		validateIngressPath(ps, fld.Child("Path"), in.Path, in.PathType)
		switch networkingv1.PathType(in.PathType) {
		case "", networkingv1.PathTypePrefix, networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific:
		default:
			ps.add(fld.Child("PathType"), in.PathType, "must be \"Prefix\", \"Exact\" or \"ImplementationSpecific\"")
		}
		if in.TLSSecretName != "" {
			ps.addAll(fld.Child("TLSSecretName"), in.TLSSecretName, validation.IsDNS1123Subdomain(in.TLSSecretName))
			if in.Host == "" {
				ps.required(fld.Child("Host"), "TLS needs the host name the certificate is for")
			}
		}
		if in.ClassName != "" {
			ps.addAll(fld.Child("ClassName"), in.ClassName, validation.IsDNS1123Subdomain(in.ClassName))
		}
		validateAnnotations(ps, fld.Child("Annotations"), in.Annotations)
	}
	if st := p.Stateful; st != nil {
		fld := field.NewPath("Stateful", "Volumes")
		seen := map[string]bool{}
		for i, v := range st.Volumes {
			f := fld.Index(i)
			if v.Name == "" {
				ps.required(f.Child("Name"), "the claim template's name")
			} else {
				ps.addAll(f.Child("Name"), v.Name, validation.IsDNS1123Label(v.Name))
				if seen[v.Name] {
					ps.add(f.Child("Name"), v.Name, "listed twice")
				}
				seen[v.Name] = true
			}
			validateMountPath(ps, f.Child("Path"), v.Path)
			if v.Size == "" {
				ps.required(f.Child("Size"), "each replica's capacity, for example \"20Gi\"")
			} else {
				validateQuantity(ps, f.Child("Size"), v.Size)
			}
			validateAccessModes(ps, f.Child("AccessModes"), v.AccessModes)
			if reservedVolumeName(v.Name) {
				ps.add(f.Child("Name"), v.Name, "names \"scratch*\", \"storage-*\", \"kube-api-access-*\", \"shm\" and \"wait-tmp\" are stagecraft's own pod volumes")
			}
			if v.StorageClassName != "" {
				ps.addAll(f.Child("StorageClassName"), v.StorageClassName, validation.IsDNS1123Subdomain(v.StorageClassName))
			}
		}
	}
}

// Endpoint returns the in-cluster address of the stage's first port (or
// of the port named portName, when given).
func (s *ProcessorStage) Endpoint(portName ...string) Endpoint {
	e := Endpoint{Host: fmt.Sprintf("%s.%s.svc", s.name, s.pipeline.namespace)}
	for _, p := range s.props.Ports {
		if len(portName) == 0 || p.Name == portName[0] {
			e.Port = p.servicePort()
			break
		}
	}
	return e
}

func (s *ProcessorStage) objects() []object {
	return append(s.waitObjects(s, s.props.Workload), s.workloadObjects()...)
}

func (s *ProcessorStage) workloadObjects() []object {
	p := s.props
	var out []object
	var claims []corev1.PersistentVolumeClaim
	var mounts []corev1.VolumeMount
	if p.Stateful != nil {
		for _, v := range p.Stateful.Volumes {
			modes := []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
			if len(v.AccessModes) > 0 {
				modes = modes[:0]
				for _, m := range v.AccessModes {
					modes = append(modes, corev1.PersistentVolumeAccessMode(m))
				}
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
			claims = append(claims, c)
			mounts = append(mounts, corev1.VolumeMount{Name: v.Name, MountPath: v.Path})
		}
	}
	tmpl := podTemplate(&s.stage, p.Workload, p.Ports, [3]*Probe{p.Readiness, p.Liveness, p.Startup}, "", mounts)
	tmpl.Spec.TopologySpreadConstraints = s.spread(p.Stateful != nil)
	kind := "Deployment"
	if p.Stateful != nil {
		kind = "StatefulSet"
	}
	svc := s.service(p.Stateful != nil)
	if p.Stateful == nil {
		if svc != nil {
			out = append(out, object{scope: s, id: "Service", obj: svc})
		}
		out = append(out, object{scope: s, id: "Deployment", obj: &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: s.meta(),
			Spec: appsv1.DeploymentSpec{
				Replicas: p.Replicas,
				Selector: s.selector(),
				Template: tmpl,
				Strategy: s.strategy(),
			},
		}})
	} else {
		if svc == nil {
			svc = s.service(true)
		}
		out = append(out, object{scope: s, id: "Service", obj: svc})
		policy := appsv1.OrderedReadyPodManagement
		if p.Stateful.ParallelStart {
			policy = appsv1.ParallelPodManagement
		}
		out = append(out, object{scope: s, id: "StatefulSet", obj: &appsv1.StatefulSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
			ObjectMeta: s.meta(),
			Spec: appsv1.StatefulSetSpec{
				Replicas:             p.Replicas,
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
		}})
	}
	if in := p.Ingress; in != nil {
		out = append(out, object{scope: s, id: "Ingress", obj: s.ingress(in)})
	}
	out = append(out, s.scalingObjects(kind)...)
	out = append(out, s.eventScalingObjects(kind)...)
	return append(out, s.monitor(s, s.props.Metrics, "ServiceMonitor")...)
}

// strategy returns Recreate when the stage mounts storage that attaches to
// one node only: a rolling update would start the new pod while the old
// one still holds the volume, and the new pod could not start elsewhere.
func (s *ProcessorStage) strategy() appsv1.DeploymentStrategy {
	for _, m := range s.props.Mounts {
		if m.Storage != nil && !shared(m.Storage) {
			return appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}
	}
	return appsv1.DeploymentStrategy{}
}

// service returns the stage's Service, or nil when it has no ports and is
// not stateful. A stateful stage's Service is headless: each replica gets
// a stable DNS name.
func (s *ProcessorStage) service(headless bool) *corev1.Service {
	if len(s.props.Ports) == 0 && !headless {
		return nil
	}
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
	for _, p := range s.props.Ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: p.Name, Port: p.servicePort(), TargetPort: intstr.FromString(p.Name),
			Protocol: corev1.Protocol(p.protocol()),
		})
	}
	return svc
}

func (s *ProcessorStage) ingress(in *Ingress) *networkingv1.Ingress {
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

// validateIngressPath applies the API server's rules for Prefix and Exact
// paths.
func validateIngressPath(ps *problems, fld *field.Path, p, pathType string) {
	if p == "" {
		return
	}
	if !strings.HasPrefix(p, "/") {
		ps.add(fld, p, "must start with '/'")
		return
	}
	if pathType == string(networkingv1.PathTypeImplementationSpecific) {
		return
	}
	bad := strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
	for _, s := range []string{"//", "/./", "/../", "%2f", "%2F"} {
		bad = bad || strings.Contains(p, s)
	}
	if bad {
		ps.add(fld, p, "a Prefix or Exact path must not contain '//', '/./', '/../' or '%2f', nor end in '/.' or '/..'")
	}
}

// reservedVolumeName reports names of the pod volumes stagecraft adds.
func reservedVolumeName(n string) bool {
	return strings.HasPrefix(n, "scratch") || strings.HasPrefix(n, "storage-") || strings.HasPrefix(n, "kube-api-access-") || n == "shm" || n == "wait-tmp"
}

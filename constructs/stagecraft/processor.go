package stagecraft

import (
	"fmt"

	"github.com/aws/constructs-go/constructs/v10"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ProcessorStageProps configures a ProcessorStage.
type ProcessorStageProps struct {
	Workload

	// Replicas is the number of pods (spec.replicas), zero or more.
	// Default: 1.
	Replicas *int32
	// Ports the container listens on; each is also a port of the stage's
	// Service. Default: none (no Service is created).
	Ports []Port
	// Readiness gates traffic to a pod (readinessProbe). Default: a TCP
	// check of the first TCP port, when there is one.
	Readiness *Probe
	// Liveness restarts a container that stops answering (livenessProbe).
	// Default: none, since a wrong liveness probe restarts healthy pods
	// under load.
	Liveness *Probe
	// Startup holds the other probes back while a slow container starts
	// (loading a model, for example) (startupProbe). Default: none.
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
	// Rollout bounds how the Deployment replaces its pods on a change
	// (spec.strategy.rollingUpdate). Default: Kubernetes' (25 % surge, 25 %
	// unavailable), except with Accelerators: maxSurge 0 and
	// maxUnavailable 1, since a surge pod would wait for a spare
	// accelerator and, without one, stall the rollout for ever. Set
	// MaxSurge only where spare accelerators exist. A stage that mounts
	// storage attaching to one node rolls by Recreate, and a StatefulSet
	// (Stateful) replaces one pod at a time without surge: Rollout is a
	// problem on both.
	Rollout *Rollout
}

// Port is a named container port, exposed by the stage's Service.
type Port struct {
	// Name of the port (ports[].name of the container and the Service),
	// an IANA service name such as "http" or "grpc", at most 15
	// characters. Required; the Service targets the container port by
	// this name (targetPort).
	Name string
	// ContainerPort the process listens on (containerPort), 1 to 65535.
	// Required.
	ContainerPort int32
	// ServicePort is the port of the Service (the Service's ports[].port),
	// 1 to 65535. Default: ContainerPort. A stateful stage's Service is headless (its name
	// resolves to the pods), so there it must be ContainerPort.
	ServicePort int32
	// Protocol is TCP, UDP or SCTP (protocol). Default: TCP.
	Protocol string
}

// Ingress routes HTTP traffic from outside the cluster to a stage, through
// an Ingress of the stage's name.
type Ingress struct {
	// Host is the fully qualified host name to route
	// (spec.rules[0].host, and spec.tls[0].hosts with TLSSecretName), for
	// example "api.example.com"; "*.example.com" routes every subdomain.
	// An IP address is a problem. Default: every host (a rule without a
	// host); required with TLSSecretName.
	Host string
	// Path to route (spec.rules[0].http.paths[0].path), starting with '/'.
	// Default: "/".
	Path string
	// PathType is Prefix, Exact or ImplementationSpecific (pathType).
	// Default: Prefix.
	PathType string
	// Port is the name of the stage's port to route to
	// (backend.service.port.name), a TCP port. Default: the first.
	Port string
	// TLSSecretName names the Secret holding the certificate for Host
	// (spec.tls[0].secretName). Default: no TLS.
	TLSSecretName string
	// ClassName selects the ingress controller (spec.ingressClassName).
	// Default: the cluster's default IngressClass.
	ClassName string
	// Annotations for the ingress controller (the Ingress's
	// metadata.annotations). Default: none.
	Annotations map[string]string
}

// Stateful turns a ProcessorStage into a StatefulSet, with a headless
// Service (clusterIP: None) of the stage's name as its spec.serviceName.
type Stateful struct {
	// Volumes are claimed once per replica (spec.volumeClaimTemplates) and
	// kept across restarts, scaling down and deletion of the stage
	// (persistentVolumeClaimRetentionPolicy Retain). Default: none, the
	// replicas keep no volume of their own.
	Volumes []VolumeClaim
	// ParallelStart starts and stops the replicas all at once instead of
	// one after another (podManagementPolicy: Parallel). Default: false
	// (OrderedReady).
	ParallelStart bool
}

// VolumeClaim is a volume that each replica of a stateful stage owns.
type VolumeClaim struct {
	// Name of the claim template (metadata.name), a DNS label, unique in
	// the stage and not a name of stagecraft's own pod volumes
	// ("scratch*", "storage-*", "shm", ...). Required. Each replica's claim is named
	// "<name>-<stage>-<ordinal>".
	Name string
	// Path where the volume is mounted (mountPath), absolute. Required.
	Path string
	// Size is the capacity of each replica's volume
	// (resources.requests.storage), a Kubernetes quantity such as "20Gi".
	// Required.
	Size string
	// StorageClassName to provision from (storageClassName). Default: the
	// cluster's default.
	StorageClassName string
	// AccessModes of each volume (accessModes). Default: ReadWriteOnce.
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
	props ProcessorStageProps // as given, for validation
	spec  processorSpec
}

// processorSpec is a ProcessorStage's resolved settings beyond the
// workload.
type processorSpec struct {
	replicas         *int32 // nil when an autoscaler owns the count
	minPods, maxPods int32
	probes           [3]*probeSpec // readiness, liveness, startup
	stateful         *Stateful
	autoscaling      *autoscalingSpec
	eventScaling     *eventScalingSpec
	budget           *budgetSpec
	spread           *spreadSpec
	strategy         appsv1.DeploymentStrategyType // "" for Kubernetes' RollingUpdate
}

// processorNameMax leaves room for the hash that the Deployment controller
// appends to the names of its ReplicaSets, and the StatefulSet controller
// to the names of its revisions, in a 63-character label (the API server
// warns about a ReplicaSet name beyond it).
const processorNameMax = 52

// NewProcessorStage creates a long-running stage in a pipeline. Its id is
// the name of its Deployment (or StatefulSet) and Service, at most 52
// characters.
func NewProcessorStage(scope constructs.Construct, id string, props ProcessorStageProps) *ProcessorStage {
	defer lockConstructs()()
	s := &ProcessorStage{}
	cid := s.join(s, scope, id, componentProcessor, processorNameMax, props.Labels)
	s.resolve(props)
	s.create(s, scope, cid)
	return s
}

// resolve applies every default of the props, and the pipeline's.
func (s *ProcessorStage) resolve(p ProcessorStageProps) {
	s.props = p
	s.props.Ports = append([]Port(nil), p.Ports...)
	s.work = resolveWorkload(s.name, p.Workload, s.defaults())
	s.props.Workload = s.work.given
	if s.work.grace == 0 {
		s.work.grace = defaultProcessorGrace
	}
	s.ports = resolvePorts(p.Ports)
	s.servicePorts = s.ports
	r := &s.spec
	r.autoscaling = resolveAutoscaling(p.Autoscaling)
	r.eventScaling = resolveEventScaling(p.EventScaling)
	switch {
	case r.autoscaling != nil:
		r.minPods, r.maxPods = r.autoscaling.min, r.autoscaling.max
	case r.eventScaling != nil:
		r.minPods, r.maxPods = r.eventScaling.min, r.eventScaling.max
	default:
		n := int32(defaultReplicas)
		if p.Replicas != nil {
			n = *p.Replicas
		}
		r.replicas, r.minPods, r.maxPods = &n, n, n
	}
	s.maxPods = int64(r.maxPods)
	readiness := p.Readiness
	if readiness == nil {
		readiness = defaultReadiness(s.ports)
	}
	r.probes = [3]*probeSpec{resolveProbe(readiness, s.ports), resolveProbe(p.Liveness, s.ports), resolveProbe(p.Startup, s.ports)}
	s.ingress = resolveIngress(p.Ingress, s.ports)
	r.stateful = resolveStateful(p.Stateful)
	scaled := r.autoscaling != nil || r.eventScaling != nil
	r.budget = resolveBudget(p.DisruptionBudget, r.maxPods, scaled)
	r.spread = resolveSpread(p.Spread, r.maxPods)
	r.strategy = s.resolveStrategy()
}

// defaultReadiness is a TCP check of the first TCP port; nil without one
// (a UDP port cannot be checked over TCP).
func defaultReadiness(ports []Port) *Probe {
	for _, p := range ports {
		if p.Protocol == string(corev1.ProtocolTCP) {
			return &Probe{Port: p.Name}
		}
	}
	return nil
}

// defaults returns the pipeline's defaults; none outside a pipeline.
func (s *stage) defaults() Defaults {
	if s.pipeline == nil {
		return Defaults{}
	}
	return s.pipeline.defaults
}

// resolvePorts fills in each port's Service port and protocol.
func resolvePorts(ports []Port) []Port {
	out := make([]Port, len(ports))
	for i, p := range ports {
		if p.ServicePort == 0 {
			p.ServicePort = p.ContainerPort
		}
		p.Protocol = firstOf(p.Protocol, string(corev1.ProtocolTCP))
		out[i] = p
	}
	return out
}

func resolveIngress(in *Ingress, ports []Port) *Ingress {
	if in == nil {
		return nil
	}
	r := *in
	r.Path = firstOf(r.Path, defaultIngressPath)
	r.PathType = firstOf(r.PathType, string(networkingv1.PathTypePrefix))
	if r.Port == "" && len(ports) > 0 {
		r.Port = ports[0].Name
	}
	r.Annotations = copyMap(in.Annotations)
	return &r
}

func resolveStateful(st *Stateful) *Stateful {
	if st == nil {
		return nil
	}
	r := *st
	r.Volumes = nil
	for _, v := range st.Volumes {
		if len(v.AccessModes) == 0 {
			v.AccessModes = []string{string(corev1.ReadWriteOnce)}
		} else {
			v.AccessModes = append([]string(nil), v.AccessModes...)
		}
		r.Volumes = append(r.Volumes, v)
	}
	return &r
}

// resolveStrategy returns Recreate when the stage mounts storage that
// attaches to one node only: a rolling update would start the new pod
// while the old one still holds the volume, and the new pod could not
// start elsewhere.
func (s *ProcessorStage) resolveStrategy() appsv1.DeploymentStrategyType {
	for _, m := range s.work.mounts {
		if m.Storage != nil && !m.Storage.shared() {
			return appsv1.RecreateDeploymentStrategyType
		}
	}
	return ""
}

// Endpoint returns the in-cluster address of the stage's first port, or
// of the port named portName when given. Asking for a port the stage does
// not have, or for the endpoint of a stage outside a pipeline, is a
// problem of the stage (reported by Validate and Synthesize); the
// Endpoint returned then has Port 0.
func (s *ProcessorStage) Endpoint(portName ...string) Endpoint {
	defer lockConstructs()()
	ns := ""
	if s.pipeline != nil {
		ns = s.pipeline.namespace
	}
	e := Endpoint{Host: fmt.Sprintf("%s.%s.svc", s.name, ns)}
	for _, p := range s.ports {
		if len(portName) == 0 || p.Name == portName[0] {
			e.Port = p.ServicePort
			return e
		}
	}
	fld := field.NewPath("Endpoint")
	switch {
	case len(portName) > 0:
		s.misuse = append(s.misuse, notSupported(fld, portName[0], "Endpoint asked for a port the stage does not have; allowed: "+portNames(s.ports)))
	default:
		s.misuse = append(s.misuse, invalid(fld, s.name, "Endpoint asked for the address of a stage without Ports"))
	}
	return e
}

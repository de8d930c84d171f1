package stagecraft

import (
	"fmt"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validate checks a ProcessorStage's props.
func (s *ProcessorStage) validate() field.ErrorList {
	p := s.props
	var claims []namedPath
	if p.Stateful != nil {
		for i, v := range p.Stateful.Volumes {
			claims = append(claims, namedPath{field.NewPath("Stateful", "Volumes").Index(i).Child("Path"), v.Path})
		}
	}
	errs := validateWorkload(s.pipeline, s.work, claims...)
	if len(s.ports) > 0 || p.Stateful != nil {
		errs = append(errs, validateServiceName(s.name)...)
	}
	errs = append(errs, validateText(p)...)
	errs = append(errs, validateNonNegative(namedCount{"Replicas", p.Replicas})...)
	errs = append(errs, validateAutoscaling(p.Autoscaling, p.Replicas)...)
	errs = append(errs, validateEventScaling(p.EventScaling, p.Autoscaling != nil, p.Replicas)...)
	errs = append(errs, validateMetrics(s.work, s.servicePorts, true)...)
	errs = append(errs, validateBudget(p.DisruptionBudget, s.spec.minPods)...)
	errs = append(errs, validatePorts(p.Ports, s.ports)...)
	if p.Stateful != nil {
		errs = append(errs, validateHeadlessPorts(p.Ports)...)
	}
	errs = append(errs, validateProbe(field.NewPath("Readiness"), p.Readiness, p.Ports)...)
	errs = append(errs, validateProbe(field.NewPath("Liveness"), p.Liveness, p.Ports)...)
	errs = append(errs, validateProbe(field.NewPath("Startup"), p.Startup, p.Ports)...)
	errs = append(errs, validateIngress(p.Ingress, p.Ports)...)
	errs = append(errs, s.validateRollout()...)
	if p.Stateful != nil {
		errs = append(errs, validateClaims(p.Stateful.Volumes)...)
	}
	return errs
}

// validateServiceName checks a stage id that names a Service: Kubernetes
// before 1.36 requires a DNS-1035 label (starting with a letter).
func validateServiceName(name string) field.ErrorList {
	if len(validation.IsDNS1123Label(name)) > 0 {
		return nil // reported as an id problem already
	}
	if msgs := validation.IsDNS1035Label(name); len(msgs) > 0 {
		return field.ErrorList{invalid(field.NewPath("id"), name, "names the stage's Service, which must start with a letter on Kubernetes "+minKubernetesVersion+" to 1.35 (stagecraft supports "+minKubernetesVersion+" and later)")}
	}
	return nil
}

// validatePorts checks the ports as given and resolved: names, numbers
// and the Service ports they make, unique by number and protocol.
func validatePorts(ports, resolved []Port) field.ErrorList {
	var errs field.ErrorList
	names, numbers, svcPorts := map[string]int{}, map[string]int{}, map[string]int{}
	for i, port := range resolved {
		fld := field.NewPath("Ports").Index(i)
		given := ports[i]
		if port.Name == "" {
			errs = append(errs, required(fld.Child("Name"), "a port name such as \"http\"; the Service targets the container port by name"))
		} else {
			errs = append(errs, each(fld.Child("Name"), port.Name, validation.IsValidPortName(port.Name))...)
			if j, ok := names[port.Name]; ok {
				errs = append(errs, duplicate(fld.Child("Name"), port.Name, fmt.Sprintf("duplicates Ports[%d].Name", j)))
			}
			names[port.Name] = i
		}
		errs = append(errs, each(fld.Child("ContainerPort"), port.ContainerPort, validation.IsValidPortNum(int(port.ContainerPort)))...)
		key := fmt.Sprintf("%d/%s", port.ContainerPort, port.Protocol)
		if j, ok := numbers[key]; ok {
			errs = append(errs, duplicate(fld.Child("ContainerPort"), port.ContainerPort, fmt.Sprintf("duplicates Ports[%d].ContainerPort", j)))
		}
		numbers[key] = i
		if given.ServicePort != 0 {
			errs = append(errs, each(fld.Child("ServicePort"), given.ServicePort, validation.IsValidPortNum(int(given.ServicePort)))...)
		}
		svcKey := fmt.Sprintf("%d/%s", port.ServicePort, port.Protocol)
		if j, ok := svcPorts[svcKey]; ok && port.ContainerPort > 0 {
			if given.ServicePort != 0 {
				errs = append(errs, duplicate(fld.Child("ServicePort"), given.ServicePort, fmt.Sprintf("duplicates the Service port of Ports[%d]", j)))
			} else {
				errs = append(errs, duplicate(fld, port.Name, fmt.Sprintf("its Service port defaults to its ContainerPort %d, which duplicates the Service port of Ports[%d]; set ServicePort", port.ContainerPort, j)))
			}
		}
		svcPorts[svcKey] = i
		errs = append(errs, validateProtocol(fld.Child("Protocol"), given.Protocol)...)
	}
	return errs
}

// validateProbe checks a probe against the container's port names.
func validateProbe(fld *field.Path, pr *Probe, ports []Port) field.ErrorList {
	if pr == nil {
		return nil
	}
	var errs field.ErrorList
	if pr.HTTPPath != "" && len(pr.Command) > 0 {
		errs = append(errs, forbidden(fld, pr.HTTPPath, "set HTTPPath or Command, not both"))
	}
	if pr.HTTPPath != "" && !strings.HasPrefix(pr.HTTPPath, "/") {
		errs = append(errs, invalid(fld.Child("HTTPPath"), pr.HTTPPath, "must start with '/'"))
	}
	if len(pr.Command) == 0 {
		switch {
		case pr.Port != "" && !hasPort(ports, pr.Port):
			errs = append(errs, notSupported(fld.Child("Port"), pr.Port, "the container exposes no port of that name; allowed: "+portNames(ports)))
		case pr.Port == "" && len(ports) == 0:
			errs = append(errs, required(fld.Child("Port"), "an HTTP or TCP probe needs a container port; add Ports or use Command"))
		default:
			errs = append(errs, validateTCP(fld.Child("Port"), ports, pr.Port, "an HTTP or TCP probe connects over TCP, so it would never succeed; probe a TCP port or use Command")...)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"InitialDelay", pr.InitialDelay}, {"Period", pr.Period}, {"Timeout", pr.Timeout}} {
		errs = append(errs, validateSeconds(fld.Child(d.name), d.v, "must be zero or a positive whole number of seconds")...)
	}
	if pr.FailureThreshold < 0 {
		errs = append(errs, invalid(fld.Child("FailureThreshold"), pr.FailureThreshold, "must be zero (default 3) or positive"))
	}
	return errs
}

func validateIngress(in *Ingress, ports []Port) field.ErrorList {
	if in == nil {
		return nil
	}
	fld := field.NewPath("Ingress")
	var errs field.ErrorList
	switch {
	case len(ports) == 0:
		errs = append(errs, required(fld.Child("Port"), "an Ingress routes to a Service port; add Ports"))
	case in.Port != "" && !hasPort(ports, in.Port):
		errs = append(errs, notSupported(fld.Child("Port"), in.Port, "the stage has no port of that name; allowed: "+portNames(ports)))
	default:
		errs = append(errs, validateTCP(fld.Child("Port"), ports, in.Port, "an Ingress carries HTTP, over TCP; route it to a TCP port")...)
	}
	if in.Host != "" {
		if net.ParseIP(in.Host) != nil {
			errs = append(errs, invalid(fld.Child("Host"), in.Host, "must be a DNS name, not an IP address"))
		} else {
			errs = append(errs, each(fld.Child("Host"), in.Host, validation.IsDNS1123Subdomain(strings.TrimPrefix(in.Host, "*.")))...)
		}
	}
	errs = append(errs, validateIngressPath(fld.Child("Path"), in.Path, in.PathType)...)
	switch networkingv1.PathType(in.PathType) {
	case "", networkingv1.PathTypePrefix, networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific:
	default:
		errs = append(errs, notSupported(fld.Child("PathType"), in.PathType, "must be \"Prefix\", \"Exact\" or \"ImplementationSpecific\""))
	}
	if in.TLSSecretName != "" {
		errs = append(errs, each(fld.Child("TLSSecretName"), in.TLSSecretName, validation.IsDNS1123Subdomain(in.TLSSecretName))...)
		if in.Host == "" {
			errs = append(errs, required(fld.Child("Host"), "TLS needs the host name the certificate is for"))
		}
	}
	if in.ClassName != "" {
		errs = append(errs, each(fld.Child("ClassName"), in.ClassName, validation.IsDNS1123Subdomain(in.ClassName))...)
	}
	return append(errs, validateAnnotations(fld.Child("Annotations"), in.Annotations)...)
}

// validateTCP checks that the port named name (the first port when name
// is "") speaks TCP; why says what needs it.
func validateTCP(fld *field.Path, ports []Port, name, why string) field.ErrorList {
	for _, p := range ports {
		if p.Name == name || name == "" {
			if p.Protocol != "" && p.Protocol != string(corev1.ProtocolTCP) {
				return field.ErrorList{invalid(fld, p.Name, fmt.Sprintf("port %q is %s: %s", p.Name, p.Protocol, why))}
			}
			return nil
		}
	}
	return nil
}

// validateIngressPath applies the API server's rules for Prefix and Exact
// paths.
func validateIngressPath(fld *field.Path, p, pathType string) field.ErrorList {
	if p == "" {
		return nil
	}
	if !strings.HasPrefix(p, "/") {
		return field.ErrorList{invalid(fld, p, "must start with '/'")}
	}
	if pathType == string(networkingv1.PathTypeImplementationSpecific) {
		return nil
	}
	bad := strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
	for _, s := range []string{"//", "/./", "/../", "%2f", "%2F"} {
		bad = bad || strings.Contains(p, s)
	}
	if bad {
		return field.ErrorList{invalid(fld, p, "a Prefix or Exact path must not contain '//', '/./', '/../' or '%2f', nor end in '/.' or '/..'")}
	}
	return nil
}

// validateClaims checks the volume claim templates of a stateful stage.
func validateClaims(volumes []VolumeClaim) field.ErrorList {
	fld := field.NewPath("Stateful", "Volumes")
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, v := range volumes {
		f := fld.Index(i)
		if v.Name == "" {
			errs = append(errs, required(f.Child("Name"), "the claim template's name"))
		} else {
			errs = append(errs, each(f.Child("Name"), v.Name, validation.IsDNS1123Label(v.Name))...)
			if seen[v.Name] {
				errs = append(errs, duplicate(f.Child("Name"), v.Name, "listed twice"))
			}
			seen[v.Name] = true
		}
		errs = append(errs, validateMountPath(f.Child("Path"), v.Path)...)
		if v.Size == "" {
			errs = append(errs, required(f.Child("Size"), "each replica's capacity, for example \"20Gi\""))
		} else {
			_, qerrs := validateBytes(f.Child("Size"), v.Size)
			errs = append(errs, qerrs...)
		}
		errs = append(errs, validateAccessModes(f.Child("AccessModes"), v.AccessModes)...)
		if reservedVolumeName(v.Name) {
			errs = append(errs, forbidden(f.Child("Name"), v.Name, "names \"scratch*\", \"storage-*\", \"kube-api-access-*\", \"shm\" and \"wait-tmp\" are stagecraft's own pod volumes"))
		}
		if v.StorageClassName != "" {
			errs = append(errs, each(f.Child("StorageClassName"), v.StorageClassName, validation.IsDNS1123Subdomain(v.StorageClassName))...)
		}
	}
	return errs
}

// reservedVolumeName reports names of the pod volumes stagecraft adds.
func reservedVolumeName(n string) bool {
	return strings.HasPrefix(n, "scratch") || strings.HasPrefix(n, "storage-") || strings.HasPrefix(n, "kube-api-access-") || n == "shm"
}

// validateHeadlessPorts checks the ports of a stateful stage, whose
// Service is headless: its name resolves to the pods' addresses, and
// nothing translates a Service port into a container port, so callers
// must use the container port.
func validateHeadlessPorts(ports []Port) field.ErrorList {
	var errs field.ErrorList
	for i, port := range ports {
		if port.ServicePort != 0 && port.ServicePort != port.ContainerPort {
			errs = append(errs, invalid(field.NewPath("Ports").Index(i).Child("ServicePort"), port.ServicePort,
				fmt.Sprintf("a stateful stage's Service is headless (callers reach the pods directly), so its port must be the ContainerPort, %d; leave ServicePort unset", port.ContainerPort)))
		}
	}
	return errs
}

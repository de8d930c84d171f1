package stagecraft

import (
	"fmt"
	"net"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// More of the API server's rules that an object changed by an override is
// checked against, with the validators the props use where there is one:
// a workload's selector must select its pod template, a Service's ports
// must be in range, an Ingress path must suit its type, a claim's access
// modes must exist, a CronJob's schedule and time zone must parse.

// nodePortRange is the API server's default --service-node-port-range.
const nodePortMin, nodePortMax = 30000, 32767

// validateKindRules checks the rules of o's kind beyond its metadata,
// counts and pod template.
func validateKindRules(o runtime.Object) field.ErrorList {
	spec := field.NewPath("spec")
	switch t := o.(type) {
	case *appsv1.Deployment:
		return append(validateSelects(spec, t.Spec.Selector, t.Spec.Template.Labels, true), validateStrategy(spec.Child("strategy"), t.Spec.Strategy)...)
	case *appsv1.StatefulSet:
		errs := validateSelects(spec, t.Spec.Selector, t.Spec.Template.Labels, true)
		for i, c := range t.Spec.VolumeClaimTemplates {
			errs = append(errs, validateAccessModes(spec.Child("volumeClaimTemplates").Index(i).Child("spec", "accessModes"), modeNames(c.Spec.AccessModes))...)
		}
		return errs
	case *appsv1.DaemonSet:
		return validateSelects(spec, t.Spec.Selector, t.Spec.Template.Labels, true)
	case *batchv1.Job:
		errs := append(validateJobModes(spec, &t.Spec), validateJobExtras(spec, &t.Spec)...)
		if t.Spec.ManualSelector != nil && *t.Spec.ManualSelector {
			errs = append(errs, validateSelects(spec, t.Spec.Selector, t.Spec.Template.Labels, true)...)
		}
		return errs
	case *batchv1.CronJob:
		js := spec.Child("jobTemplate", "spec")
		errs := append(validateCronJob(spec, &t.Spec), validateJobModes(js, &t.Spec.JobTemplate.Spec)...)
		return append(append(errs, validateJobExtras(js, &t.Spec.JobTemplate.Spec)...), validateCronJobName(t.Name)...)
	case *corev1.Service:
		return append(validateServicePorts(spec, &t.Spec), validateServiceType(spec, &t.Spec)...)
	case *networkingv1.Ingress:
		return append(validateIngressRules(spec, &t.Spec), validateIngressExtras(spec, &t.Spec)...)
	case *networkingv1.NetworkPolicy:
		return validateNetworkPolicy(spec, &t.Spec)
	case *corev1.PersistentVolumeClaim:
		return append(validateAccessModes(spec.Child("accessModes"), modeNames(t.Spec.AccessModes)), validateClaimExtras(spec, &t.Spec)...)
	case *corev1.PersistentVolume:
		return validateAccessModes(spec.Child("accessModes"), modeNames(t.Spec.AccessModes))
	case *policyv1.PodDisruptionBudget:
		return append(validateSelects(spec, t.Spec.Selector, nil, false), validatePDB(spec, &t.Spec)...)
	}
	return nil
}

// validateSelects checks a workload's selector, and (when template is
// set) that it selects the pod template's labels, as the API server
// requires of a workload.
func validateSelects(spec *field.Path, sel *metav1.LabelSelector, tmpl map[string]string, template bool) field.ErrorList {
	fld := spec.Child("selector")
	if sel == nil {
		if !template {
			return nil
		}
		return field.ErrorList{required(fld, "a selector of the pod template's labels")}
	}
	errs := metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, fld)
	if len(errs) > 0 || !template {
		return errs
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	switch {
	case err != nil:
		return field.ErrorList{invalid(fld, sel, err.Error())}
	case s.Empty():
		return field.ErrorList{invalid(fld, sel, "an empty selector selects every pod of the namespace; select the pod template's labels")}
	case !s.Matches(labels.Set(tmpl)):
		return field.ErrorList{invalid(spec.Child("template", "metadata", "labels"), tmpl, "`selector` does not match template `labels`: the selector "+s.String()+" must select them")}
	}
	return nil
}

// modeNames returns access modes as the strings the props give them in.
func modeNames(modes []corev1.PersistentVolumeAccessMode) []string {
	out := make([]string, len(modes))
	for i, m := range modes {
		out[i] = string(m)
	}
	return out
}

// validateCronJob checks a CronJob's schedule, time zone and concurrency
// policy, with the props' validators.
func validateCronJob(spec *field.Path, s *batchv1.CronJobSpec) field.ErrorList {
	errs := validateCron(spec.Child("schedule"), s.Schedule, "spec.timeZone")
	if tz := s.TimeZone; tz != nil {
		if *tz == "" {
			errs = append(errs, invalid(spec.Child("timeZone"), "", "must be unset or an IANA time zone name such as \"Etc/UTC\""))
		}
		errs = append(errs, validateTimeZone(spec.Child("timeZone"), *tz)...)
	}
	return append(errs, oneOf(spec.Child("concurrencyPolicy"), s.ConcurrencyPolicy, batchv1.ForbidConcurrent, batchv1.AllowConcurrent, batchv1.ReplaceConcurrent)...)
}

// validateServicePorts checks a Service's ports: in range, named when
// there are several, and node ports only where the type has them, in the
// API server's default range.
func validateServicePorts(spec *field.Path, s *corev1.ServiceSpec) field.ErrorList {
	errs := oneOf(spec.Child("type"), s.Type, corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName)
	errs = append(errs, oneOf(spec.Child("sessionAffinity"), s.SessionAffinity, corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone)...)
	nodePorts := s.Type == corev1.ServiceTypeNodePort || s.Type == corev1.ServiceTypeLoadBalancer
	if s.ExternalTrafficPolicy != "" && !nodePorts {
		errs = append(errs, invalid(spec.Child("externalTrafficPolicy"), s.ExternalTrafficPolicy, "may only be set for externally-accessible services (type NodePort or LoadBalancer)"))
	}
	names, ports := map[string]bool{}, map[string]bool{}
	for i, p := range s.Ports {
		fld := spec.Child("ports").Index(i)
		errs = append(errs, oneOf(fld.Child("protocol"), p.Protocol, corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)...)
		if names[p.Name] {
			errs = append(errs, duplicate(fld.Child("name"), p.Name, "port names must be unique in a Service"))
		}
		if key := fmt.Sprint(p.Port, "/", p.Protocol); ports[key] {
			errs = append(errs, duplicate(fld, key, "a port and protocol may appear once in a Service"))
		} else {
			ports[key] = true
		}
		names[p.Name] = true
		if len(s.Ports) > 1 && p.Name == "" {
			errs = append(errs, required(fld.Child("name"), "a name: a Service with several ports names each"))
		}
		errs = append(errs, each(fld.Child("port"), p.Port, validation.IsValidPortNum(int(p.Port)))...)
		switch t := p.TargetPort; {
		case t.Type == intstr.String:
			errs = append(errs, each(fld.Child("targetPort"), t.StrVal, validation.IsValidPortName(t.StrVal))...)
		case t.IntVal != 0: // 0 is the port's own number
			errs = append(errs, each(fld.Child("targetPort"), t.IntVal, validation.IsValidPortNum(int(t.IntVal)))...)
		}
		switch {
		case p.NodePort == 0:
		case !nodePorts:
			errs = append(errs, forbidden(fld.Child("nodePort"), p.NodePort, "may not be used when `type` is "+quoteOr(string(s.Type), "ClusterIP (the default)")+"; set type NodePort or LoadBalancer"))
		case p.NodePort < nodePortMin || p.NodePort > nodePortMax:
			errs = append(errs, invalid(fld.Child("nodePort"), p.NodePort, "must be in the API server's node port range, 30000-32767 by default (--service-node-port-range)"))
		}
	}
	return errs
}

// validateIngressRules checks each path of an Ingress with the props'
// validator: a type, and a path that suits it.
func validateIngressRules(spec *field.Path, s *networkingv1.IngressSpec) field.ErrorList {
	var errs field.ErrorList
	for i, r := range s.Rules {
		if r.Host != "" {
			hf := spec.Child("rules").Index(i).Child("host")
			if net.ParseIP(r.Host) != nil {
				errs = append(errs, invalid(hf, r.Host, "must be a DNS name, not an IP address"))
			} else {
				errs = append(errs, each(hf, r.Host, validation.IsDNS1123Subdomain(strings.TrimPrefix(r.Host, "*.")))...)
			}
		}
		if r.HTTP == nil {
			continue
		}
		for j, p := range r.HTTP.Paths {
			fld := spec.Child("rules").Index(i).Child("http", "paths").Index(j)
			if p.PathType == nil {
				errs = append(errs, required(fld.Child("pathType"), "a path type is required: Prefix, Exact or ImplementationSpecific"))
				continue
			}
			switch *p.PathType {
			case networkingv1.PathTypePrefix, networkingv1.PathTypeExact:
				if p.Path == "" {
					errs = append(errs, required(fld.Child("path"), "an absolute path such as \"/\" for a Prefix or Exact path"))
				}
			case networkingv1.PathTypeImplementationSpecific:
			default:
				errs = append(errs, notSupported(fld.Child("pathType"), *p.PathType, "must be \"Prefix\", \"Exact\" or \"ImplementationSpecific\""))
				continue
			}
			errs = append(errs, validateIngressPath(fld.Child("path"), p.Path, string(*p.PathType))...)
			if b := p.Backend.Service; b != nil {
				errs = append(errs, each(fld.Child("backend", "service", "name"), b.Name, validation.IsDNS1123Label(b.Name))...)
			}
		}
	}
	return errs
}

// validatePodReferences checks what a pod template's containers refer to:
// each mount a volume of the pod (or a claim template of its StatefulSet),
// at a path no other mount of the container uses, and each field
// reference a field the downward API has.
func validatePodReferences(path *field.Path, spec *corev1.PodSpec, claims []string) field.ErrorList {
	vols := map[string]bool{}
	var errs field.ErrorList
	for i, v := range spec.Volumes {
		if vols[v.Name] {
			errs = append(errs, duplicate(path.Child("spec", "volumes").Index(i).Child("name"), v.Name, "volume names must be unique in a pod"))
		}
		vols[v.Name] = true
		if v.DownwardAPI != nil {
			for j, f := range v.DownwardAPI.Items {
				errs = append(errs, validateFieldRef(path.Child("spec", "volumes").Index(i).Child("downwardAPI", "items").Index(j).Child("fieldRef"), f.FieldRef, volumeFieldPaths)...)
			}
		}
	}
	for _, c := range claims {
		vols[c] = true
	}
	check := func(fld *field.Path, c *corev1.Container) {
		paths := map[string]bool{}
		for j, m := range c.VolumeMounts {
			mf := fld.Child("volumeMounts").Index(j)
			if !vols[m.Name] {
				errs = append(errs, notFound(mf.Child("name"), m.Name, "the pod has no volume of that name"))
			}
			if paths[m.MountPath] {
				errs = append(errs, invalid(mf.Child("mountPath"), m.MountPath, "must be unique: another mount of the container uses it"))
			}
			paths[m.MountPath] = true
		}
		for j, e := range c.Env {
			if e.ValueFrom != nil {
				errs = append(errs, validateFieldRef(fld.Child("env").Index(j).Child("valueFrom", "fieldRef"), e.ValueFrom.FieldRef, envFieldPaths)...)
			}
		}
	}
	for i := range spec.InitContainers {
		check(path.Child("spec", "initContainers").Index(i), &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		check(path.Child("spec", "containers").Index(i), &spec.Containers[i])
	}
	return errs
}

// The fields of a pod that the downward API has, in environment variables
// and in volumes, as the API server lists them; metadata.labels['k'] and
// metadata.annotations['k'] are allowed in both.
var (
	envFieldPaths    = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
	volumeFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.uid"}
)

// validateFieldRef checks a field reference: API version v1 (or unset) and
// a field of the downward API.
func validateFieldRef(fld *field.Path, ref *corev1.ObjectFieldSelector, allowed []string) field.ErrorList {
	if ref == nil {
		return nil
	}
	if ref.APIVersion != "" && ref.APIVersion != "v1" {
		return field.ErrorList{notSupported(fld.Child("apiVersion"), ref.APIVersion, "must be \"v1\"")}
	}
	p := ref.FieldPath
	for _, prefix := range []string{"metadata.labels", "metadata.annotations"} {
		if sub, ok := strings.CutPrefix(p, prefix+"['"); ok && strings.HasSuffix(sub, "']") {
			return each(fld.Child("fieldPath"), p, validation.IsQualifiedName(strings.TrimSuffix(sub, "']")))
		}
	}
	for _, a := range allowed {
		if p == a {
			return nil
		}
	}
	return field.ErrorList{notSupported(fld.Child("fieldPath"), p, "the downward API has no such field; supported: "+strings.Join(allowed, ", ")+", metadata.labels['<key>'], metadata.annotations['<key>']")}
}

// notFound is the problem of a reference to something that does not exist.
func notFound(fld *field.Path, v any, detail string) *field.Error {
	return &field.Error{Type: field.ErrorTypeNotFound, Field: fld.String(), BadValue: v, Detail: detail}
}

// validateStrategy checks a Deployment's strategy: its type, and a
// rolling update that can make progress.
func validateStrategy(fld *field.Path, s appsv1.DeploymentStrategy) field.ErrorList {
	errs := oneOf(fld.Child("type"), s.Type, appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType)
	if s.Type == appsv1.RecreateDeploymentStrategyType && s.RollingUpdate != nil {
		errs = append(errs, forbidden(fld.Child("rollingUpdate"), s.RollingUpdate, "may not be specified when strategy `type` is 'Recreate'; remove it, or set `type` RollingUpdate"))
	}
	if ru := s.RollingUpdate; ru != nil && isZero(ru.MaxSurge) && isZero(ru.MaxUnavailable) {
		errs = append(errs, invalid(fld.Child("rollingUpdate", "maxUnavailable"), 0, "may not be 0 when `maxSurge` is 0"))
	}
	return errs
}

// isZero reports whether an absolute number or percentage is zero.
func isZero(v *intstr.IntOrString) bool {
	return v != nil && (v.Type == intstr.Int && v.IntVal == 0 || v.Type == intstr.String && v.StrVal == "0%")
}

// validateJobModes checks what a Job's completion mode allows: per-index
// limits for an Indexed Job only, and a pod failure policy that names the
// pod's containers.
func validateJobModes(spec *field.Path, s *batchv1.JobSpec) field.ErrorList {
	var errs field.ErrorList
	indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
	if !indexed && s.BackoffLimitPerIndex != nil {
		errs = append(errs, invalid(spec.Child("backoffLimitPerIndex"), *s.BackoffLimitPerIndex, "requires indexed completion mode"))
	}
	if s.MaxFailedIndexes != nil && (!indexed || s.BackoffLimitPerIndex == nil) {
		errs = append(errs, invalid(spec.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "requires indexed completion mode and backoffLimitPerIndex"))
	}
	if s.PodFailurePolicy == nil {
		return errs
	}
	names := map[string]bool{}
	for _, c := range append(append([]corev1.Container(nil), s.Template.Spec.InitContainers...), s.Template.Spec.Containers...) {
		names[c.Name] = true
	}
	for i, r := range s.PodFailurePolicy.Rules {
		if r.OnExitCodes != nil && r.OnExitCodes.ContainerName != nil && !names[*r.OnExitCodes.ContainerName] {
			errs = append(errs, invalid(spec.Child("podFailurePolicy", "rules").Index(i).Child("onExitCodes", "containerName"), *r.OnExitCodes.ContainerName,
				"must be one of the container or initContainer names in the pod template"))
		}
	}
	return errs
}

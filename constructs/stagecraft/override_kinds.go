package stagecraft

import (
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// More of the API server's rules of the kinds stagecraft writes, for
// objects an override changed: a Job's restart policy, success policy and
// manager; a CronJob's name; a Service's type-specific fields; an
// Ingress's class and backends; a PodDisruptionBudget's bounds; a claim's
// classes, volume mode and data source.

// The API server's limits: a CronJob's name leaves 11 characters of the
// 63 of its Jobs' names for the schedule's suffix; a Job's managedBy; a
// ClientIP session's timeout; a Job's success policy rules.
const maxCronJobName, maxManagedBy, maxAffinityTimeout, maxSuccessRules = 52, 63, 86400, 20

// validateJobExtras checks what validateJobModes does not of a Job's spec.
func validateJobExtras(spec *field.Path, s *batchv1.JobSpec) field.ErrorList {
	var errs field.ErrorList
	if s.PodFailurePolicy != nil && s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		errs = append(errs, invalid(spec.Child("template", "spec", "restartPolicy"), s.Template.Spec.RestartPolicy, "only \"Never\" is supported when podFailurePolicy is specified"))
	}
	if sp := s.SuccessPolicy; sp != nil {
		fld := spec.Child("successPolicy")
		switch {
		case s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion:
			errs = append(errs, invalid(fld, len(sp.Rules), "requires indexed completion mode"))
		case len(sp.Rules) == 0 || len(sp.Rules) > maxSuccessRules:
			errs = append(errs, invalid(fld.Child("rules"), len(sp.Rules), "must have from 1 to 20 rules"))
		}
		for i, r := range sp.Rules {
			if r.SucceededCount == nil && r.SucceededIndexes == nil {
				errs = append(errs, required(fld.Child("rules").Index(i), "at least one of succeededCount or succeededIndexes must be specified"))
			}
		}
	}
	if m := s.ManagedBy; m != nil {
		errs = append(errs, validation.IsDomainPrefixedPath(spec.Child("managedBy"), *m)...)
		if len(*m) > maxManagedBy {
			errs = append(errs, invalid(spec.Child("managedBy"), *m, "must have at most 63 characters"))
		}
	}
	return errs
}

// validateCronJobName checks that a CronJob's name leaves room for the
// suffix of the Jobs it creates.
func validateCronJobName(name string) field.ErrorList {
	if len(name) > maxCronJobName {
		return field.ErrorList{invalid(field.NewPath("metadata", "name"), name, "must be no more than 52 characters: the CronJob's Jobs append 11 to it, and their names have at most 63")}
	}
	return nil
}

// validateServiceType checks the fields that a Service's type requires or
// forbids: an external name for ExternalName, source ranges (as CIDRs)
// for LoadBalancer, and a ClientIP session's timeout.
func validateServiceType(spec *field.Path, s *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	if s.Type == corev1.ServiceTypeExternalName {
		name := strings.TrimSuffix(s.ExternalName, ".")
		if name == "" {
			errs = append(errs, required(spec.Child("externalName"), "an ExternalName Service needs the DNS name it aliases"))
		} else {
			errs = append(errs, each(spec.Child("externalName"), s.ExternalName, validation.IsDNS1123Subdomain(name))...)
		}
		if s.ClusterIP != "" && s.ClusterIP != corev1.ClusterIPNone {
			errs = append(errs, forbidden(spec.Child("clusterIP"), s.ClusterIP, "may not be set for ExternalName services"))
		}
	}
	for i, r := range s.LoadBalancerSourceRanges {
		fld := spec.Child("loadBalancerSourceRanges").Index(i)
		if s.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, forbidden(fld, r, "may only be used when `type` is 'LoadBalancer'"))
			continue
		}
		errs = append(errs, validation.IsValidCIDR(fld, strings.TrimSpace(r))...)
	}
	if c := s.SessionAffinityConfig; c != nil && c.ClientIP != nil {
		fld := spec.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds")
		switch t := c.ClientIP.TimeoutSeconds; {
		case s.SessionAffinity != corev1.ServiceAffinityClientIP:
			errs = append(errs, forbidden(spec.Child("sessionAffinityConfig"), s.SessionAffinity, "must not be set when `sessionAffinity` is not ClientIP"))
		case t != nil && (*t <= 0 || *t > maxAffinityTimeout):
			errs = append(errs, invalid(fld, *t, "must be greater than 0 and less than or equal to 86400"))
		}
	}
	return errs
}

// validateIngressExtras checks an Ingress's class name and each backend's
// service port: a number or a name, not both.
func validateIngressExtras(spec *field.Path, s *networkingv1.IngressSpec) field.ErrorList {
	var errs field.ErrorList
	if c := s.IngressClassName; c != nil {
		errs = append(errs, each(spec.Child("ingressClassName"), *c, validation.IsDNS1123Subdomain(*c))...)
	}
	if s.DefaultBackend != nil {
		errs = append(errs, validateBackendPort(spec.Child("defaultBackend"), s.DefaultBackend)...)
	}
	for i, r := range s.Rules {
		if r.HTTP == nil {
			continue
		}
		for j := range r.HTTP.Paths {
			errs = append(errs, validateBackendPort(spec.Child("rules").Index(i).Child("http", "paths").Index(j).Child("backend"), &r.HTTP.Paths[j].Backend)...)
		}
	}
	return errs
}

// validateBackendPort checks one backend: a service or a resource, and a
// service's port by name or number.
func validateBackendPort(fld *field.Path, b *networkingv1.IngressBackend) field.ErrorList {
	if (b.Service == nil) == (b.Resource == nil) {
		return field.ErrorList{invalid(fld, "", "must specify exactly one of `service` or `resource`")}
	}
	if b.Service == nil {
		return nil
	}
	p, pf := b.Service.Port, fld.Child("service", "port")
	switch {
	case p.Name != "" && p.Number != 0:
		return field.ErrorList{invalid(pf, p.Number, "cannot set both port name & port number")}
	case p.Name != "":
		return each(pf.Child("name"), p.Name, validation.IsValidPortName(p.Name))
	case p.Number != 0:
		return each(pf.Child("number"), p.Number, validation.IsValidPortNum(int(p.Number)))
	}
	return field.ErrorList{required(pf, "port name or number is required")}
}

// validatePDB checks a PodDisruptionBudget's bounds: one of minAvailable
// and maxUnavailable, a percentage of at most 100 %, and an eviction
// policy of the API server's.
func validatePDB(spec *field.Path, s *policyv1.PodDisruptionBudgetSpec) field.ErrorList {
	var errs field.ErrorList
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, invalid(spec, "both", "minAvailable and maxUnavailable cannot be both set"))
	}
	for name, v := range map[string]*intstr.IntOrString{"minAvailable": s.MinAvailable, "maxUnavailable": s.MaxUnavailable} {
		if v == nil || v.Type != intstr.String {
			continue
		}
		if msgs := validation.IsValidPercent(v.StrVal); len(msgs) > 0 {
			errs = append(errs, each(spec.Child(name), v.StrVal, msgs)...)
		} else if n, err := intstr.GetScaledValueFromIntOrPercent(v, 100, false); err == nil && n > 100 {
			errs = append(errs, invalid(spec.Child(name), v.StrVal, "must not be greater than 100%"))
		}
	}
	if p := s.UnhealthyPodEvictionPolicy; p != nil {
		errs = append(errs, oneOf(spec.Child("unhealthyPodEvictionPolicy"), *p, policyv1.IfHealthyBudget, policyv1.AlwaysAllow)...)
	}
	return errs
}

// validateClaimExtras checks a claim's storage and volume attributes
// classes, its volume mode and its data source.
func validateClaimExtras(spec *field.Path, s *corev1.PersistentVolumeClaimSpec) field.ErrorList {
	var errs field.ErrorList
	for name, c := range map[string]*string{"storageClassName": s.StorageClassName, "volumeAttributesClassName": s.VolumeAttributesClassName} {
		if c != nil && *c != "" {
			errs = append(errs, each(spec.Child(name), *c, validation.IsDNS1123Subdomain(*c))...)
		}
	}
	if m := s.VolumeMode; m != nil {
		errs = append(errs, oneOf(spec.Child("volumeMode"), *m, corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem)...)
		if *m == "" {
			errs = append(errs, notSupported(spec.Child("volumeMode"), "", "must be \"Block\" or \"Filesystem\""))
		}
	}
	if d := s.DataSource; d != nil {
		fld := spec.Child("dataSource")
		if d.Name == "" {
			errs = append(errs, required(fld.Child("name"), "the name of the source"))
		}
		group := ptr.Deref(d.APIGroup, "")
		pvc, snapshot := group == "" && d.Kind == "PersistentVolumeClaim", group == "snapshot.storage.k8s.io" && d.Kind == "VolumeSnapshot"
		if !pvc && !snapshot && s.DataSourceRef == nil {
			errs = append(errs, invalid(fld.Child("kind"), d.Kind, "must be 'PersistentVolumeClaim' (or a snapshot.storage.k8s.io VolumeSnapshot): "+
				"the API server drops any other data source and the claim starts empty; name a volume populator's source in dataSourceRef"))
		}
	}
	return errs
}

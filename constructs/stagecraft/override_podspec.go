package stagecraft

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// More of the API server's rules of a pod spec (pkg/apis/core/validation),
// for pod templates that an override changed: its DNS settings, host
// aliases, overhead, readiness gates, resource claims and affinity terms.

// The API server's limits of a pod's DNS settings.
const maxNameservers, maxSearchPaths, maxSearchChars = 3, 32, 2048

// validatePodExtras checks the pod-level fields of a pod template that
// validatePodFields does not.
func validatePodExtras(path *field.Path, spec *corev1.PodSpec) field.ErrorList {
	fld := path.Child("spec")
	errs := validateDNSConfig(fld.Child("dnsConfig"), spec.DNSPolicy, spec.DNSConfig)
	for i, a := range spec.HostAliases {
		af := fld.Child("hostAliases").Index(i)
		errs = append(errs, validation.IsValidIP(af.Child("ip"), a.IP)...)
		for j, h := range a.Hostnames {
			errs = append(errs, each(af.Child("hostnames").Index(j), h, validation.IsDNS1123Subdomain(h))...)
		}
	}
	errs = append(errs, validateQuantities(fld.Child("overhead"), spec.Overhead)...)
	for i, g := range spec.ReadinessGates {
		errs = append(errs, each(fld.Child("readinessGates").Index(i).Child("conditionType"), string(g.ConditionType), validation.IsQualifiedName(string(g.ConditionType)))...)
	}
	claims := map[string]bool{}
	for i, c := range spec.ResourceClaims {
		cf := fld.Child("resourceClaims").Index(i)
		switch {
		case claims[c.Name]:
			errs = append(errs, duplicate(cf.Child("name"), c.Name, "resource claim names must be unique in a pod"))
		default:
			errs = append(errs, each(cf.Child("name"), c.Name, validation.IsDNS1123Label(c.Name))...)
		}
		claims[c.Name] = true
		if (c.ResourceClaimName == nil) == (c.ResourceClaimTemplateName == nil) {
			errs = append(errs, invalid(cf, c.Name, "must specify exactly one of `resourceClaimName`, `resourceClaimTemplateName`"))
		}
	}
	for name, cs := range map[string][]corev1.Container{"initContainers": spec.InitContainers, "containers": spec.Containers} {
		for i := range cs {
			errs = append(errs, validateContainerExtras(fld.Child(name).Index(i), &cs[i], claims, spec.TerminationGracePeriodSeconds)...)
		}
	}
	return append(errs, validateAffinity(fld.Child("affinity"), spec.Affinity)...)
}

// validateDNSConfig checks a pod's DNS settings: with dnsPolicy None, at
// least one name server; at most 3 name servers, each an IP address; at
// most 32 search domains of 2048 characters in all, each a DNS subdomain;
// named options.
func validateDNSConfig(fld *field.Path, policy corev1.DNSPolicy, c *corev1.PodDNSConfig) field.ErrorList {
	if policy == corev1.DNSNone {
		switch {
		case c == nil:
			return field.ErrorList{required(fld, "must provide `dnsConfig` when `dnsPolicy` is None")}
		case len(c.Nameservers) == 0:
			return field.ErrorList{required(fld.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None")}
		}
	}
	if c == nil {
		return nil
	}
	var errs field.ErrorList
	if len(c.Nameservers) > maxNameservers {
		errs = append(errs, invalid(fld.Child("nameservers"), c.Nameservers, fmt.Sprintf("must not have more than %d nameservers", maxNameservers)))
	}
	for i, ns := range c.Nameservers {
		errs = append(errs, validation.IsValidIP(fld.Child("nameservers").Index(i), ns)...)
	}
	if len(c.Searches) > maxSearchPaths || len(strings.Join(c.Searches, " ")) > maxSearchChars {
		errs = append(errs, invalid(fld.Child("searches"), len(c.Searches), fmt.Sprintf("must not have more than %d search paths or %d characters (including spaces)", maxSearchPaths, maxSearchChars)))
	}
	for i, s := range c.Searches {
		if s != "." {
			s = strings.TrimSuffix(s, ".")
			errs = append(errs, each(fld.Child("searches").Index(i), s, validation.IsDNS1123SubdomainWithUnderscore(s))...)
		}
	}
	for i, o := range c.Options {
		if o.Name == "" {
			errs = append(errs, required(fld.Child("options").Index(i).Child("name"), "must not be empty"))
		}
	}
	return errs
}

// validateQuantities checks a list of resources: qualified names and
// quantities not below zero.
func validateQuantities(fld *field.Path, rl corev1.ResourceList) field.ErrorList {
	var errs field.ErrorList
	for res, q := range rl {
		errs = append(errs, each(fld.Key(string(res)), string(res), validation.IsQualifiedName(string(res)))...)
		if q.Sign() < 0 {
			errs = append(errs, invalid(fld.Key(string(res)), q.String(), "must be greater than or equal to 0"))
		}
	}
	return errs
}

// validateAffinity checks the terms of a pod's node, pod and anti-pod
// affinity: requirements whose operators suit their values, weights from
// 1 to 100, and a topology key on each pod affinity term.
func validateAffinity(fld *field.Path, a *corev1.Affinity) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	if n := a.NodeAffinity; n != nil {
		nf := fld.Child("nodeAffinity")
		if r := n.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			for i, t := range r.NodeSelectorTerms {
				errs = append(errs, validateNodeTerm(nf.Child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms").Index(i), t)...)
			}
		}
		for i, p := range n.PreferredDuringSchedulingIgnoredDuringExecution {
			pf := nf.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			errs = append(errs, validateWeight(pf.Child("weight"), p.Weight)...)
			errs = append(errs, validateNodeTerm(pf.Child("preference"), p.Preference)...)
		}
	}
	for name, pa := range map[string]*corev1.PodAffinity{"podAffinity": a.PodAffinity, "podAntiAffinity": podAffinityOf(a.PodAntiAffinity)} {
		if pa == nil {
			continue
		}
		for i, t := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			errs = append(errs, validatePodTerm(fld.Child(name, "requiredDuringSchedulingIgnoredDuringExecution").Index(i), t)...)
		}
		for i, w := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			wf := fld.Child(name, "preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			errs = append(errs, validateWeight(wf.Child("weight"), w.Weight)...)
			errs = append(errs, validatePodTerm(wf.Child("podAffinityTerm"), w.PodAffinityTerm)...)
		}
	}
	return errs
}

// podAffinityOf returns anti-affinity terms as affinity terms, which they
// are in form.
func podAffinityOf(a *corev1.PodAntiAffinity) *corev1.PodAffinity {
	if a == nil {
		return nil
	}
	return &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: a.RequiredDuringSchedulingIgnoredDuringExecution,
		PreferredDuringSchedulingIgnoredDuringExecution: a.PreferredDuringSchedulingIgnoredDuringExecution}
}

// validateWeight checks the weight of a preferred term.
func validateWeight(fld *field.Path, w int32) field.ErrorList {
	if w < 1 || w > 100 {
		return field.ErrorList{invalid(fld, w, "must be in the range 1-100")}
	}
	return nil
}

// validatePodTerm checks a pod affinity term's topology key.
func validatePodTerm(fld *field.Path, t corev1.PodAffinityTerm) field.ErrorList {
	if t.TopologyKey == "" {
		return field.ErrorList{required(fld.Child("topologyKey"), "can not be empty")}
	}
	return each(fld.Child("topologyKey"), t.TopologyKey, validation.IsQualifiedName(t.TopologyKey))
}

// validateNodeTerm checks the requirements of a node selector term: label
// requirements by key, and field requirements on metadata.name only, with
// In or NotIn and one value.
func validateNodeTerm(fld *field.Path, t corev1.NodeSelectorTerm) field.ErrorList {
	var errs field.ErrorList
	for i, r := range t.MatchExpressions {
		rf := fld.Child("matchExpressions").Index(i)
		errs = append(errs, each(rf.Child("key"), r.Key, validation.IsQualifiedName(r.Key))...)
		switch n := len(r.Values); r.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if n == 0 {
				errs = append(errs, required(rf.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
			if n > 0 {
				errs = append(errs, forbidden(rf.Child("values"), n, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			if n != 1 {
				errs = append(errs, required(rf.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			errs = append(errs, notSupported(rf.Child("operator"), r.Operator, "must be one of \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\", \"Lt\""))
		}
	}
	for i, r := range t.MatchFields {
		rf := fld.Child("matchFields").Index(i)
		if r.Key != "metadata.name" {
			errs = append(errs, notSupported(rf.Child("key"), r.Key, "must be \"metadata.name\""))
		}
		if (r.Operator != corev1.NodeSelectorOpIn && r.Operator != corev1.NodeSelectorOpNotIn) || len(r.Values) != 1 {
			errs = append(errs, invalid(rf, r.Operator, "must be 'In' or 'NotIn' with exactly one value"))
		}
	}
	return errs
}

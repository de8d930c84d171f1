package stagecraft

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// networkWidening returns the traffic a NetworkPolicy allows after an
// override that it did not allow before; ok is false for other kinds.
func networkWidening(before, after runtime.Object) (field.ErrorList, bool) {
	a, ok := after.(*networkingv1.NetworkPolicy)
	if !ok {
		return nil, false
	}
	b := before.(*networkingv1.NetworkPolicy)
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if !equality.Semantic.DeepEqual(b.Spec.PodSelector, a.Spec.PodSelector) {
		errs = append(errs, widened(spec.Child("podSelector"), a.Spec.PodSelector, "the policy isolates other pods than those it was written for"))
	}
	for _, t := range policyTypes(&b.Spec) {
		if !slices.Contains(policyTypes(&a.Spec), t) {
			errs = append(errs, widened(spec.Child("policyTypes"), a.Spec.PolicyTypes, "the pods' "+string(t)+" traffic is no longer isolated by the policy"))
		}
	}
	for i, r := range a.Spec.Ingress {
		if !slices.ContainsFunc(b.Spec.Ingress, func(w networkingv1.NetworkPolicyIngressRule) bool {
			return trafficCovers(w.Ports, w.From, r.Ports, r.From)
		}) {
			errs = append(errs, widened(spec.Child("ingress").Index(i), r, "the rule allows "+allowed(r.Ports, r.From)+" that no rule allowed"))
		}
	}
	for i, r := range a.Spec.Egress {
		if !slices.ContainsFunc(b.Spec.Egress, func(w networkingv1.NetworkPolicyEgressRule) bool { return trafficCovers(w.Ports, w.To, r.Ports, r.To) }) {
			errs = append(errs, widened(spec.Child("egress").Index(i), r, "the rule allows "+allowed(r.Ports, r.To)+" that no rule allowed"))
		}
	}
	return errs, true
}

// policyTypes returns the policy's types, defaulted as the API server
// defaults them: Ingress, and Egress when it has egress rules.
func policyTypes(s *networkingv1.NetworkPolicySpec) []networkingv1.PolicyType {
	if len(s.PolicyTypes) > 0 {
		return s.PolicyTypes
	}
	out := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(s.Egress) > 0 {
		out = append(out, networkingv1.PolicyTypeEgress)
	}
	return out
}

// allowed names a rule's traffic in problems.
func allowed(ports []networkingv1.NetworkPolicyPort, peers []networkingv1.NetworkPolicyPeer) string {
	what := "traffic on every port"
	if len(ports) > 0 {
		what = "traffic on its ports"
	}
	if len(peers) == 0 {
		return what + " with every address"
	}
	return what + " with its peers"
}

// trafficCovers reports whether a rule with ports bp and peers bq allows
// every connection that a rule with ports ap and peers aq allows. No
// ports is every port, no peers every peer.
func trafficCovers(bp []networkingv1.NetworkPolicyPort, bq []networkingv1.NetworkPolicyPeer, ap []networkingv1.NetworkPolicyPort, aq []networkingv1.NetworkPolicyPeer) bool {
	if len(bp) > 0 {
		if len(ap) == 0 {
			return false
		}
		for _, p := range ap {
			if !slices.ContainsFunc(bp, func(q networkingv1.NetworkPolicyPort) bool { return portCovers(q, p) }) {
				return false
			}
		}
	}
	if len(bq) > 0 {
		if len(aq) == 0 {
			return false
		}
		for _, p := range aq {
			if !slices.ContainsFunc(bq, func(q networkingv1.NetworkPolicyPeer) bool { return peerCovers(q, p) }) {
				return false
			}
		}
	}
	return true
}

// portCovers reports whether port q allows every port p allows.
func portCovers(q, p networkingv1.NetworkPolicyPort) bool {
	proto := func(x networkingv1.NetworkPolicyPort) string {
		if x.Protocol == nil {
			return "TCP"
		}
		return string(*x.Protocol)
	}
	if proto(q) != proto(p) {
		return false
	}
	if q.Port == nil {
		return true
	}
	if p.Port == nil || q.Port.Type != p.Port.Type {
		return false
	}
	if q.Port.StrVal != "" || p.Port.StrVal != "" {
		return q.Port.StrVal == p.Port.StrVal && p.EndPort == nil
	}
	end := func(x networkingv1.NetworkPolicyPort) int32 {
		if x.EndPort == nil {
			return x.Port.IntVal
		}
		return *x.EndPort
	}
	return p.Port.IntVal >= q.Port.IntVal && end(p) <= end(q)
}

// peerCovers reports whether peer q allows every pod or address p allows.
func peerCovers(q, p networkingv1.NetworkPolicyPeer) bool {
	if q.IPBlock != nil || p.IPBlock != nil {
		return q.IPBlock != nil && p.IPBlock != nil && blockCovers(*q.IPBlock, *p.IPBlock)
	}
	if (q.NamespaceSelector == nil) != (p.NamespaceSelector == nil) {
		return false // the policy's own namespace against a selection of namespaces
	}
	if q.NamespaceSelector != nil && !selectorWider(p.NamespaceSelector, q.NamespaceSelector) {
		return false
	}
	return q.PodSelector == nil || (p.PodSelector != nil && selectorWider(p.PodSelector, q.PodSelector))
}

// blockCovers reports whether address block q holds every address of p.
func blockCovers(q, p networkingv1.IPBlock) bool {
	qc, err1 := netip.ParsePrefix(q.CIDR)
	pc, err2 := netip.ParsePrefix(p.CIDR)
	if err1 != nil || err2 != nil || !inside(pc, qc) {
		return false
	}
	for _, e := range q.Except {
		ec, err := netip.ParsePrefix(e)
		if err != nil {
			return false
		}
		if !ec.Overlaps(pc) {
			continue
		}
		overlap := ec // two prefixes that overlap: one holds the other
		if pc.Bits() > ec.Bits() {
			overlap = pc
		}
		if !slices.ContainsFunc(p.Except, func(f string) bool {
			fc, err := netip.ParsePrefix(f)
			return err == nil && inside(overlap, fc)
		}) {
			return false
		}
	}
	return true
}

// inside reports whether prefix a lies within prefix b.
func inside(a, b netip.Prefix) bool {
	return a.Addr().Is4() == b.Addr().Is4() && a.Bits() >= b.Bits() && b.Contains(a.Masked().Addr())
}

// validateNetworkPolicy checks a NetworkPolicy as the API server does: its
// selectors, its policy types, each port (a protocol, a port number or
// name, an end port only after a number and not below it) and each peer
// (an address block of valid CIDRs whose exceptions lie strictly inside
// it, or selectors).
func validateNetworkPolicy(spec *field.Path, s *networkingv1.NetworkPolicySpec) field.ErrorList {
	errs := metavalidation.ValidateLabelSelector(&s.PodSelector, metavalidation.LabelSelectorValidationOptions{}, spec.Child("podSelector"))
	for i, t := range s.PolicyTypes {
		errs = append(errs, oneOf(spec.Child("policyTypes").Index(i), t, networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress)...)
	}
	for i, r := range s.Ingress {
		errs = append(errs, validatePolicyRule(spec.Child("ingress").Index(i), "from", r.Ports, r.From)...)
	}
	for i, r := range s.Egress {
		errs = append(errs, validatePolicyRule(spec.Child("egress").Index(i), "to", r.Ports, r.To)...)
	}
	return errs
}

// validatePolicyRule checks the ports and peers of one rule.
func validatePolicyRule(fld *field.Path, peersName string, ports []networkingv1.NetworkPolicyPort, peers []networkingv1.NetworkPolicyPeer) field.ErrorList {
	var errs field.ErrorList
	for i, p := range ports {
		pf := fld.Child("ports").Index(i)
		if p.Protocol != nil {
			errs = append(errs, oneOf(pf.Child("protocol"), *p.Protocol, corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)...)
		}
		switch {
		case p.Port == nil:
			if p.EndPort != nil {
				errs = append(errs, required(pf.Child("port"), "when endPort is specified"))
			}
		case p.Port.Type == intstr.String:
			errs = append(errs, each(pf.Child("port"), p.Port.StrVal, validation.IsValidPortName(p.Port.StrVal))...)
			if p.EndPort != nil {
				errs = append(errs, invalid(pf.Child("endPort"), *p.EndPort, "may not be specified when port is non-numeric"))
			}
		default:
			errs = append(errs, each(pf.Child("port"), p.Port.IntVal, validation.IsValidPortNum(int(p.Port.IntVal)))...)
			if p.EndPort != nil && *p.EndPort < p.Port.IntVal {
				errs = append(errs, invalid(pf.Child("endPort"), *p.EndPort, "must be greater than or equal to port"))
			}
		}
	}
	for i, p := range peers {
		errs = append(errs, validatePeer(fld.Child(peersName).Index(i), p)...)
	}
	return errs
}

// validatePeer checks one peer of a rule.
func validatePeer(fld *field.Path, p networkingv1.NetworkPolicyPeer) field.ErrorList {
	var errs field.ErrorList
	opts := metavalidation.LabelSelectorValidationOptions{}
	if p.PodSelector != nil {
		errs = append(errs, metavalidation.ValidateLabelSelector(p.PodSelector, opts, fld.Child("podSelector"))...)
	}
	if p.NamespaceSelector != nil {
		errs = append(errs, metavalidation.ValidateLabelSelector(p.NamespaceSelector, opts, fld.Child("namespaceSelector"))...)
	}
	b := p.IPBlock
	switch {
	case b == nil:
		if p.PodSelector == nil && p.NamespaceSelector == nil {
			errs = append(errs, required(fld, "must specify a peer"))
		}
		return errs
	case p.PodSelector != nil || p.NamespaceSelector != nil:
		return append(errs, forbidden(fld, "ipBlock", "may not specify more than 1 peer type"))
	}
	bf := fld.Child("ipBlock")
	if b.CIDR == "" {
		return append(errs, required(bf.Child("cidr"), "an address block"))
	}
	cidrErrs := validation.IsValidCIDR(bf.Child("cidr"), b.CIDR)
	errs = append(errs, cidrErrs...)
	outer, _ := netip.ParsePrefix(b.CIDR)
	for i, e := range b.Except {
		ef := bf.Child("except").Index(i)
		exceptErrs := validation.IsValidCIDR(ef, e)
		errs = append(errs, exceptErrs...)
		if len(cidrErrs) > 0 || len(exceptErrs) > 0 {
			continue
		}
		if in, _ := netip.ParsePrefix(e); !inside(in, outer) || in.Bits() <= outer.Bits() {
			errs = append(errs, invalid(ef, e, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}

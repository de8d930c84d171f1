package stagecraft

import (
	"net/netip"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
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

package stagecraft

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EgressRule allows a stage to reach addresses outside the cluster: an
// egress rule of the stage's NetworkPolicy.
type EgressRule struct {
	// CIDR is the address range (ipBlock.cidr), for example "10.20.0.0/16"
	// or "0.0.0.0/0". Required.
	CIDR string
	// Except are ranges inside CIDR that stay blocked (ipBlock.except).
	// Default: none.
	Except []string
	// Ports that may be reached (ports[].port), 1 to 65535. Default: every
	// port.
	Ports []int32
	// Protocol of the ports (ports[].protocol): TCP, UDP or SCTP. Default:
	// TCP.
	Protocol string
}

// namespaceNameLabel is the label Kubernetes sets on every namespace.
const namespaceNameLabel = "kubernetes.io/metadata.name"

func validateNetwork(n Network) field.ErrorList {
	fld := field.NewPath("Network")
	var errs field.ErrorList
	for _, ns := range []struct {
		name, v string
	}{{"IngressControllerNamespace", n.IngressControllerNamespace}, {"MonitoringNamespace", n.MonitoringNamespace}, {"DNSNamespace", n.DNSNamespace}} {
		if ns.v != "" {
			errs = append(errs, each(fld.Child(ns.name), ns.v, validation.IsDNS1123Label(ns.v))...)
		}
	}
	for i, c := range n.APIServerCIDRs {
		errs = append(errs, validateAPIServerCIDR(fld.Child("APIServerCIDRs").Index(i), c)...)
	}
	for i, port := range n.APIServerPorts {
		errs = append(errs, each(fld.Child("APIServerPorts").Index(i), port, validation.IsValidPortNum(int(port)))...)
	}
	return errs
}

// parseCIDR parses an address range as the API server's strict checks
// want it: CIDR notation (net/netip: no leading zeros, no zone), no bits
// set beyond the prefix, IPv4 not written as IPv6.
func parseCIDR(fld *field.Path, c string) (netip.Prefix, field.ErrorList) {
	if c == "" {
		return netip.Prefix{}, field.ErrorList{required(fld, "an address range such as \"10.0.0.0/8\"")}
	}
	p, err := netip.ParsePrefix(c)
	switch {
	case err != nil:
		return p, field.ErrorList{invalid(fld, c, "must be an address range in CIDR notation, such as \"10.0.0.0/8\" or \"2001:db8::/32\"")}
	case p.Addr().Is4In6():
		return p, field.ErrorList{invalid(fld, c, "is an IPv4 range written as IPv6; write it as IPv4, such as \"10.0.0.0/8\"")}
	case p != p.Masked():
		return p, field.ErrorList{invalid(fld, c, fmt.Sprintf("has address bits set beyond the /%d prefix; the range is %q", p.Bits(), p.Masked().String()))}
	}
	return p, nil
}

// Widest API-server ranges: a NetworkPolicy selects pods, not containers,
// so the range is open to the stage's own code too; a control plane's
// subnet of 16 addresses is the most it may name.
const (
	widestAPIServerV4 = 28
	widestAPIServerV6 = 124
)

// validateAPIServerCIDR checks one of the API server's address ranges: a
// range, and no wider than a control plane's subnet.
func validateAPIServerCIDR(fld *field.Path, c string) field.ErrorList {
	p, errs := parseCIDR(fld, c)
	if len(errs) > 0 {
		return errs
	}
	widest := widestAPIServerV4
	if p.Addr().Is6() {
		widest = widestAPIServerV6
	}
	if p.Bits() < widest {
		return field.ErrorList{invalid(fld, c, fmt.Sprintf("opens %s on the API server's ports to the stage's own containers (a NetworkPolicy selects pods, not containers): list the API server's endpoint addresses, each as a /32 or /128 (kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes), or its control plane's subnet, at most /%d for IPv4 and /%d for IPv6", describeRange(p), widestAPIServerV4, widestAPIServerV6))}
	}
	return nil
}

// describeRange names the size of a range for a message.
func describeRange(p netip.Prefix) string {
	if p.Bits() == 0 {
		return "every address"
	}
	host := 32
	if p.Addr().Is6() {
		host = 128
	}
	return fmt.Sprintf("2^%d addresses", host-p.Bits())
}

func validateEgress(rules []EgressRule) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		fld := field.NewPath("Egress").Index(i)
		outer, cerrs := parseCIDR(fld.Child("CIDR"), r.CIDR)
		errs = append(errs, cerrs...)
		for j, e := range r.Except {
			f := fld.Child("Except").Index(j)
			inner, eerrs := parseCIDR(f, e)
			errs = append(errs, eerrs...)
			if len(cerrs) == 0 && len(eerrs) == 0 && !strictSubset(inner, outer) {
				errs = append(errs, invalid(f, e, "must be a range strictly inside CIDR "+r.CIDR+" (a longer prefix of the same addresses)"))
			}
		}
		for j, port := range r.Ports {
			errs = append(errs, each(fld.Child("Ports").Index(j), port, validation.IsValidPortNum(int(port)))...)
		}
		errs = append(errs, validateProtocol(fld.Child("Protocol"), r.Protocol)...)
	}
	return errs
}

// strictSubset tells whether inner is a smaller range inside outer.
func strictSubset(inner, outer netip.Prefix) bool {
	return inner.Addr().Is4() == outer.Addr().Is4() && inner.Bits() > outer.Bits() && outer.Contains(inner.Addr())
}

func validateProtocol(fld *field.Path, p string) field.ErrorList {
	switch corev1.Protocol(p) {
	case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	}
	return field.ErrorList{notSupported(fld, p, "must be \"TCP\", \"UDP\" or \"SCTP\"")}
}

// protocolOf returns a protocol for a NetworkPolicy port: TCP when none is
// given.
func protocolOf(p string) *corev1.Protocol {
	v := corev1.Protocol(firstOf(p, string(corev1.ProtocolTCP)))
	return &v
}

// policyPort is one port of a NetworkPolicy rule: a number, or a
// container port's name.
func policyPort(proto string, port intstr.IntOrString) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: protocolOf(proto), Port: &port}
}

// inNamespace selects every pod of the namespace named ns.
func inNamespace(ns string) []networkingv1.NetworkPolicyPeer {
	return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
		MatchLabels: map[string]string{namespaceNameLabel: ns}}}}
}

// toAddresses is an egress rule to an address range, on ports (all when
// none).
func toAddresses(cidrs []string, except []string, proto string, ports []int32) networkingv1.NetworkPolicyEgressRule {
	var rule networkingv1.NetworkPolicyEgressRule
	for _, c := range cidrs {
		rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c, Except: except}})
	}
	for _, port := range ports {
		rule.Ports = append(rule.Ports, policyPort(proto, intstr.FromInt32(port)))
	}
	return rule
}

// apiServerRule is the egress rule to the API server: exactly the
// addresses the user states, on its ports; none without addresses (a rule
// without peers would allow every address), which apiServerChecks makes a
// problem where the API is needed.
func (p *Pipeline) apiServerRule() []networkingv1.NetworkPolicyEgressRule {
	if len(p.network.APIServerCIDRs) == 0 {
		return nil
	}
	return []networkingv1.NetworkPolicyEgressRule{toAddresses(p.network.APIServerCIDRs, nil, "", p.network.APIServerPorts)}
}

// networkPolicy returns a NetworkPolicy of the pipeline.
func (p *Pipeline) networkPolicy(name string, labels map[string]string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.namespace, Labels: labels},
		Spec:       spec,
	}
}

// pipelinePolicies returns the policies of the whole namespace: deny
// everything, then allow DNS.
func (p *Pipeline) pipelinePolicies() []*networkingv1.NetworkPolicy {
	dns := intstr.FromInt32(53)
	return []*networkingv1.NetworkPolicy{
		p.networkPolicy("default-deny", p.objectLabels("default-deny", componentPipeline), networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		}),
		p.networkPolicy("allow-dns", p.objectLabels("allow-dns", componentPipeline), networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    inNamespace(p.network.DNSNamespace),
				Ports: []networkingv1.NetworkPolicyPort{policyPort("UDP", dns), policyPort("TCP", dns)},
			}},
		}),
	}
}

// stagePolicy returns the policy of one stage, which allows the traffic
// its edges declare, or nil when it neither receives nor sends anything
// (the namespace's default deny covers it). callers are the calls the
// stage receives, with their callers.
func (p *Pipeline) stagePolicy(s Stage, callers []inboundCall, waits bool) *networkingv1.NetworkPolicy {
	b := s.base()
	spec := networkingv1.NetworkPolicySpec{PodSelector: *b.selector()}
	for _, in := range callers {
		spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: in.from.base().selector()}},
			Ports: []networkingv1.NetworkPolicyPort{policyPort(in.call.port.Protocol, intstr.FromString(in.call.port.Name))},
		})
	}
	if b.ingress != nil {
		spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{
			From:  inNamespace(p.network.IngressControllerNamespace),
			Ports: []networkingv1.NetworkPolicyPort{policyPort("", intstr.FromString(b.ingress.Port))},
		})
	}
	if m := b.work.metrics; m != nil {
		spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{
			From:  inNamespace(p.network.MonitoringNamespace),
			Ports: []networkingv1.NetworkPolicyPort{policyPort("", intstr.FromString(m.port))},
		})
	}
	for _, c := range b.validCalls() {
		spec.Egress = append(spec.Egress, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{{PodSelector: c.callee.base().selector()}},
			Ports: []networkingv1.NetworkPolicyPort{policyPort(c.port.Protocol, intstr.FromString(c.port.Name))},
		})
	}
	if waits {
		spec.Egress = append(spec.Egress, p.apiServerRule()...)
	}
	for _, r := range b.work.egress {
		spec.Egress = append(spec.Egress, toAddresses([]string{r.CIDR}, r.Except, r.Protocol, r.Ports))
	}
	if len(spec.Ingress) > 0 {
		spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeIngress)
	}
	if len(spec.Egress) > 0 {
		spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
	}
	if len(spec.PolicyTypes) == 0 {
		return nil
	}
	return p.networkPolicy(s.Name(), b.labels(), spec)
}

// inboundCall is a call a stage receives, and its caller.
type inboundCall struct {
	from Stage
	call call
}

// apiServerHint says how to find the API server's addresses.
const apiServerHint = "list the API server's endpoint addresses, not the kubernetes Service's ClusterIP " +
	"(most CNIs apply NetworkPolicies after the Service's address translation): " +
	"kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes -o jsonpath='{.items[*].endpoints[*].addresses[*]}', " +
	"each as a /32 (IPv4) or /128 (IPv6) range, or set Network.Disabled"

// apiServerChecks returns the problem of a pipeline whose pods must reach
// the Kubernetes API (a gate, a wait in an init container, Argo's
// executor) while Network.APIServerCIDRs is empty: stagecraft does not
// guess the API server's addresses, since the rule opens them to the
// stage's own container too.
func (g *graph) apiServerChecks(p *Pipeline) []Problem {
	if p.network.Disabled || len(p.network.APIServerCIDRs) > 0 {
		return nil
	}
	var why string
	for _, s := range g.order {
		b := s.base()
		if len(g.waits[b]) == 0 || inChain(b) {
			continue
		}
		if b.gated {
			why = fmt.Sprintf("the gate of stage %s reads Jobs through the Kubernetes API", s.Path())
		} else {
			why = fmt.Sprintf("stage %s waits for upstream Jobs in an init container that reads them through the Kubernetes API", s.Path())
		}
		break
	}
	if why == "" && p.workflows != nil && len(g.chainStages()) > 0 {
		why = "Argo's executor containers in the pods of the Workflows chain report to the Kubernetes API"
	}
	if why == "" {
		return nil
	}
	return []Problem{{Construct: p.path, Type: field.ErrorTypeRequired, Field: "Network.APIServerCIDRs",
		Detail: why + ", and a NetworkPolicy's rule for it opens those addresses to the whole pod: " + apiServerHint}}
}

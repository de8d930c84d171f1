package stagecraft

import (
	"net"
	"time"

	"github.com/aws/constructs-go/constructs/v10"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EgressRule allows a stage to reach addresses outside the cluster.
type EgressRule struct {
	// CIDR is the address range, for example "10.20.0.0/16" or
	// "0.0.0.0/0". Required.
	CIDR string
	// Except are ranges inside CIDR that stay blocked. Default: none.
	Except []string
	// Ports that may be reached. Default: every port.
	Ports []int32
	// Protocol of the ports: TCP, UDP or SCTP. Default: TCP.
	Protocol string
}

const (
	namespaceNameLabel = "kubernetes.io/metadata.name"
	defaultWaitImage   = "registry.k8s.io/kubectl:v1.36.3"
	defaultWaitTimeout = 24 * time.Hour
)

func resolveNetwork(n Network) Network {
	r := n
	if r.IngressControllerNamespace == "" {
		r.IngressControllerNamespace = "ingress-nginx"
	}
	if r.MonitoringNamespace == "" {
		r.MonitoringNamespace = "monitoring"
	}
	if r.DNSNamespace == "" {
		r.DNSNamespace = "kube-system"
	}
	if len(r.APIServerCIDRs) == 0 {
		r.APIServerCIDRs = []string{"0.0.0.0/0"}
	}
	if len(r.APIServerPorts) == 0 {
		r.APIServerPorts = []int32{443, 6443}
	}
	return r
}

func validateNetwork(ps *problems, n Network) {
	fld := field.NewPath("Network")
	for _, ns := range []struct {
		name, v string
	}{{"IngressControllerNamespace", n.IngressControllerNamespace}, {"MonitoringNamespace", n.MonitoringNamespace}, {"DNSNamespace", n.DNSNamespace}} {
		if ns.v != "" {
			ps.addAll(fld.Child(ns.name), ns.v, validation.IsDNS1123Label(ns.v))
		}
	}
	for i, c := range n.APIServerCIDRs {
		validateCIDR(ps, fld.Child("APIServerCIDRs").Index(i), c)
	}
	for i, port := range n.APIServerPorts {
		ps.addAll(fld.Child("APIServerPorts").Index(i), port, validation.IsValidPortNum(int(port)))
	}
}

func validateCIDR(ps *problems, fld *field.Path, c string) {
	if c == "" {
		ps.required(fld, "an address range such as \"10.0.0.0/8\"")
		return
	}
	if _, _, err := net.ParseCIDR(c); err != nil {
		ps.add(fld, c, "must be an address range in CIDR notation, such as \"10.0.0.0/8\" or \"2001:db8::/32\"")
	}
}

func validateEgress(ps *problems, rules []EgressRule) {
	for i, r := range rules {
		fld := field.NewPath("Egress").Index(i)
		validateCIDR(ps, fld.Child("CIDR"), r.CIDR)
		_, outer, err := net.ParseCIDR(r.CIDR)
		for j, e := range r.Except {
			f := fld.Child("Except").Index(j)
			validateCIDR(ps, f, e)
			if ip, _, err2 := net.ParseCIDR(e); err == nil && err2 == nil && !outer.Contains(ip) {
				ps.add(f, e, "must lie inside CIDR "+r.CIDR)
			}
		}
		for j, port := range r.Ports {
			ps.addAll(fld.Child("Ports").Index(j), port, validation.IsValidPortNum(int(port)))
		}
		switch corev1.Protocol(r.Protocol) {
		case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			ps.add(fld.Child("Protocol"), r.Protocol, "must be \"TCP\", \"UDP\" or \"SCTP\"")
		}
	}
}

func protocol(p string) *corev1.Protocol {
	if p == "" {
		p = string(corev1.ProtocolTCP)
	}
	v := corev1.Protocol(p)
	return &v
}

// policyPort is one port of a NetworkPolicy rule: a number, or a
// container port's name.
func policyPort(proto string, port intstr.IntOrString) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: protocol(proto), Port: &port}
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

// networkPolicies returns the pipeline's policies: deny everything, allow
// DNS, then one policy per stage for the traffic its edges declare.
func (p *Pipeline) networkPolicies(g *graph) []object {
	if p.network.Disabled {
		return nil
	}
	np := func(name string, labels map[string]string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.namespace, Labels: labels},
			Spec:       spec,
		}
	}
	dns := intstr.FromInt32(53)
	out := []object{
		{scope: p, id: "DefaultDeny", obj: np("default-deny", p.objectLabels("default-deny", componentPipeline), networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		})},
		{scope: p, id: "AllowDNS", obj: np("allow-dns", p.objectLabels("allow-dns", componentPipeline), networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    inNamespace(p.network.DNSNamespace),
				Ports: []networkingv1.NetworkPolicyPort{policyPort("UDP", dns), policyPort("TCP", dns)},
			}},
		})},
	}
	// The calls each processor receives, with their callers.
	type inbound struct {
		from Stage
		call call
	}
	calledBy := map[*ProcessorStage][]inbound{}
	for _, s := range g.order {
		for _, c := range s.base().calls {
			calledBy[c.callee] = append(calledBy[c.callee], inbound{s, c})
		}
	}
	for _, s := range g.order {
		spec := networkingv1.NetworkPolicySpec{PodSelector: *s.base().selector()}
		if ps, ok := s.(*ProcessorStage); ok {
			for _, in := range calledBy[ps] {
				spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: in.from.base().selector()}},
					Ports: []networkingv1.NetworkPolicyPort{policyPort(in.call.port.Protocol, intstr.FromString(in.call.port.Name))},
				})
			}
			if in := ps.props.Ingress; in != nil {
				spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{
					From:  inNamespace(p.network.IngressControllerNamespace),
					Ports: []networkingv1.NetworkPolicyPort{policyPort("", intstr.FromString(in.Port))},
				})
			}
		}
		w := s.(workloader).workload()
		if m := w.Metrics; m != nil {
			spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{
				From:  inNamespace(p.network.MonitoringNamespace),
				Ports: []networkingv1.NetworkPolicyPort{policyPort("", intstr.FromString(m.Port))},
			})
		}
		for _, c := range s.base().calls {
			spec.Egress = append(spec.Egress, networkingv1.NetworkPolicyEgressRule{
				To:    []networkingv1.NetworkPolicyPeer{{PodSelector: c.callee.selector()}},
				Ports: []networkingv1.NetworkPolicyPort{policyPort(c.port.Protocol, intstr.FromString(c.port.Name))},
			})
		}
		if len(g.waits[s.base()]) > 0 {
			spec.Egress = append(spec.Egress, toAddresses(p.network.APIServerCIDRs, nil, "", p.network.APIServerPorts))
		}
		for _, r := range w.Egress {
			spec.Egress = append(spec.Egress, toAddresses([]string{r.CIDR}, r.Except, r.Protocol, r.Ports))
		}
		if len(spec.Ingress) > 0 {
			spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		}
		if len(spec.Egress) > 0 {
			spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
		if len(spec.PolicyTypes) == 0 {
			continue // the stage neither receives nor sends: default deny
		}
		out = append(out, object{scope: s.(constructs.Construct), id: "NetworkPolicy", obj: np(s.Name(), s.base().labels(), spec)})
	}
	return out
}

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

// networkPolicies returns the pipeline's policies: deny everything, allow
// DNS, then one policy per stage for the traffic its edges declare.
func (p *Pipeline) networkPolicies(g *graph) []object {
	if p.network.Disabled {
		return nil
	}
	np := func(name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.namespace, Labels: p.objectLabels(name, componentPipeline)},
			Spec:       spec,
		}
	}
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	dnsPort := intstr.FromInt32(53)
	out := []object{
		{scope: p, id: "DefaultDeny", obj: np("default-deny", networkingv1.NetworkPolicySpec{PolicyTypes: both})},
		{scope: p, id: "AllowDNS", obj: np("allow-dns", networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{namespaceNameLabel: p.network.DNSNamespace}}}},
				Ports: []networkingv1.NetworkPolicyPort{
					{Protocol: protocol("UDP"), Port: &dnsPort},
					{Protocol: protocol("TCP"), Port: &dnsPort},
				},
			}},
		})},
	}
	callers := map[*ProcessorStage][]call{}
	callerOf := map[*ProcessorStage][]Stage{}
	for _, s := range g.order {
		for _, c := range s.base().calls {
			callers[c.callee] = append(callers[c.callee], c)
			callerOf[c.callee] = append(callerOf[c.callee], s)
		}
	}
	for _, s := range g.order {
		spec := networkingv1.NetworkPolicySpec{PodSelector: *s.base().selector()}
		if ps, ok := s.(*ProcessorStage); ok {
			for i, c := range callers[ps] {
				port := intstr.FromString(c.port.Name)
				spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: callerOf[ps][i].base().selector()}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: protocol(c.port.Protocol), Port: &port}},
				})
			}
			if in := ps.props.Ingress; in != nil {
				port := intstr.FromString(in.Port)
				spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{
					From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
						MatchLabels: map[string]string{namespaceNameLabel: p.network.IngressControllerNamespace}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: protocol(""), Port: &port}},
				})
			}
		}
		if m := s.(workloader).workload().Metrics; m != nil {
			port := intstr.FromString(m.Port)
			spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{
				From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{namespaceNameLabel: p.network.MonitoringNamespace}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: protocol(""), Port: &port}},
			})
		}
		for _, c := range s.base().calls {
			port := intstr.FromString(c.port.Name)
			spec.Egress = append(spec.Egress, networkingv1.NetworkPolicyEgressRule{
				To:    []networkingv1.NetworkPolicyPeer{{PodSelector: c.callee.selector()}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: protocol(c.port.Protocol), Port: &port}},
			})
		}
		if len(g.waits[s.base()]) > 0 {
			rule := networkingv1.NetworkPolicyEgressRule{}
			for _, c := range p.network.APIServerCIDRs {
				rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
			}
			for _, port := range p.network.APIServerPorts {
				v := intstr.FromInt32(port)
				rule.Ports = append(rule.Ports, networkingv1.NetworkPolicyPort{Protocol: protocol(""), Port: &v})
			}
			spec.Egress = append(spec.Egress, rule)
		}
		for _, r := range s.(workloader).workload().Egress {
			rule := networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: r.CIDR, Except: r.Except}}}}
			for _, port := range r.Ports {
				v := intstr.FromInt32(port)
				rule.Ports = append(rule.Ports, networkingv1.NetworkPolicyPort{Protocol: protocol(r.Protocol), Port: &v})
			}
			spec.Egress = append(spec.Egress, rule)
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
		pol := np(s.Name(), spec)
		pol.Labels = s.base().labels()
		out = append(out, object{scope: s.(constructs.Construct), id: "NetworkPolicy", obj: pol})
	}
	return out
}

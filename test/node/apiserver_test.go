package node

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// exampleAPIServers is the range the apps of apps/ take the API server's
// addresses from (TEST-NET-1, RFC 5737: documentation addresses, never a
// real host). stagecraft opens exactly the addresses an app states.
var exampleAPIServers = netip.MustParsePrefix("192.0.2.0/24")

// substituteAPIServer replaces, in the app's NetworkPolicies, each
// ipBlock of the apps' example API server range by this node's API server
// address, as a user states their cluster's: the rule stays exactly one
// address, so the policies proven are the ones the app ships with the
// cluster's address in them.
func (r *run) substituteAPIServer(t reporter) {
	node := nodeIP + "/32"
	n := 0
	for _, o := range r.objs {
		if o.u.GetKind() != "NetworkPolicy" {
			continue
		}
		egress, found, _ := unstructured.NestedSlice(o.u.Object, "spec", "egress")
		if !found {
			continue
		}
		for _, rule := range egress {
			rm, _ := rule.(map[string]any)
			to, _ := rm["to"].([]any)
			for _, peer := range to {
				pm, _ := peer.(map[string]any)
				block, _ := pm["ipBlock"].(map[string]any)
				cidr, _ := block["cidr"].(string)
				if p, err := netip.ParsePrefix(cidr); err == nil && exampleAPIServers.Contains(p.Addr()) && p.Bits() >= exampleAPIServers.Bits() {
					block["cidr"] = node
					n++
				}
			}
		}
		if err := unstructured.SetNestedSlice(o.u.Object, egress, "spec", "egress"); err != nil {
			t.Fatalf("%s: %v", o, err)
		}
	}
	if n > 0 {
		r.note("ADJUSTED (not a failure): %d ipBlock(s) of the app's example API server addresses (%s) replaced by this cluster's, %s, as its user would state them", n, exampleAPIServers, node)
	}
}

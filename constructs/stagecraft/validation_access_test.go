package stagecraft

import (
	"testing"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
)

// TestValidationAccess holds the rules of what a pipeline's pods may
// reach and hold: the API server's addresses and the accounts and tokens
// of the gates, the waits and Argo's executor.
func TestValidationAccess(t *testing.T) {
	var cases []vtCase
	cases = append(cases, vtAPIServerCases()...)
	vtRows(t, cases)
}

// vtWaiting builds pipeline "p" with props, a BatchStage "up" and a stage
// "s" of kind that runs after it ("batch", "processor" or "scheduled"),
// its workload changed by mod.
func vtWaiting(props PipelineProps, kind string, mod func(w *Workload)) func(cdk8s.Chart) {
	return func(c cdk8s.Chart) {
		p := NewPipeline(c, "p", props)
		up := NewBatchStage(p, "up", BatchStageProps{Workload: Workload{Image: vtImage, Command: []string{"/app"}}})
		w := Workload{Image: vtImage, Command: []string{"/app"}}
		if mod != nil {
			mod(&w)
		}
		switch kind {
		case "batch":
			NewBatchStage(p, "s", BatchStageProps{Workload: w}).RunsAfter(up)
		case "processor":
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: w}).RunsAfter(up)
		case "scheduled":
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: w, Schedule: "0 2 * * *"}).RunsAfter(up)
		}
	}
}

func vtAPIServerCases() []vtCase {
	const hint = "kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes"
	return []vtCase{
		{name: "api/gate without the API server's addresses", build: vtWaiting(PipelineProps{}, "batch", nil),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs", tRequired, vtNone).saying("the gate of stage test/p/s reads Jobs through the Kubernetes API")}},
		{name: "api/the problem says how to find them", build: vtWaiting(PipelineProps{}, "batch", nil),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs", tRequired, vtNone).saying("endpoint addresses, not the kubernetes Service's ClusterIP (most CNIs apply NetworkPolicies after the Service's address translation): " + hint)}},
		{name: "api/init-container wait without them", build: vtWaiting(PipelineProps{}, "processor", nil),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs", tRequired, vtNone).saying("stage test/p/s waits for upstream Jobs in an init container")}},
		{name: "api/scheduled wait without them", build: vtWaiting(PipelineProps{}, "scheduled", nil),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs", tRequired, vtNone)}},
		{name: "api/Argo chain without them", build: vtWaiting(PipelineProps{Workflows: &Workflows{}}, "batch", nil),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs", tRequired, vtNone).saying("Argo's executor containers")}},
		{name: "api/no wait needs no addresses", build: func(c cdk8s.Chart) {
			NewBatchStage(NewPipeline(c, "p", PipelineProps{}), "s", BatchStageProps{Workload: Workload{Image: vtImage}})
		}},
		{name: "api/no policies need no addresses", build: vtWaiting(PipelineProps{Network: Network{Disabled: true}}, "batch", nil)},
		{name: "api/addresses stated", build: vtWaiting(PipelineProps{Network: Network{APIServerCIDRs: []string{"192.0.2.10/32", "2001:db8::10/128"}}}, "processor", nil)},
	}
}

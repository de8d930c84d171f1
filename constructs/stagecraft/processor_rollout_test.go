package stagecraft_test

import (
	"fmt"
	"testing"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"k8s.io/utils/ptr"
)

// TestAcceleratorRollout: a Deployment with accelerators stops an old pod
// before it starts a new one (no spare accelerator is needed), whatever
// scales it; Rollout overrides it; a StatefulSet rolls one pod at a time
// already; other stages keep Kubernetes' defaults.
func TestAcceleratorRollout(t *testing.T) {
	t.Parallel()
	gpu := &stagecraft.Accelerators{Count: 1}
	web := []stagecraft.Port{{Name: "http", ContainerPort: 8080}}
	m := stagetest.SynthChart(t, "c", func(chart cdk8s.Chart) {
		p := stagecraft.NewPipeline(chart, "p", stagecraft.PipelineProps{})
		w := func(a *stagecraft.Accelerators) stagecraft.Workload {
			return stagecraft.Workload{Image: "ghcr.io/acme/serve:1.0.0", Accelerators: a}
		}
		stagecraft.NewProcessorStage(p, "one", stagecraft.ProcessorStageProps{Workload: w(gpu), Ports: web})
		stagecraft.NewProcessorStage(p, "hpa", stagecraft.ProcessorStageProps{Workload: w(gpu), Ports: web,
			Autoscaling: &stagecraft.Autoscaling{MinReplicas: 2, MaxReplicas: 6}})
		stagecraft.NewProcessorStage(p, "spare", stagecraft.ProcessorStageProps{Workload: w(gpu), Ports: web, Replicas: ptr.To[int32](4),
			Rollout: &stagecraft.Rollout{MaxSurge: "1", MaxUnavailable: "0"}})
		stagecraft.NewProcessorStage(p, "cpu", stagecraft.ProcessorStageProps{Workload: w(nil), Ports: web})
		stagecraft.NewProcessorStage(p, "index", stagecraft.ProcessorStageProps{Workload: w(gpu), Ports: web, Stateful: &stagecraft.Stateful{}})
	})
	strategy := func(name string) any {
		d := m.Find(t, "Deployment", "p", name)
		s, _ := stagetest.Lookup(d.Object, "spec.strategy")
		return s
	}
	noSurge := map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": int64(0), "maxUnavailable": int64(1)}}
	for name, want := range map[string]any{
		"one":   noSurge,
		"hpa":   noSurge,
		"spare": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": int64(1), "maxUnavailable": int64(0)}},
		"cpu":   map[string]any{},
	} {
		if got := strategy(name); !equalJSON(got, want) {
			t.Errorf("Deployment %s: strategy %v, want %v", name, got, want)
		}
	}
	// A StatefulSet's RollingUpdate stops each pod before its replacement.
	st := m.Find(t, "StatefulSet", "p", "index")
	if s, err := stagetest.Lookup(st.Object, "spec.updateStrategy"); err == nil && !equalJSON(s, map[string]any{}) {
		t.Errorf("StatefulSet index: updateStrategy %v, want Kubernetes' RollingUpdate", s)
	}
}

// equalJSON compares two decoded YAML values, treating nil as {}.
func equalJSON(a, b any) bool {
	if a == nil {
		a = map[string]any{}
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

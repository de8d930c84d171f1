package stagecraft_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// TestAIWorkloadValidation checks the rules of accelerators, sharded and
// queued batch work, autoscaling and disruption budgets: each bad input
// yields exactly one problem naming the field, with what is allowed.
func TestAIWorkloadValidation(t *testing.T) {
	t.Parallel()
	gpu := func(a stagecraft.Accelerators) stagecraft.Workload {
		return stagecraft.Workload{Image: image, Accelerators: &a}
	}
	batch := func(j stagecraft.JobSettings) func(p *stagecraft.Pipeline) {
		return func(p *stagecraft.Pipeline) {
			stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}, JobSettings: j})
		}
	}
	processor := func(props stagecraft.ProcessorStageProps) func(p *stagecraft.Pipeline) {
		return func(p *stagecraft.Pipeline) {
			if props.Image == "" {
				props.Image = image
			}
			stagecraft.NewProcessorStage(p, "s", props)
		}
	}
	cases := []struct {
		name, field, value string
		typ                field.ErrorType
		define             func(p *stagecraft.Pipeline)
	}{
		{"zero accelerators", "Accelerators.Count", "0", field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Workload: gpu(stagecraft.Accelerators{})})},
		{"negative accelerators", "Accelerators.Count", "-2", field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Workload: gpu(stagecraft.Accelerators{Count: -2})})},
		{"resource without vendor domain", "Accelerators.Resource", `"gpu"`, field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Workload: gpu(stagecraft.Accelerators{Count: 1, Resource: "gpu"})})},
		{"resource in kubernetes.io", "Accelerators.Resource", `"kubernetes.io/gpu"`, field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Workload: gpu(stagecraft.Accelerators{Count: 1, Resource: "kubernetes.io/gpu"})})},
		{"product of unknown vendor without label", "Accelerators.ProductLabel", "", field.ErrorTypeRequired,
			processor(stagecraft.ProcessorStageProps{Workload: gpu(stagecraft.Accelerators{Count: 1, Resource: "example.com/tpu", Product: "v5e"})})},
		{"bad toleration effect", "Accelerators.Tolerations[0].Effect", `"Sometimes"`, field.ErrorTypeNotSupported,
			processor(stagecraft.ProcessorStageProps{Workload: gpu(stagecraft.Accelerators{Count: 1, Tolerations: []stagecraft.Toleration{{Key: "gpu", Effect: "Sometimes"}}})})},
		{"shared memory above memory limit", "SharedMemory", `"1Gi"`, field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Workload: stagecraft.Workload{Image: image, SharedMemory: "1Gi"}})},
		{"indexed without completions", "Completions", "", field.ErrorTypeRequired,
			batch(stagecraft.JobSettings{Indexed: true})},
		{"indexed completions below parallelism", "Completions", "2", field.ErrorTypeInvalid,
			batch(stagecraft.JobSettings{Indexed: true, Parallelism: ptr.To[int32](4), Completions: ptr.To[int32](2)})},
		{"per-index backoff without indexed", "BackoffLimitPerIndex", "1", field.ErrorTypeForbidden,
			batch(stagecraft.JobSettings{BackoffLimitPerIndex: ptr.To[int32](1)})},
		{"both backoff limits", "BackoffLimit", "3", field.ErrorTypeForbidden,
			batch(stagecraft.JobSettings{Indexed: true, Completions: ptr.To[int32](2), BackoffLimit: ptr.To[int32](3), BackoffLimitPerIndex: ptr.To[int32](1)})},
		{"max failed indexes without per-index backoff", "MaxFailedIndexes", "1", field.ErrorTypeForbidden,
			batch(stagecraft.JobSettings{Indexed: true, Completions: ptr.To[int32](2), MaxFailedIndexes: ptr.To[int32](1)})},
		{"fail-fast exit code zero", "FailFastExitCodes[0]", "0", field.ErrorTypeInvalid,
			batch(stagecraft.JobSettings{FailFastExitCodes: []int32{0}})},
		{"bad queue name", "Queue", `"GPU Queue"`, field.ErrorTypeInvalid,
			batch(stagecraft.JobSettings{Queue: "GPU Queue"})},
		{"autoscaler minimum above maximum", "Autoscaling.MinReplicas", "5", field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Autoscaling: &stagecraft.Autoscaling{MinReplicas: 5, MaxReplicas: 2}})},
		{"autoscaler without maximum", "Autoscaling.MaxReplicas", "0", field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Autoscaling: &stagecraft.Autoscaling{}})},
		{"replicas and autoscaling", "Replicas", "3", field.ErrorTypeForbidden,
			processor(stagecraft.ProcessorStageProps{Replicas: ptr.To[int32](3), Autoscaling: &stagecraft.Autoscaling{MaxReplicas: 5}})},
		{"budget with maxUnavailable 0", "DisruptionBudget.MaxUnavailable", `"0"`, field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Replicas: ptr.To[int32](3), DisruptionBudget: &stagecraft.DisruptionBudget{MaxUnavailable: "0"}})},
		{"budget with minAvailable of every replica", "DisruptionBudget.MinAvailable", `"3"`, field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Replicas: ptr.To[int32](3), DisruptionBudget: &stagecraft.DisruptionBudget{MinAvailable: "3"}})},
		{"budget with minAvailable 100%", "DisruptionBudget.MinAvailable", `"100%"`, field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Autoscaling: &stagecraft.Autoscaling{MinReplicas: 2, MaxReplicas: 4}, DisruptionBudget: &stagecraft.DisruptionBudget{MinAvailable: "100%"}})},
		{"budget with minAvailable of the autoscaler minimum", "DisruptionBudget.MinAvailable", `"2"`, field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Autoscaling: &stagecraft.Autoscaling{MinReplicas: 2, MaxReplicas: 4}, DisruptionBudget: &stagecraft.DisruptionBudget{MinAvailable: "2"}})},
		{"budget with both bounds", "DisruptionBudget", `"1 and 1"`, field.ErrorTypeForbidden,
			processor(stagecraft.ProcessorStageProps{Replicas: ptr.To[int32](3), DisruptionBudget: &stagecraft.DisruptionBudget{MaxUnavailable: "1", MinAvailable: "1"}})},
		{"budget not a number", "DisruptionBudget.MaxUnavailable", `"one"`, field.ErrorTypeInvalid,
			processor(stagecraft.ProcessorStageProps{Replicas: ptr.To[int32](3), DisruptionBudget: &stagecraft.DisruptionBudget{MaxUnavailable: "one"}})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			stagetest.Do(func() {
				app := cdk8s.NewApp(nil)
				p := stagecraft.NewPipeline(cdk8s.NewChart(app, jsii.String("c"), nil), "p", stagecraft.PipelineProps{Network: testAPI})
				c.define(p)
				err = stagecraft.Validate(app)
			})
			var verr *stagecraft.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("want a *ValidationError, got %v", err)
			}
			if len(verr.Problems) != 1 {
				t.Fatalf("want exactly one problem, got:\n%v", verr)
			}
			pr := verr.Problems[0]
			if pr.Construct != "c/p/s" || pr.Field != c.field || pr.Type != c.typ || pr.Detail == "" {
				t.Errorf("got %s\nwant construct c/p/s, field %s, type %s, with a detail", pr, c.field, c.typ)
			}
			if c.value != "" && !strings.Contains(pr.String(), ": "+c.value+": ") {
				t.Errorf("got %s\nwant the value %s", pr, c.value)
			}
		})
	}
}

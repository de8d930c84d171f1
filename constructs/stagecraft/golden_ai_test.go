package stagecraft_test

import (
	"testing"
	"time"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"k8s.io/utils/ptr"
)

// Golden files for what AI workloads need: accelerators, shared memory,
// sharded and queued batch work, autoscaling and disruption budgets.
func TestGoldenAIWorkloads(t *testing.T) {
	t.Parallel()
	cases := map[string]func(chart cdk8s.Chart){
		"accelerators-nvidia": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewProcessorStage(p, "llm", stagecraft.ProcessorStageProps{
				Workload: stagecraft.Workload{
					Image:             image,
					Resources:         stagecraft.Resources{MemoryRequest: "32Gi", MemoryLimit: "32Gi"},
					Accelerators:      &stagecraft.Accelerators{Count: 2, Product: "NVIDIA-A100-SXM4-80GB", RuntimeClassName: "nvidia"},
					PriorityClassName: "inference-high",
				},
				Ports: []stagecraft.Port{{Name: "http", ContainerPort: 8000}},
			})
		},
		"accelerators-other-vendor": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewBatchStage(p, "train", stagecraft.BatchStageProps{
				Workload: stagecraft.Workload{
					Image:     image,
					Resources: stagecraft.Resources{MemoryRequest: "64Gi", MemoryLimit: "64Gi"},
					Accelerators: &stagecraft.Accelerators{
						Count: 8, Resource: "amd.com/gpu", Product: "MI300X",
						Tolerations: []stagecraft.Toleration{{Key: "amd.com/gpu", Value: "present", Effect: "NoSchedule"}, {Key: "dedicated"}},
					},
					SharedMemory: "16Gi",
				},
			})
		},
		// Any stage may ask for /dev/shm.
		"shared-memory": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewBatchStage(p, "loader", stagecraft.BatchStageProps{
				Workload: stagecraft.Workload{Image: image, SharedMemory: "128Mi", TerminationGracePeriod: 2 * time.Minute},
			})
		},
		"batch-indexed-queued": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewBatchStage(p, "embed", stagecraft.BatchStageProps{
				Workload: stagecraft.Workload{Image: image, Accelerators: &stagecraft.Accelerators{Count: 1}},
				JobSettings: stagecraft.JobSettings{
					Indexed: true, Parallelism: ptr.To[int32](4), Completions: ptr.To[int32](16),
					BackoffLimitPerIndex: ptr.To[int32](3), MaxFailedIndexes: ptr.To[int32](2),
					FailFastExitCodes: []int32{42, 3}, Queue: "gpu-batch",
				},
			})
		},
		"batch-count-disruptions": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewBatchStage(p, "once", stagecraft.BatchStageProps{
				Workload:    stagecraft.Workload{Image: image},
				JobSettings: stagecraft.JobSettings{CountDisruptions: true},
			})
		},
		"scheduled-queued": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewScheduledStage(p, "retrain", stagecraft.ScheduledStageProps{
				Workload:    stagecraft.Workload{Image: image, Accelerators: &stagecraft.Accelerators{Count: 4}},
				JobSettings: stagecraft.JobSettings{Queue: "training"},
				Schedule:    "0 4 * * 0",
			})
		},
		"processor-autoscaling": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
				Workload:    stagecraft.Workload{Image: image},
				Ports:       []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
				Autoscaling: &stagecraft.Autoscaling{MinReplicas: 3, MaxReplicas: 30, CPUUtilization: 60, MemoryUtilization: 75, ScaleDownStabilization: 15 * time.Minute},
			})
		},
		"processor-budget-options": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
				Workload:         stagecraft.Workload{Image: image, TerminationGracePeriod: 120 * time.Second},
				Replicas:         ptr.To[int32](4),
				Ports:            []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
				DisruptionBudget: &stagecraft.DisruptionBudget{MinAvailable: "75%"},
				Spread:           &stagecraft.Spread{Required: true},
			})
			stagecraft.NewProcessorStage(p, "worker", stagecraft.ProcessorStageProps{
				Workload:         stagecraft.Workload{Image: image},
				Replicas:         ptr.To[int32](2),
				DisruptionBudget: &stagecraft.DisruptionBudget{Disabled: true},
				Spread:           &stagecraft.Spread{Disabled: true},
			})
		},
	}
	runGolden(t, cases)
}

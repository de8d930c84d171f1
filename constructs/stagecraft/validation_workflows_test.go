package stagecraft

import (
	"testing"
	"time"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"k8s.io/utils/ptr"
)

// vtArgo builds pipeline "p" rendered as Argo Workflows, with storage
// "data", and the stages of build.
func vtArgo(w Workflows, build func(p *Pipeline, data *PipelineStorage)) func(cdk8s.Chart) {
	return func(c cdk8s.Chart) {
		p := NewPipeline(c, "p", PipelineProps{Workflows: &w, Network: testAPI})
		build(p, NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi"}))
	}
}

// vtTask is a workload a task can run: it has a command.
func vtTask(ms ...Mount) Workload {
	return Workload{Image: vtImage, Command: []string{"/work"}, Mounts: ms}
}

// vtWorkflowsCases are the problems of pipelines rendered as Argo
// Workflows: the tasks' own rules, the chain's shape, names Argo would
// take twice and waits across the chain's boundary.
func vtWorkflowsCases() []vtCase {
	write := func(d *PipelineStorage) Mount { return Mount{Storage: d, Path: "/data"} }
	read := func(d *PipelineStorage, wait *bool) Mount {
		return Mount{Storage: d, Path: "/data", ReadOnly: true, WaitForWriters: wait}
	}
	gpu := &Accelerators{Count: 1}
	job := func(p *Pipeline, id string, j JobSettings, ms ...Mount) *BatchStage {
		return NewBatchStage(p, id, BatchStageProps{Workload: vtTask(ms...), JobSettings: j})
	}
	return []vtCase{
		{name: "argo/a scheduled head, sharded GPU task and a processor that does not wait", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			NewScheduledStage(p, "head", ScheduledStageProps{Workload: vtTask(write(d)), Schedule: "*/15 * * * *"})
			w := vtTask(read(d, nil))
			w.Accelerators = gpu
			embed := NewBatchStage(p, "embed", BatchStageProps{Workload: w, JobSettings: JobSettings{Indexed: true, Completions: ptr.To[int32](4), Parallelism: ptr.To[int32](2)}})
			NewProcessorStage(p, "serve", ProcessorStageProps{Workload: Workload{Image: vtImage, Mounts: []Mount{read(d, nil)}}})
			job(p, "after", JobSettings{}).RunsAfter(embed)
		})},
		{name: "argo/a processor that runs after a task", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			a := job(p, "a", JobSettings{})
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: Workload{Image: vtImage}}).RunsAfter(a)
		}), want: []vtWant{vtS("RunsAfter", tForbidden, "a")}},
		{name: "argo/a processor that reads a task's storage without waiting", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			job(p, "a", JobSettings{}, write(d))
			NewProcessorStage(p, "serve", ProcessorStageProps{Workload: Workload{Image: vtImage, Mounts: []Mount{read(d, nil)}}})
		})},
		{name: "argo/a processor that waits for a task's storage", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			job(p, "a", JobSettings{}, write(d))
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: Workload{Image: vtImage, Mounts: []Mount{read(d, ptr.To(true))}}})
		}), want: []vtWant{vtS("Mounts[0].WaitForWriters", tForbidden, "a")}},
		{name: "argo/a task without a command", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: vtImage}})
		}), want: []vtWant{vtS("Command", tRequired, vtNone)}},
		{name: "argo/Job-only settings of a task", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			NewBatchStage(p, "s", BatchStageProps{Workload: vtTask(), Revision: "r2", FixedJobName: true, JobSettings: JobSettings{
				TTLAfterFinished: time.Hour, Indexed: true, Completions: ptr.To[int32](4), BackoffLimitPerIndex: ptr.To[int32](1), MaxFailedIndexes: ptr.To[int32](1)}})
		}), want: []vtWant{vtS("TTLAfterFinished", tForbidden, "1h0m0s"), vtS("MaxFailedIndexes", tForbidden, 1),
			vtS("FixedJobName", tForbidden, true), vtS("Revision", tForbidden, "r2")}},
		{name: "argo/a work queue task", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			job(p, "s", JobSettings{Parallelism: ptr.To[int32](3)})
		}), want: []vtWant{vtS("Parallelism", tForbidden, 3)}},
		{name: "argo/a fan-out without indexes", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			job(p, "s", JobSettings{Parallelism: ptr.To[int32](3), Completions: ptr.To[int32](6)})
		})},
		{name: "argo/two scheduled stages", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			NewScheduledStage(p, "a", ScheduledStageProps{Workload: vtTask(), Schedule: "@daily"})
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: vtTask(), Schedule: "@hourly"})
		}), want: []vtWant{vtS("Schedule", tForbidden, "@hourly")}},
		{name: "argo/a scheduled stage after a task", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			a := job(p, "a", JobSettings{})
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: vtTask(), Schedule: "@daily"}).RunsAfter(a)
		}), want: []vtWant{vtS("RunsAfter", tForbidden, "a")}},
		{name: "argo/a stage named as the DAG", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			job(p, "dag", JobSettings{})
		}), want: []vtWant{vtAt("test/p/dag", "id", tDuplicate, "dag")}},
		{name: "argo/a stage named as a fan-out", build: vtArgo(Workflows{}, func(p *Pipeline, d *PipelineStorage) {
			job(p, "a", JobSettings{Completions: ptr.To[int32](2)})
			NewProcessorStage(p, "a-shards", ProcessorStageProps{Workload: Workload{Image: vtImage}})
		}), want: []vtWant{vtAt("test/p/a-shards", "id", tDuplicate, "a-shards")}},
		{name: "argo/a stage named as the executor", build: vtArgo(Workflows{Name: "chain"}, func(p *Pipeline, d *PipelineStorage) {
			job(p, "chain-executor", JobSettings{})
		}), want: []vtWant{vtAt("test/p/chain-executor", "id", tDuplicate, "chain-executor")}},
		{name: "argo/name and executor resources", build: vtArgo(Workflows{Name: "Bad_Name", ExecutorResources: Resources{CPURequest: "lots"}}, func(p *Pipeline, d *PipelineStorage) {
			job(p, "a", JobSettings{})
		}), want: []vtWant{vtAt("test/p", "Workflows.Name", tInvalid, "Bad_Name"), vtAt("test/p", "Workflows.ExecutorResources.CPURequest", tInvalid, "lots")}},
		{name: "argo/a name too long for a CronWorkflow", build: vtArgo(Workflows{Name: vtLong(53)}, func(p *Pipeline, d *PipelineStorage) {
			job(p, "a", JobSettings{})
		}), want: []vtWant{vtAt("test/p", "Workflows.Name", tTooLong, vtLong(53))}},
	}
}

// TestWorkflowsValidation checks the problems of pipelines rendered as
// Argo Workflows.
func TestWorkflowsValidation(t *testing.T) { vtRows(t, vtWorkflowsCases()) }

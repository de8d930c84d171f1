package stagecraft

import (
	"time"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"k8s.io/utils/ptr"
)

// vtWaitCases are the problems of waits: what the pipeline's order allows
// and refuses. Stages "a" write storage "data", the others read it.
func vtWaitCases() []vtCase {
	rwo := []string{"ReadWriteOnce"}
	const data = "test/p/data"
	gpu := &Accelerators{Count: 1}
	read := func(d *PipelineStorage, wait *bool) Mount {
		return Mount{Storage: d, Path: "/data", ReadOnly: true, WaitForWriters: wait}
	}
	writer := func(p *Pipeline, d *PipelineStorage, ttl time.Duration) *BatchStage {
		return NewBatchStage(p, "a", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), JobSettings: JobSettings{TTLAfterFinished: ttl}})
	}
	withGPU := func(m Mount) Workload { w := vtW(m); w.Accelerators = gpu; return w }
	return []vtCase{
		{name: "wait/a batch reader runs after its writer on read-write-once storage", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(read(d, nil))})
		})},
		{name: "wait/a scheduled reader runs after its writer on read-write-once storage", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: vtW(read(d, nil)), Schedule: "@daily"})
		})},
		{name: "wait/a processor reader that does not wait runs with its writer", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			NewBatchStage(p, "b", BatchStageProps{Workload: vtW(read(d, nil))})
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: vtW(read(d, nil))})
		}), want: []vtWant{vtAt(data, "AccessModes", tInvalid, rwo)}},
		{name: "wait/a batch reader that opts out runs with its writer", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(read(d, ptr.To(false)))})
		}), want: []vtWant{vtAt(data, "AccessModes", tInvalid, rwo)}},
		{name: "wait/a processor reader that waits runs after its writer", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: vtW(read(d, ptr.To(true)))})
		})},
		{name: "wait/a processor with accelerators waits for writers", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: withGPU(read(d, ptr.To(true)))})
		}), want: []vtWant{vtS("Mounts[0].WaitForWriters", tForbidden, "a (which writes storage data)")}},
		{name: "wait/a scheduled stage with accelerators reads what a batch stage writes", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: withGPU(read(d, nil)), Schedule: "@daily"})
		}), want: []vtWant{vtS("Mounts[0].WaitForWriters", tForbidden, "a (which writes storage data)")}},
		{name: "wait/a scheduled stage with accelerators that does not wait", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: withGPU(read(d, ptr.To(false))), Schedule: "@daily"})
		})},
		{name: "wait/a processor with accelerators runs after a batch stage", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			a := writer(p, d, 0)
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: Workload{Image: vtImage, Accelerators: gpu}}).RunsAfter(a)
		}), want: []vtWant{vtS("RunsAfter", tForbidden, "a")}},
		{name: "wait/a batch stage with accelerators waits, held", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			NewBatchStage(p, "s", BatchStageProps{Workload: withGPU(read(d, nil))})
		})},
		{name: "wait/a processor runs after a scheduled stage, ordered only", build: func(c cdk8s.Chart) {
			p := vtPipeline(c)
			up := NewScheduledStage(p, "up", ScheduledStageProps{Workload: Workload{Image: vtImage}, Schedule: "@daily"})
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: Workload{Image: vtImage, Accelerators: gpu}}).RunsAfter(up)
		}},
		{name: "wait/a Job others wait for is deleted after a TTL", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, time.Hour)
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(read(d, nil))})
		}), want: []vtWant{vtAt("test/p/a", "TTLAfterFinished", tForbidden, "1h0m0s")}},
		{name: "wait/a Job others wait for runs no pod", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			NewBatchStage(p, "a", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), JobSettings: JobSettings{Parallelism: ptr.To[int32](0)}})
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(read(d, nil))})
		}), want: []vtWant{vtAt("test/p/a", "Parallelism", tForbidden, int32(0))}},
		{name: "wait/a Job nobody waits for may be paused", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			NewBatchStage(p, "a", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), JobSettings: JobSettings{Parallelism: ptr.To[int32](0)}})
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: vtW(read(d, nil))})
		})},
		{name: "wait/a Job nobody waits for has no TTL either", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, time.Hour)
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: vtW(read(d, nil))})
		}), want: []vtWant{vtAt("test/p/a", "TTLAfterFinished", tForbidden, "1h0m0s").saying("re-creates it and it runs again")}},
		{name: "wait/the name of a gate is taken", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(read(d, nil))})
			NewProcessorStage(p, "s-gate", ProcessorStageProps{Workload: Workload{Image: vtImage}})
		}), want: []vtWant{vtAt("test/p/s-gate", "id", tDuplicate, "s-gate")}},
		{name: "wait/a stage that waits as the default service account", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			w := vtW(read(d, nil))
			w.ServiceAccountName = "default"
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: w, Schedule: "@daily"})
		}), want: []vtWant{vtS("ServiceAccountName", tForbidden, "default")}},
		{name: "wait/a stage that waits as an account of its own", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			w := vtW(read(d, nil))
			w.ServiceAccountName = "reader"
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: w, Schedule: "@daily"})
		})},
		{name: "wait/a held stage as the default service account: its gate has its own", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, 0)
			w := vtW(read(d, nil))
			w.ServiceAccountName = "default"
			NewBatchStage(p, "s", BatchStageProps{Workload: w})
		})},
		{name: "wait/a cycle elsewhere hides no wait's problem", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			writer(p, d, time.Hour)
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(read(d, nil))})
			x := NewBatchStage(p, "x", BatchStageProps{Workload: Workload{Image: vtImage}})
			y := NewBatchStage(p, "y", BatchStageProps{Workload: Workload{Image: vtImage}})
			x.RunsAfter(y)
			y.RunsAfter(x)
		}), want: []vtWant{vtAt("test/p", "RunsAfter", tInvalid, nil), vtAt("test/p/a", "TTLAfterFinished", tForbidden, "1h0m0s")}},
		{name: "wait/WaitForWriters on a mount that writes", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data", WaitForWriters: ptr.To(true)})})
		}), want: []vtWant{vtS("Mounts[0].WaitForWriters", tForbidden, true)}},
	}
}

// vtHeadlessCases: a stateful stage's headless Service does not translate
// ports.
func vtHeadlessCases() []vtCase {
	return []vtCase{
		{name: "stateful/service port differs from the container port", build: vtProc(func(p *Pipeline, s *ProcessorStageProps) {
			s.Stateful = &Stateful{}
			s.Ports = []Port{{Name: "http", ContainerPort: 8080, ServicePort: 80}}
		}), want: []vtWant{vtS("Ports[0].ServicePort", tInvalid, int32(80))}},
		{name: "stateful/service port equals the container port", build: vtProc(func(p *Pipeline, s *ProcessorStageProps) {
			s.Stateful = &Stateful{}
			s.Ports = []Port{{Name: "http", ContainerPort: 8080, ServicePort: 8080}}
		})},
	}
}

// testAPI states the API server's address (a documentation address,
// RFC 5737) for the pipelines of tests whose stages wait.
var testAPI = Network{APIServerCIDRs: []string{"192.0.2.10/32"}}

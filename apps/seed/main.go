// Command seed synthesizes the seed pipeline: a data processor behind a
// Service and an Ingress, a batch job, a nightly job, a stateful cache and
// the storage they share.
package main

import (
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
	"k8s.io/utils/ptr"
)

func main() { synth.MainChart("seed", synth.Options{}, define) }

// define declares the seed pipeline in chart.
func define(chart cdk8s.Chart) {
	p := stagecraft.NewPipeline(chart, "ai-pipeline", stagecraft.PipelineProps{
		// The API server's endpoint addresses, which the stages that wait
		// for upstream Jobs reach (192.0.2.0/24 is a documentation range,
		// RFC 5737: state your cluster's, from kubectl get endpointslices
		// -n default -l kubernetes.io/service-name=kubernetes).
		Network: stagecraft.Network{APIServerCIDRs: []string{"192.0.2.10/32"}},
	})

	data := stagecraft.NewPipelineStorage(p, "pipeline-data", stagecraft.PipelineStorageProps{
		Size: "20Gi",
	})

	processor := stagecraft.NewProcessorStage(p, "data-processor", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{
			Image:  "ghcr.io/stagecraft-dev/data-processor:1.0.0",
			Env:    []stagecraft.EnvVar{stagecraft.Env("LOG_LEVEL", "info")},
			Mounts: []stagecraft.Mount{{Storage: data, Path: "/data", ReadOnly: true}},
		},
		Replicas:  ptr.To[int32](1),
		Ports:     []stagecraft.Port{{Name: "http", ContainerPort: 8080, ServicePort: 80}},
		Readiness: &stagecraft.Probe{HTTPPath: "/healthz"},
		Ingress:   &stagecraft.Ingress{Host: "data.example.com"},
	})

	batch := stagecraft.NewBatchStage(p, "batch-job", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{
			Image:  "ghcr.io/stagecraft-dev/batch-worker:1.0.0",
			Args:   []string{"--input", "/data/incoming", "--output", "/data/processed"},
			Mounts: []stagecraft.Mount{{Storage: data, Path: "/data"}},
		},
		JobSettings: stagecraft.JobSettings{BackoffLimit: ptr.To[int32](4)},
	})

	cleanup := stagecraft.NewScheduledStage(p, "nightly-cleanup", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{
			Image:  "ghcr.io/stagecraft-dev/batch-worker:1.0.0",
			Args:   []string{"--cleanup", "/data/processed", "--older-than", "7d"},
			Mounts: []stagecraft.Mount{{Storage: data, Path: "/data"}},
		},
		Schedule: "0 2 * * *",
	})

	store := stagecraft.NewProcessorStage(p, "state-store", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: "ghcr.io/stagecraft-dev/state-store:1.0.0"},
		Ports:    []stagecraft.Port{{Name: "tcp", ContainerPort: 6379}},
		Stateful: &stagecraft.Stateful{Volumes: []stagecraft.VolumeClaim{{Name: "state", Path: "/var/lib/state", Size: "5Gi"}}},
	})

	processor.Calls(store)
	cleanup.RunsAfter(batch)
}

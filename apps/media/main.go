// Command media synthesizes a recurring media pipeline on Argo Workflows:
// every 15 minutes a job discovers new media files, then GPU shards
// transcribe them, then a job publishes the transcripts to the search
// service, which serves them. The three run-to-completion steps are one
// Argo Workflows DAG, run again on every schedule by a CronWorkflow.
package main

import (
	"time"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
	"k8s.io/utils/ptr"
)

func main() { synth.MainChart("media", synth.Options{}, define) }

// define declares the media pipeline in chart.
func define(chart cdk8s.Chart) {
	p := stagecraft.NewPipeline(chart, "media", stagecraft.PipelineProps{
		Labels:    map[string]string{"team": "media"},
		Workflows: &stagecraft.Workflows{},
		// The API server's endpoint addresses, which Argo's executor
		// containers reach (a documentation range, RFC 5737: state your
		// cluster's, from kubectl get endpointslices -n default -l
		// kubernetes.io/service-name=kubernetes).
		Network: stagecraft.Network{APIServerCIDRs: []string{"192.0.2.40/32"}},
	})
	inbox := stagecraft.NewPipelineStorage(p, "inbox", stagecraft.PipelineStorageProps{Size: "100Gi"})
	transcripts := stagecraft.NewPipelineStorage(p, "transcripts", stagecraft.PipelineStorageProps{Size: "20Gi"})

	// discover heads the chain: its schedule is the CronWorkflow's.
	stagecraft.NewScheduledStage(p, "discover", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{
			Image:   "ghcr.io/acme/media-discover:1.4.0",
			Command: []string{"/app/discover"},
			Args:    []string{"--source", "https://media.example.com/feeds", "--into", "/inbox"},
			Mounts:  []stagecraft.Mount{{Storage: inbox, Path: "/inbox"}},
			Egress:  []stagecraft.EgressRule{{CIDR: "203.0.113.0/24", Ports: []int32{443}}},
		},
		Schedule: "*/15 * * * *",
		JobSettings: stagecraft.JobSettings{
			BackoffLimit:   ptr.To[int32](2),
			ActiveDeadline: 10 * time.Minute,
		},
	})

	// transcribe reads what discover wrote: 4 shards on GPUs, 2 at once.
	transcribe := stagecraft.NewBatchStage(p, "transcribe", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{
			Image:   "ghcr.io/acme/media-transcribe:2.1.0",
			Command: []string{"python", "-m", "transcribe"},
			Args:    []string{"--inbox", "/inbox", "--out", "/transcripts", "--shards", "4"},
			Mounts: []stagecraft.Mount{
				{Storage: inbox, Path: "/inbox", ReadOnly: true},
				{Storage: transcripts, Path: "/transcripts"},
			},
			Resources:    stagecraft.Resources{CPURequest: "2", CPULimit: "4", MemoryRequest: "8Gi", MemoryLimit: "8Gi"},
			Accelerators: &stagecraft.Accelerators{Count: 1, Product: "NVIDIA-L4"},
		},
		JobSettings: stagecraft.JobSettings{
			Indexed:              true,
			Completions:          ptr.To[int32](4),
			Parallelism:          ptr.To[int32](2),
			BackoffLimitPerIndex: ptr.To[int32](2),
			FailFastExitCodes:    []int32{3},
			ActiveDeadline:       45 * time.Minute,
			Queue:                "gpu-batch",
		},
	})

	search := stagecraft.NewProcessorStage(p, "search", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{
			Image:  "ghcr.io/acme/media-search:3.0.2",
			Mounts: []stagecraft.Mount{{Storage: transcripts, Path: "/transcripts", ReadOnly: true}},
		},
		Ports:     []stagecraft.Port{{Name: "http", ContainerPort: 8080, ServicePort: 80}},
		Readiness: &stagecraft.Probe{HTTPPath: "/healthz"},
	})

	// publish tells search about the new transcripts, after transcribe.
	publish := stagecraft.NewBatchStage(p, "publish", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{
			Image:   "ghcr.io/acme/media-publish:1.0.3",
			Command: []string{"/app/publish"},
			Args:    []string{"--transcripts", "/transcripts", "--search", "http://$(SEARCH_ENDPOINT)"},
			Mounts:  []stagecraft.Mount{{Storage: transcripts, Path: "/transcripts", ReadOnly: true}},
		},
	})
	publish.RunsAfter(transcribe)
	publish.Calls(search)
}

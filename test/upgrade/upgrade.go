// Package upgrade is the matrix of typical edits of a pipeline that the
// real-cluster tests apply as a second version over a first one (see
// test/e2e/upgrade_test.go): the app, each edit, and what each edit must
// do on the cluster. The command cmd/matrix writes the two versions of
// every edit as output folders, with the expectations in matrix.json.
package upgrade

import (
	"fmt"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"k8s.io/utils/ptr"
)

// Version is what the edits change in the app.
type Version struct {
	Namespace     string
	APIImage      string
	APIEnv        string
	APICPU        string
	APIReplicas   int32
	APIName       string
	IndexImage    string
	StateSize     string
	IngestImage   string
	IngestRev     string
	EmbedArgs     []string
	EmbedShards   int32
	EmbedCallsAPI bool
	ReportImage   string
	ReportCron    string
	NoReport      bool
	GPUCount      int32
	DataSize      string
	Cache         bool
	Scratch       bool
	Extra         bool
	Accept        []stagecraft.Change
}

// Base is the first version of the app, in namespace ns.
func Base(ns string) Version {
	return Version{
		Namespace: ns, APIImage: "1.0.0", APIEnv: "info", APICPU: "100m", APIReplicas: 1, APIName: "api",
		IndexImage: "1.0.0", StateSize: "1Gi", IngestImage: "1.0.0", EmbedArgs: []string{"--model", "small"},
		EmbedShards: 2, ReportImage: "1.0.0", ReportCron: "0 3 * * *", GPUCount: 1, DataSize: "1Gi", Scratch: true,
	}
}

// Define declares version v of the app in chart: storage written by an
// ingest Job and read by a sharded embed Job, a processor, a stateful
// index, a GPU processor and a nightly report.
func Define(chart cdk8s.Chart, v Version) {
	p := stagecraft.NewPipeline(chart, "up", stagecraft.PipelineProps{Namespace: v.Namespace,
		// A documentation address (RFC 5737) for the API server the waits reach.
		Network: stagecraft.Network{APIServerCIDRs: []string{"192.0.2.10/32"}}})
	for _, c := range v.Accept {
		p.AcceptChange(c)
	}
	data := stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{Size: v.DataSize})
	if v.Cache {
		stagecraft.NewPipelineStorage(p, "cache", stagecraft.PipelineStorageProps{Size: "1Gi"})
	}
	if v.Scratch {
		stagecraft.NewPipelineStorage(p, "scratch", stagecraft.PipelineStorageProps{Size: "1Gi"})
	}
	read := []stagecraft.Mount{{Storage: data, Path: "/data", ReadOnly: true}}
	ingest := stagecraft.NewBatchStage(p, "ingest", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{Image: image("ingest", v.IngestImage), Mounts: []stagecraft.Mount{{Storage: data, Path: "/data"}}},
		Revision: v.IngestRev,
	})
	api := stagecraft.NewProcessorStage(p, v.APIName, stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image("api", v.APIImage), Env: []stagecraft.EnvVar{stagecraft.Env("LOG_LEVEL", v.APIEnv)},
			Resources: stagecraft.Resources{CPURequest: v.APICPU}},
		Replicas: ptr.To(v.APIReplicas),
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
	})
	stagecraft.NewProcessorStage(p, "index", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image("index", v.IndexImage)},
		Ports:    []stagecraft.Port{{Name: "tcp", ContainerPort: 6333}},
		Stateful: &stagecraft.Stateful{Volumes: []stagecraft.VolumeClaim{{Name: "state", Path: "/state", Size: v.StateSize}}},
	})
	embed := stagecraft.NewBatchStage(p, "embed", stagecraft.BatchStageProps{
		Workload:    stagecraft.Workload{Image: image("embed", "1.0.0"), Args: v.EmbedArgs, Mounts: read},
		JobSettings: stagecraft.JobSettings{Indexed: true, Completions: ptr.To(v.EmbedShards), Parallelism: ptr.To[int32](2)},
	})
	embed.RunsAfter(ingest)
	if v.EmbedCallsAPI {
		embed.Calls(api)
	}
	stagecraft.NewProcessorStage(p, "rerank", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image("rerank", "1.0.0"), Accelerators: &stagecraft.Accelerators{Count: v.GPUCount},
			Resources: stagecraft.Resources{MemoryRequest: "1Gi", MemoryLimit: "1Gi"}},
		Ports: []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
	})
	if !v.NoReport {
		stagecraft.NewScheduledStage(p, "report", stagecraft.ScheduledStageProps{
			Workload: stagecraft.Workload{Image: image("report", v.ReportImage), Mounts: read},
			Schedule: v.ReportCron,
		})
	}
	if v.Extra {
		extra := stagecraft.NewBatchStage(p, "extra", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image("extra", "1.0.0"), Mounts: read}})
		extra.RunsAfter(ingest)
	}
}

func image(name, tag string) string { return fmt.Sprintf("ghcr.io/acme/%s:%s", name, tag) }

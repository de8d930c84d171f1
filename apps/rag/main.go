// Command rag synthesizes a retrieval-augmented generation pipeline: a
// nightly job ingests documents into shared storage, a batch job embeds
// them, a stateful vector index serves the embeddings, and an API answers
// questions behind an Ingress.
package main

import (
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"k8s.io/utils/ptr"
)

func main() {
	app := cdk8s.NewApp(nil)
	define(cdk8s.NewChart(app, jsii.String("rag"), nil))
	stagecraft.Main(app, "rag")
}

// define declares the RAG pipeline in chart.
func define(chart cdk8s.Chart) {
	p := stagecraft.NewPipeline(chart, "rag", stagecraft.PipelineProps{
		Labels: map[string]string{"team": "search"},
		Defaults: stagecraft.Defaults{
			Resources: stagecraft.Resources{CPURequest: "250m", MemoryRequest: "512Mi", MemoryLimit: "512Mi"},
		},
	})

	docs := stagecraft.NewPipelineStorage(p, "documents", stagecraft.PipelineStorageProps{
		Size:             "200Gi",
		StorageClassName: "shared-files",
	})

	stagecraft.NewScheduledStage(p, "ingest", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{
			Image: "ghcr.io/acme/rag-ingest:2.3.1",
			Args:  []string{"--source", "s3://acme-docs/", "--dest", "/data/raw"},
			Env: []stagecraft.EnvVar{
				stagecraft.EnvFromSecret("AWS_ACCESS_KEY_ID", "docs-bucket", "access-key-id"),
				stagecraft.EnvFromSecret("AWS_SECRET_ACCESS_KEY", "docs-bucket", "secret-access-key"),
			},
			Mounts: []stagecraft.Mount{{Storage: docs, Path: "/data", SubPath: "corpus"}},
		},
		JobSettings: stagecraft.JobSettings{ActiveDeadline: 2 * time.Hour},
		Schedule:    "30 1 * * *",
		TimeZone:    "Europe/Berlin",
	})

	stagecraft.NewBatchStage(p, "embed", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{
			Image:     "ghcr.io/acme/rag-embed:2.3.1",
			Args:      []string{"--input", "/data/raw", "--index", "http://vector-index.rag.svc:6333"},
			Resources: stagecraft.Resources{CPURequest: "2", CPULimit: "4", MemoryRequest: "8Gi", MemoryLimit: "8Gi"},
			Mounts:    []stagecraft.Mount{{Storage: docs, Path: "/data", SubPath: "corpus", ReadOnly: true}},
		},
		JobSettings: stagecraft.JobSettings{
			Parallelism:    ptr.To[int32](4),
			Completions:    ptr.To[int32](4),
			ActiveDeadline: 6 * time.Hour,
		},
	})

	stagecraft.NewProcessorStage(p, "vector-index", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{
			Image:     "docker.io/qdrant/qdrant:v1.12.4",
			Resources: stagecraft.Resources{CPURequest: "1", CPULimit: "2", MemoryRequest: "4Gi", MemoryLimit: "4Gi"},
		},
		Replicas:  ptr.To[int32](3),
		Ports:     []stagecraft.Port{{Name: "http", ContainerPort: 6333}, {Name: "grpc", ContainerPort: 6334}},
		Readiness: &stagecraft.Probe{HTTPPath: "/readyz"},
		Stateful: &stagecraft.Stateful{
			Volumes:       []stagecraft.VolumeClaim{{Name: "index", Path: "/qdrant/storage", Size: "50Gi"}},
			ParallelStart: true,
		},
	})

	stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{
			Image: "ghcr.io/acme/rag-api:2.3.1",
			Env: []stagecraft.EnvVar{
				stagecraft.Env("VECTOR_INDEX_URL", "http://vector-index.rag.svc:6333"),
				stagecraft.EnvFromSecret("LLM_API_KEY", "llm-credentials", "api-key"),
				stagecraft.EnvFromConfigMap("PROMPT_TEMPLATE", "rag-prompts", "answer"),
			},
		},
		Replicas:  ptr.To[int32](2),
		Ports:     []stagecraft.Port{{Name: "http", ContainerPort: 8000, ServicePort: 80}},
		Readiness: &stagecraft.Probe{HTTPPath: "/ready", Period: 5 * time.Second},
		Liveness:  &stagecraft.Probe{HTTPPath: "/live", Period: 20 * time.Second, FailureThreshold: 3},
		Startup:   &stagecraft.Probe{HTTPPath: "/live", Period: 5 * time.Second, FailureThreshold: 60},
		Ingress: &stagecraft.Ingress{
			Host:          "rag.example.com",
			ClassName:     "nginx",
			TLSSecretName: "rag-example-com-tls",
		},
	})
}

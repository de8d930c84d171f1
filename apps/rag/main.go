// Command rag synthesizes a retrieval-augmented generation pipeline: a
// nightly job ingests documents into shared storage, a batch job embeds
// them, a stateful vector index serves the embeddings, and an API answers
// questions behind an Ingress.
package main

import (
	"strings"
	"time"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
	"k8s.io/utils/ptr"
)

func main() {
	synth.MainEnvironments("rag", []string{"dev", "prod"}, synth.Options{}, func(env string, chart cdk8s.Chart) {
		define(chart, environments[env])
	})
}

// settings are what differ between the app's environments.
type settings struct {
	Namespace string
	// APIServer are the API server's endpoint addresses (kubectl get
	// endpointslices -n default -l kubernetes.io/service-name=kubernetes),
	// which the gate and the waits reach; here documentation addresses
	// (RFC 5737): one control plane in dev, three in prod.
	APIServer      []string
	Host           string
	ArchiveServer  string // NFS server of the document archive
	IngestSchedule string
	DocumentsSize  string
	ModelsSize     string
	IndexSize      string
	IndexReplicas  int32
	EmbedShards    int32
	GPU            string // accelerator product
	API            stagecraft.Autoscaling
	RerankerMax    int32 // the GPU reranker scales between zero and this
	APIResources   stagecraft.Resources
}

// environments holds the settings of each environment, in typed Go.
var environments = map[string]settings{
	"dev": {
		Namespace:      "rag-dev",
		APIServer:      []string{"192.0.2.20/32"},
		Host:           "rag.dev.example.com",
		ArchiveServer:  "nas-dev.internal.example.com",
		IngestSchedule: "0 */6 * * *",
		DocumentsSize:  "20Gi",
		ModelsSize:     "50Gi",
		IndexSize:      "10Gi",
		IndexReplicas:  1,
		EmbedShards:    1,
		GPU:            "NVIDIA-L4",
		API:            stagecraft.Autoscaling{MinReplicas: 1, MaxReplicas: 2, CPUUtilization: 70},
		RerankerMax:    1,
	},
	"prod": {
		Namespace:      "rag-prod",
		APIServer:      []string{"192.0.2.30/32", "192.0.2.31/32", "192.0.2.32/32"},
		Host:           "rag.example.com",
		ArchiveServer:  "nas.internal.example.com",
		IngestSchedule: "30 1 * * *",
		DocumentsSize:  "200Gi",
		ModelsSize:     "100Gi",
		IndexSize:      "50Gi",
		IndexReplicas:  3,
		EmbedShards:    4,
		GPU:            "NVIDIA-L4",
		API:            stagecraft.Autoscaling{MinReplicas: 2, MaxReplicas: 10, CPUUtilization: 70, ScaleDownStabilization: 10 * time.Minute},
		RerankerMax:    4,
		APIResources:   stagecraft.Resources{CPURequest: "500m", CPULimit: "2", MemoryRequest: "1Gi", MemoryLimit: "1Gi"},
	},
}

// define declares the RAG pipeline in chart, with an environment's settings.
func define(chart cdk8s.Chart, env settings) {
	p := stagecraft.NewPipeline(chart, "rag", stagecraft.PipelineProps{
		Namespace: env.Namespace,
		Labels:    map[string]string{"team": "search"},
		Network:   stagecraft.Network{APIServerCIDRs: env.APIServer},
		Defaults: stagecraft.Defaults{
			Resources: stagecraft.Resources{CPURequest: "250m", MemoryRequest: "512Mi", MemoryLimit: "512Mi"},
		},
	})

	docs := stagecraft.NewPipelineStorage(p, "documents", stagecraft.PipelineStorageProps{
		Size:             env.DocumentsSize,
		StorageClassName: "shared-files",
	})
	// The model cache: one batch stage fills it, the GPU stages read it.
	models := stagecraft.NewPipelineStorage(p, "models", stagecraft.PipelineStorageProps{
		Size:             env.ModelsSize,
		StorageClassName: "shared-files",
	})
	// The document archive already exists on a NAS: a static volume,
	// never deleted with the pipeline, read by the ingestion only.
	archive := stagecraft.NewPipelineStorage(p, "archive", stagecraft.PipelineStorageProps{
		Size:        "1Ti",
		AccessModes: []string{"ReadOnlyMany"},
		Existing: &stagecraft.ExistingVolume{
			NFS:          &stagecraft.NFSVolume{Server: env.ArchiveServer, Path: "/exports/documents"},
			MountOptions: []string{"nfsvers=4.1", "ro"},
		},
	})
	gpu := &stagecraft.Accelerators{Count: 1, Product: env.GPU}

	// Stages that call services outside the cluster (object storage, the
	// model hub, the LLM provider) may reach them on HTTPS only.
	https := []stagecraft.EgressRule{{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}, Ports: []int32{443}}}

	stagecraft.NewScheduledStage(p, "ingest", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{
			Image: "ghcr.io/acme/rag-ingest:2.3.1",
			Args:  []string{"--source", "s3://acme-docs/", "--dest", "/data/raw"},
			Env: []stagecraft.EnvVar{
				stagecraft.EnvFromSecret("AWS_ACCESS_KEY_ID", "docs-bucket", "access-key-id"),
				stagecraft.EnvFromSecret("AWS_SECRET_ACCESS_KEY", "docs-bucket", "secret-access-key"),
			},
			Mounts: []stagecraft.Mount{
				{Storage: docs, Path: "/data", SubPath: "corpus"},
				{Storage: archive, Path: "/archive", ReadOnly: true},
			},
			Egress: https,
		},
		JobSettings: stagecraft.JobSettings{ActiveDeadline: 2 * time.Hour},
		Schedule:    env.IngestSchedule,
		TimeZone:    "Europe/Berlin",
	})

	stagecraft.NewBatchStage(p, "fetch-models", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{
			Image:  "ghcr.io/acme/model-fetch:1.4.0",
			Args:   []string{"--models", "bge-large-en-v1.5,bge-reranker-large", "--dest", "/models"},
			Env:    []stagecraft.EnvVar{stagecraft.EnvFromSecret("HF_TOKEN", "model-hub", "token")},
			Mounts: []stagecraft.Mount{{Storage: models, Path: "/models"}},
			Egress: https,
		},
		JobSettings: stagecraft.JobSettings{ActiveDeadline: time.Hour},
	})

	// Embedding is sharded four ways on GPUs, queued by Kueue.
	embed := stagecraft.NewBatchStage(p, "embed", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{
			Image:        "ghcr.io/acme/rag-embed:2.3.1",
			Args:         []string{"--input", "/data/raw"},
			Resources:    stagecraft.Resources{CPURequest: "4", CPULimit: "8", MemoryRequest: "16Gi", MemoryLimit: "16Gi"},
			Accelerators: gpu,
			Metrics:      &stagecraft.Metrics{ContainerPort: 9100},
			Mounts: []stagecraft.Mount{
				{Storage: docs, Path: "/data", SubPath: "corpus", ReadOnly: true},
				{Storage: models, Path: "/models", ReadOnly: true},
			},
		},
		JobSettings: stagecraft.JobSettings{
			Indexed:              true,
			Parallelism:          ptr.To(env.EmbedShards),
			Completions:          ptr.To(env.EmbedShards),
			BackoffLimitPerIndex: ptr.To[int32](2),
			FailFastExitCodes:    []int32{3},
			ActiveDeadline:       6 * time.Hour,
			Queue:                "gpu-batch",
		},
	})

	index := stagecraft.NewProcessorStage(p, "vector-index", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{
			Image:     "docker.io/qdrant/qdrant:v1.12.4",
			Resources: stagecraft.Resources{CPURequest: "1", CPULimit: "2", MemoryRequest: "4Gi", MemoryLimit: "4Gi"},
		},
		Replicas:  ptr.To(env.IndexReplicas),
		Ports:     []stagecraft.Port{{Name: "http", ContainerPort: 6333}, {Name: "grpc", ContainerPort: 6334}},
		Readiness: &stagecraft.Probe{HTTPPath: "/readyz"},
		Stateful: &stagecraft.Stateful{
			Volumes:       []stagecraft.VolumeClaim{{Name: "index", Path: "/qdrant/storage", Size: env.IndexSize}},
			ParallelStart: true,
		},
	})

	reranker := stagecraft.NewProcessorStage(p, "reranker", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{
			Image:        "ghcr.io/acme/rag-reranker:2.3.1",
			Resources:    stagecraft.Resources{CPURequest: "2", CPULimit: "4", MemoryRequest: "8Gi", MemoryLimit: "8Gi"},
			Accelerators: gpu,
			Mounts:       []stagecraft.Mount{{Storage: models, Path: "/models", ReadOnly: true}},
			Metrics:      &stagecraft.Metrics{Port: "http"},
		},
		Ports:     []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
		Readiness: &stagecraft.Probe{HTTPPath: "/ready"},
		Startup:   &stagecraft.Probe{HTTPPath: "/ready", Period: 10 * time.Second, FailureThreshold: 60},
		// Scale to zero when nobody asks for reranking, releasing the GPU;
		// the API's request rate for reranking, from Prometheus, drives it.
		EventScaling: &stagecraft.EventScaling{
			MaxReplicas: env.RerankerMax,
			Cooldown:    10 * time.Minute,
			Triggers: []stagecraft.Trigger{{
				Type: "prometheus",
				Metadata: map[string]string{
					"serverAddress": "http://prometheus-operated.monitoring.svc:9090",
					"query":         `sum(rate(rag_rerank_requests_total{namespace="` + env.Namespace + `"}[2m]))`,
					"threshold":     "5",
					"authModes":     "bearer",
				},
				Secrets: []stagecraft.TriggerSecret{{Parameter: "bearerToken", Secret: "prometheus-reader", Key: "token"}},
			}},
		},
	})

	api := stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{
			Image:     "ghcr.io/acme/rag-api:2.3.1",
			Resources: env.APIResources,
			Env: []stagecraft.EnvVar{
				stagecraft.EnvFromSecret("LLM_API_KEY", "llm-credentials", "api-key"),
				stagecraft.EnvFromConfigMap("PROMPT_TEMPLATE", "rag-prompts", "answer"),
			},
			Egress:  https,
			Metrics: &stagecraft.Metrics{Port: "http"},
		},
		Ports:       []stagecraft.Port{{Name: "http", ContainerPort: 8000, ServicePort: 80}},
		Readiness:   &stagecraft.Probe{HTTPPath: "/ready", Period: 5 * time.Second},
		Liveness:    &stagecraft.Probe{HTTPPath: "/live", Period: 20 * time.Second, FailureThreshold: 3},
		Startup:     &stagecraft.Probe{HTTPPath: "/live", Period: 5 * time.Second, FailureThreshold: 60},
		Autoscaling: &env.API,
		Ingress: &stagecraft.Ingress{
			Host:          env.Host,
			ClassName:     "nginx",
			TLSSecretName: strings.ReplaceAll(env.Host, ".", "-") + "-tls",
		},
	})

	// The wiring: who calls whom. Storage adds the rest of the order:
	// ingest and fetch-models write what embed and reranker read.
	embed.Calls(index)
	api.Calls(index)
	api.Calls(reranker)
}

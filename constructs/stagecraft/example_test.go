package stagecraft_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// newChart returns a fresh app and a chart in it.
func newChart() (cdk8s.App, cdk8s.Chart) {
	app := cdk8s.NewApp(nil)
	return app, cdk8s.NewChart(app, jsii.String("example"), nil)
}

// summarize prints one line per synthesized object, and the fields named by
// paths ("spec.replicas") where the object has them.
func summarize(app cdk8s.App, paths ...string) {
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range s.Manifests {
		for _, o := range m.Objects {
			name := o.Name
			if o.Namespace != "" {
				name = o.Namespace + "/" + name
			}
			fmt.Printf("%s %s\n", o.Kind, name)
			var obj map[string]any
			if err := yaml.Unmarshal(o.YAML, &obj); err != nil {
				fmt.Println(err)
				return
			}
			for _, p := range paths {
				if v, ok := lookup(obj, p); ok {
					fmt.Printf("  %s: %v\n", p, v)
				}
			}
		}
	}
}

func lookup(obj map[string]any, path string) (any, bool) {
	var cur any = obj
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func ExampleNewPipeline() {
	app, chart := newChart()
	stagecraft.NewPipeline(chart, "ingest", stagecraft.PipelineProps{
		Labels:   map[string]string{"team": "search"},
		Defaults: stagecraft.Defaults{Resources: stagecraft.Resources{MemoryLimit: "1Gi", MemoryRequest: "1Gi"}},
	})
	summarize(app, "metadata.labels.team")
	// Output:
	// Namespace ingest
	//   metadata.labels.team: search
	// NetworkPolicy ingest/default-deny
	//   metadata.labels.team: search
	// NetworkPolicy ingest/allow-dns
	//   metadata.labels.team: search
}

func ExampleNewPipelineStorage() {
	app, chart := newChart()
	p := stagecraft.NewPipeline(chart, "ml", stagecraft.PipelineProps{})
	stagecraft.NewPipelineStorage(p, "datasets", stagecraft.PipelineStorageProps{
		Size: "1Ti",
		Existing: &stagecraft.ExistingVolume{
			NFS: &stagecraft.NFSVolume{Server: "nfs.internal", Path: "/exports/datasets"},
		},
	})
	summarize(app, "spec.persistentVolumeReclaimPolicy", "spec.volumeName")
	// Output:
	// Namespace ml
	// NetworkPolicy ml/default-deny
	// NetworkPolicy ml/allow-dns
	// PersistentVolume ml-datasets
	//   spec.persistentVolumeReclaimPolicy: Retain
	// PersistentVolumeClaim ml/datasets
	//   spec.volumeName: ml-datasets
}

func ExampleNewProcessorStage() {
	app, chart := newChart()
	p := stagecraft.NewPipeline(chart, "serving", stagecraft.PipelineProps{})
	api := stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
		Workload:  stagecraft.Workload{Image: "ghcr.io/acme/api:1.2.0"},
		Replicas:  ptr.To[int32](2),
		Ports:     []stagecraft.Port{{Name: "http", ContainerPort: 8080, ServicePort: 80}},
		Readiness: &stagecraft.Probe{HTTPPath: "/ready"},
		Ingress:   &stagecraft.Ingress{Host: "api.example.com", TLSSecretName: "api-tls"},
	})
	fmt.Println("endpoint:", api.Endpoint())
	summarize(app, "spec.replicas")
	// Output:
	// endpoint: api.serving.svc:80
	// Namespace serving
	// NetworkPolicy serving/default-deny
	// NetworkPolicy serving/allow-dns
	// NetworkPolicy serving/api
	// Service serving/api
	// Deployment serving/api
	//   spec.replicas: 2
	// Ingress serving/api
	// PodDisruptionBudget serving/api
}

func ExampleNewProcessorStage_stateful() {
	app, chart := newChart()
	p := stagecraft.NewPipeline(chart, "search", stagecraft.PipelineProps{})
	stagecraft.NewProcessorStage(p, "index", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: "docker.io/qdrant/qdrant:v1.12.4"},
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 6333}},
		Stateful: &stagecraft.Stateful{Volumes: []stagecraft.VolumeClaim{{Name: "data", Path: "/qdrant/storage", Size: "50Gi"}}},
	})
	summarize(app, "spec.clusterIP", "spec.serviceName")
	// Output:
	// Namespace search
	// NetworkPolicy search/default-deny
	// NetworkPolicy search/allow-dns
	// Service search/index
	//   spec.clusterIP: None
	// StatefulSet search/index
	//   spec.serviceName: index
}

func ExampleNewBatchStage() {
	app, chart := newChart()
	p := stagecraft.NewPipeline(chart, "training", stagecraft.PipelineProps{})
	stagecraft.NewBatchStage(p, "prepare", stagecraft.BatchStageProps{
		Workload:    stagecraft.Workload{Image: "ghcr.io/acme/prepare:3.1.0", Args: []string{"--shards", "8"}},
		JobSettings: stagecraft.JobSettings{ActiveDeadline: time.Hour},
	})
	summarize(app, "spec.backoffLimit", "spec.activeDeadlineSeconds")
	// Output:
	// Namespace training
	// NetworkPolicy training/default-deny
	// NetworkPolicy training/allow-dns
	// Job training/prepare-5ae15e17
	//   spec.backoffLimit: 4
	//   spec.activeDeadlineSeconds: 3600
}

func ExampleNewScheduledStage() {
	app, chart := newChart()
	p := stagecraft.NewPipeline(chart, "reports", stagecraft.PipelineProps{})
	stagecraft.NewScheduledStage(p, "nightly", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{Image: "ghcr.io/acme/report:1.0.0"},
		Schedule: "0 3 * * *",
		TimeZone: "Europe/Berlin",
	})
	summarize(app, "spec.schedule", "spec.timeZone", "spec.concurrencyPolicy")
	// Output:
	// Namespace reports
	// NetworkPolicy reports/default-deny
	// NetworkPolicy reports/allow-dns
	// CronJob reports/nightly
	//   spec.schedule: 0 3 * * *
	//   spec.timeZone: Europe/Berlin
	//   spec.concurrencyPolicy: Forbid
}

func ExampleValidationError() {
	app, chart := newChart()
	p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{})
	stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{
			Image:     "ghcr.io/acme/api:latest",
			Resources: stagecraft.Resources{CPURequest: "2", CPULimit: "1"},
		},
		Ports:   []stagecraft.Port{{Name: "http", ContainerPort: 70000}},
		Ingress: &stagecraft.Ingress{Port: "grpc"},
	})
	_, err := stagecraft.Synthesize(app)
	var verr *stagecraft.ValidationError
	if errors.As(err, &verr) {
		fmt.Println(verr)
	}
	// Output:
	// 4 invalid inputs
	//   - example/demo/api: Image: Invalid value: "ghcr.io/acme/api:latest": the tag "latest" changes under a running pipeline; pin a version, or set AllowLatestTag
	//   - example/demo/api: Resources.CPURequest: Invalid value: "2": request must not be above the limit 1 (CPULimit)
	//   - example/demo/api: Ports[0].ContainerPort: Invalid value: 70000: must be between 1 and 65535, inclusive
	//   - example/demo/api: Ingress.Port: Unsupported value: "grpc": the stage has no port of that name; allowed: "http"
}

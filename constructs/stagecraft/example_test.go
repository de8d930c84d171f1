package stagecraft_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
	"k8s.io/utils/ptr"
)

// A pipeline is a namespace that denies all traffic but DNS. Its labels go
// on every object.
func ExampleNewPipeline() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	stagecraft.NewPipeline(chart, "ingest", stagecraft.PipelineProps{
		Labels:   map[string]string{"team": "search"},
		Defaults: stagecraft.Defaults{Resources: stagecraft.Resources{MemoryLimit: "1Gi", MemoryRequest: "1Gi"}},
	})
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range s.Manifests[0].Objects {
		labeled := strings.Contains(string(o.YAML), "team: search")
		fmt.Printf("%s %s (namespace %q, labeled: %v)\n", o.Kind, o.Name, o.Namespace, labeled)
	}
	// Output:
	// Namespace ingest (namespace "", labeled: true)
	// NetworkPolicy default-deny (namespace "ingest", labeled: true)
	// NetworkPolicy allow-dns (namespace "ingest", labeled: true)
}

// Existing storage is a PersistentVolume that outlives the pipeline
// (reclaim policy Retain), and a claim bound to it by name.
func ExampleNewPipelineStorage() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	p := stagecraft.NewPipeline(chart, "ml", stagecraft.PipelineProps{})
	datasets := stagecraft.NewPipelineStorage(p, "datasets", stagecraft.PipelineStorageProps{
		Size: "1Ti",
		Existing: &stagecraft.ExistingVolume{
			NFS: &stagecraft.NFSVolume{Server: "nfs.internal", Path: "/exports/datasets"},
		},
	})
	fmt.Println("claim:", datasets.ClaimName())
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range s.Manifests[0].Objects {
		for _, line := range strings.Split(string(o.YAML), "\n") {
			if strings.Contains(line, "ReclaimPolicy") || strings.Contains(line, "volumeName") {
				fmt.Println(o.Kind, o.Name, strings.TrimSpace(line))
			}
		}
	}
	// Output:
	// claim: datasets
	// PersistentVolume ml-datasets persistentVolumeReclaimPolicy: Retain
	// PersistentVolumeClaim datasets volumeName: ml-datasets
}

// A processor with two replicas gets a Service, an Ingress, a
// PodDisruptionBudget and a NetworkPolicy that lets the ingress controller
// in. Endpoint is its address for other stages.
func ExampleNewProcessorStage() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	p := stagecraft.NewPipeline(chart, "serving", stagecraft.PipelineProps{})
	api := stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
		Workload:  stagecraft.Workload{Image: "ghcr.io/acme/api:1.2.0"},
		Replicas:  ptr.To[int32](2),
		Ports:     []stagecraft.Port{{Name: "http", ContainerPort: 8080, ServicePort: 80}},
		Readiness: &stagecraft.Probe{HTTPPath: "/ready"},
		Ingress:   &stagecraft.Ingress{Host: "api.example.com", TLSSecretName: "api-tls"},
	})
	fmt.Println("endpoint:", api.Endpoint())
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range s.Manifests[0].Objects {
		if o.Construct == api.Path() {
			fmt.Println(o.Kind, o.Name)
		}
	}
	// Output:
	// endpoint: api.serving.svc:80
	// NetworkPolicy api
	// Service api
	// Deployment api
	// Ingress api
	// PodDisruptionBudget api
}

// A stateful processor is a StatefulSet with a headless Service and a
// claim template per volume.
func ExampleNewProcessorStage_stateful() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	p := stagecraft.NewPipeline(chart, "search", stagecraft.PipelineProps{})
	stagecraft.NewProcessorStage(p, "index", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: "docker.io/qdrant/qdrant:v1.12.4"},
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 6333}},
		Stateful: &stagecraft.Stateful{Volumes: []stagecraft.VolumeClaim{{Name: "data", Path: "/qdrant/storage", Size: "50Gi"}}},
	})
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range s.Manifests[0].Objects {
		y := string(o.YAML)
		switch o.Kind {
		case "Service":
			fmt.Println("Service", o.Name, "headless:", strings.Contains(y, "clusterIP: None"))
		case "StatefulSet":
			fmt.Println("StatefulSet", o.Name, "claims kept:", strings.Contains(y, "whenDeleted: Retain"))
		}
	}
	// Output:
	// Service index headless: true
	// StatefulSet index claims kept: true
}

// A batch stage is a Job named after the stage and a digest of its run, so
// that a changed stage is a new Job that runs again.
func ExampleNewBatchStage() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	p := stagecraft.NewPipeline(chart, "training", stagecraft.PipelineProps{})
	prepare := stagecraft.NewBatchStage(p, "prepare", stagecraft.BatchStageProps{
		Workload:    stagecraft.Workload{Image: "ghcr.io/acme/prepare:3.1.0", Args: []string{"--shards", "8"}},
		JobSettings: stagecraft.JobSettings{ActiveDeadline: time.Hour},
	})
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	job := s.Manifests[0].Objects[len(s.Manifests[0].Objects)-1]
	fmt.Println(job.Kind, job.Name, "of stage", prepare.Name())
	for _, line := range strings.Split(string(job.YAML), "\n") {
		if strings.HasPrefix(line, "  backoffLimit:") || strings.HasPrefix(line, "  activeDeadlineSeconds:") {
			fmt.Println(strings.TrimSpace(line))
		}
	}
	// Output:
	// Job prepare-3a1d8c7b of stage prepare
	// activeDeadlineSeconds: 3600
	// backoffLimit: 4
}

// A scheduled stage is a CronJob, in UTC unless TimeZone says otherwise,
// that never overlaps itself (concurrencyPolicy: Forbid).
func ExampleNewScheduledStage() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	p := stagecraft.NewPipeline(chart, "reports", stagecraft.PipelineProps{})
	stagecraft.NewScheduledStage(p, "nightly", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{Image: "ghcr.io/acme/report:1.0.0"},
		Schedule: "0 3 * * *",
		TimeZone: "Europe/Berlin",
	})
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range s.Manifests[0].Objects {
		if o.Kind != "CronJob" {
			continue
		}
		fmt.Println(o.Kind, o.Name)
		for _, key := range []string{"schedule:", "timeZone:", "concurrencyPolicy:", "startingDeadlineSeconds:"} {
			for _, line := range strings.Split(string(o.YAML), "\n") {
				if strings.HasPrefix(line, "  "+key) {
					fmt.Println(strings.TrimSpace(line))
				}
			}
		}
	}
	// Output:
	// CronJob nightly
	// schedule: 0 3 * * *
	// timeZone: Europe/Berlin
	// concurrencyPolicy: Forbid
	// startingDeadlineSeconds: 3600
}

// A BatchStage that runs after another BatchStage waits for its Job
// without holding a node: its pods carry the scheduling gate
// stagecraft.dev/upstream, and a gate Job of its own (with a
// ServiceAccount, Role and RoleBinding) removes it once the upstream Job
// has completed, or fails the stage's Job when the upstream one fails.
func ExampleBatchStage_RunsAfter() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	p := stagecraft.NewPipeline(chart, "train", stagecraft.PipelineProps{
		// The API server's endpoint addresses, which the waits reach.
		Network: stagecraft.Network{APIServerCIDRs: []string{"192.0.2.10/32"}},
	})
	prepare := stagecraft.NewBatchStage(p, "prepare", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{Image: "ghcr.io/acme/prepare:3.1.0"},
	})
	fit := stagecraft.NewBatchStage(p, "fit", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{Image: "ghcr.io/acme/fit:2.0.0"},
	})
	fit.RunsAfter(prepare)
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range s.Manifests[0].Objects {
		if o.Construct == p.Path() {
			continue // the namespace and its policies
		}
		fmt.Println(o.Kind, o.Name)
		if strings.Contains(string(o.YAML), "schedulingGates:") {
			fmt.Println("  held by the scheduling gate stagecraft.dev/upstream")
		}
	}
	// Output:
	// NetworkPolicy fit-gate
	// Job prepare-1e7c31e6
	// Job fit-c6241b58
	//   held by the scheduling gate stagecraft.dev/upstream
	// ServiceAccount fit-gate
	// Role fit-gate
	// RoleBinding fit-gate
	// Job fit-gate-99929711
}

// A ScheduledStage (or a ProcessorStage) that runs after a BatchStage
// waits in an init container, wait-upstream, which reads the upstream Job
// with an API token. The stage gets a ServiceAccount of its own, a Role
// that may only get that Job, and egress to the API server.
func ExampleScheduledStage_RunsAfter() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	p := stagecraft.NewPipeline(chart, "crawl", stagecraft.PipelineProps{
		// The API server's endpoint addresses, which the waits reach.
		Network: stagecraft.Network{APIServerCIDRs: []string{"192.0.2.10/32"}},
	})
	refresh := stagecraft.NewScheduledStage(p, "refresh", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{Image: "ghcr.io/acme/refresh:1.0.0"},
		Schedule: "@hourly",
	})
	// The first crawl, in 16 shards; refreshes start once it has completed.
	refresh.RunsAfter(stagecraft.NewBatchStage(p, "seed", stagecraft.BatchStageProps{
		Workload:    stagecraft.Workload{Image: "ghcr.io/acme/seed:1.0.0"},
		JobSettings: stagecraft.JobSettings{Indexed: true, Completions: ptr.To[int32](16), Parallelism: ptr.To[int32](4)},
	}))
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range s.Manifests[0].Objects {
		if o.Construct != refresh.Path() {
			continue
		}
		fmt.Println(o.Kind, o.Name)
		if strings.Contains(string(o.YAML), "initContainers:") {
			fmt.Println("  init container wait-upstream:", strings.Contains(string(o.YAML), "name: wait-upstream"))
		}
	}
	// Output:
	// NetworkPolicy refresh
	// ServiceAccount refresh
	// Role refresh-wait
	// RoleBinding refresh-wait
	// CronJob refresh
	//   init container wait-upstream: true
}

// A stage that only reads storage waits for the BatchStages that write it.
// WaitForWriters turns that off for a ScheduledStage that copes with data
// that is not there yet, and on for a ProcessorStage, which by default
// starts at once.
func ExampleMount_waitForWriters() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	p := stagecraft.NewPipeline(chart, "rag", stagecraft.PipelineProps{
		// The API server's endpoint addresses, which the waits reach.
		Network: stagecraft.Network{APIServerCIDRs: []string{"192.0.2.10/32"}},
	})
	corpus := stagecraft.NewPipelineStorage(p, "corpus", stagecraft.PipelineStorageProps{Size: "100Gi"})
	stagecraft.NewBatchStage(p, "embed", stagecraft.BatchStageProps{Workload: stagecraft.Workload{
		Image:  "ghcr.io/acme/embed:1.0.0",
		Mounts: []stagecraft.Mount{{Storage: corpus, Path: "/corpus"}},
	}})
	stagecraft.NewProcessorStage(p, "search", stagecraft.ProcessorStageProps{Workload: stagecraft.Workload{
		Image:  "ghcr.io/acme/search:1.0.0",
		Mounts: []stagecraft.Mount{{Storage: corpus, Path: "/corpus", ReadOnly: true, WaitForWriters: ptr.To(true)}},
	}})
	stagecraft.NewScheduledStage(p, "report", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{
			Image:  "ghcr.io/acme/report:1.0.0",
			Mounts: []stagecraft.Mount{{Storage: corpus, Path: "/corpus", ReadOnly: true, WaitForWriters: ptr.To(false)}},
		},
		Schedule: "@daily",
	})
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range s.Manifests[0].Objects {
		if o.Kind == "Deployment" || o.Kind == "CronJob" {
			fmt.Println(o.Kind, o.Name, "waits:", strings.Contains(string(o.YAML), "wait-upstream"))
		}
	}
	// Output:
	// Deployment search waits: true
	// CronJob report waits: false
}

// Queue hands a Job to Kueue: the Job carries the LocalQueue's label, and
// Kueue's webhook suspends it until the queue admits it. stagecraft leaves
// spec.suspend to Kueue.
func ExampleJobSettings_queue() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	p := stagecraft.NewPipeline(chart, "finetune", stagecraft.PipelineProps{})
	stagecraft.NewBatchStage(p, "lora", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{
			Image:        "ghcr.io/acme/lora:0.4.0",
			Accelerators: &stagecraft.Accelerators{Count: 1},
		},
		JobSettings: stagecraft.JobSettings{Queue: "gpu-a100"},
	})
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range s.Manifests[0].Objects {
		if o.Kind == "Job" {
			y := string(o.YAML)
			fmt.Println(o.Name, "queue label:", strings.Contains(y, "kueue.x-k8s.io/queue-name: gpu-a100"))
			fmt.Println(o.Name, "spec.suspend:", strings.Contains(y, "suspend:"))
		}
	}
	// Output:
	// lora-aed05dd8 queue label: true
	// lora-aed05dd8 spec.suspend: false
}

// The upgrade check of package synth refuses a change that the API server
// would refuse on update, such as a larger volume of a stateful stage
// (volumeClaimTemplates are immutable). Once the team has done what the
// check says on the cluster, AcceptChange lets the next write through.
func ExamplePipeline_AcceptChange() {
	dist, err := os.MkdirTemp("", "dist")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dist)
	write := func(size string, accept bool) error {
		app := cdk8s.NewApp(nil)
		chart := cdk8s.NewChart(app, jsii.String("search"), nil)
		p := stagecraft.NewPipeline(chart, "search", stagecraft.PipelineProps{})
		if accept {
			p.AcceptChange(stagecraft.Change{Kind: "StatefulSet", Name: "index", Field: "spec.volumeClaimTemplates"})
		}
		stagecraft.NewProcessorStage(p, "index", stagecraft.ProcessorStageProps{
			Workload: stagecraft.Workload{Image: "docker.io/qdrant/qdrant:v1.12.4"},
			Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 6333}},
			Stateful: &stagecraft.Stateful{Volumes: []stagecraft.VolumeClaim{{Name: "data", Path: "/qdrant/storage", Size: size}}},
		})
		return synth.Write(app, "search", synth.Options{Dir: dist, Notify: func(m string) { fmt.Println("notice:", m) }})
	}
	fmt.Println("v1:", write("50Gi", false))
	var verr *stagecraft.ValidationError
	if err := write("100Gi", false); errors.As(err, &verr) {
		for _, pr := range verr.Problems {
			fmt.Println("v2 refused:", pr.Object, pr.Field)
		}
	}
	fmt.Println("v2 accepted:", write("100Gi", true))
	// Output:
	// v1: <nil>
	// v2 refused: StatefulSet search/index spec.volumeClaimTemplates[data].spec.resources.requests.storage
	// notice: StatefulSet search/index spec.volumeClaimTemplates[data].spec.resources.requests.storage: accepted by search/search; before you apply it: grow each replica's claim (kubectl patch pvc data-index-<replica> -n search --type merge -p '{"spec":{"resources":{"requests":{"storage":"100Gi"}}}}'; its StorageClass must allow volume expansion), then delete the StatefulSet but not its pods and claims (kubectl delete statefulset index -n search --cascade=orphan), then apply: the new StatefulSet adopts the running pods
	// v2 accepted: <nil>
}

func ExampleValidationError() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
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

package stagecraft_test

import (
	"testing"
	"time"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"k8s.io/utils/ptr"
)

func TestMain(m *testing.M) { stagetest.Main(m) }

const image = "ghcr.io/acme/worker:1.0.0"

// everyWorkloadOption sets every field of Workload.
func everyWorkloadOption(storage *stagecraft.PipelineStorage) stagecraft.Workload {
	return stagecraft.Workload{
		Image:   "ghcr.io/acme/worker@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Command: []string{"/bin/worker"},
		Args:    []string{"--verbose"},
		Env: []stagecraft.EnvVar{
			stagecraft.Env("MODE", "full"),
			stagecraft.EnvFromConfigMap("SETTINGS", "worker-settings", "settings.json"),
			stagecraft.EnvFromSecret("TOKEN", "worker-token", "token"),
			{Name: "OPTIONAL", Secret: &stagecraft.KeyRef{Name: "maybe", Key: "value", Optional: true}},
		},
		Resources: stagecraft.Resources{
			CPURequest: "500m", CPULimit: "2",
			MemoryRequest: "1Gi", MemoryLimit: "2Gi",
			EphemeralStorageRequest: "1Gi", EphemeralStorageLimit: "4Gi",
		},
		Mounts: []stagecraft.Mount{
			{Storage: storage, Path: "/data/in", SubPath: "incoming", ReadOnly: true},
			{Storage: storage, Path: "/data/out", SubPath: "outgoing"},
		},
		Labels:              map[string]string{"team": "ml"},
		Annotations:         map[string]string{"example.com/owner": "ml-platform"},
		ImagePullPolicy:     "Always",
		NodeSelector:        map[string]string{"node.kubernetes.io/instance-type": "m6i.2xlarge"},
		ServiceAccountName:  "worker",
		ServiceAccountToken: true,
		Security: stagecraft.Security{
			RunAsUser: 1000, RunAsGroup: 2000, FSGroup: 3000,
			ScratchPaths: []string{"/tmp", "/var/cache/worker"},
			ScratchSize:  "2Gi",
		},
	}
}

func TestGoldenPipeline(t *testing.T) {
	t.Parallel()
	cases := map[string]func(chart cdk8s.Chart){
		"pipeline-defaults": func(chart cdk8s.Chart) {
			stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
		},
		// Every option: namespace, labels, and defaults that a stage inherits.
		"pipeline-options": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{
				Namespace: "team-demo",
				Labels:    map[string]string{"team": "demo", "cost-center": "ml-42"},
				Defaults: stagecraft.Defaults{
					Resources:          stagecraft.Resources{CPURequest: "250m", MemoryRequest: "512Mi", MemoryLimit: "1Gi"},
					ImagePullPolicy:    "Always",
					NodeSelector:       map[string]string{"pool": "pipelines"},
					ServiceAccountName: "pipeline",
				},
			})
			stagecraft.NewBatchStage(p, "inherits", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
		},
	}
	runGolden(t, cases)
}

func TestGoldenPipelineStorage(t *testing.T) {
	t.Parallel()
	cases := map[string]func(chart cdk8s.Chart){
		"storage-defaults": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{Size: "10Gi"})
		},
		"storage-options": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{
				Size:             "500Gi",
				AccessModes:      []string{"ReadWriteOnce"},
				StorageClassName: "fast-ssd",
				VolumeMode:       "Block",
				Labels:           map[string]string{"backup": "daily"},
			})
		},
		"storage-existing-nfs": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewPipelineStorage(p, "datasets", stagecraft.PipelineStorageProps{
				Size: "2Ti",
				Existing: &stagecraft.ExistingVolume{
					NFS:          &stagecraft.NFSVolume{Server: "nfs.internal.example.com", Path: "/exports/datasets"},
					MountOptions: []string{"nfsvers=4.1", "hard"},
				},
			})
		},
		"storage-existing-csi": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewPipelineStorage(p, "models", stagecraft.PipelineStorageProps{
				Size:             "100Gi",
				AccessModes:      []string{"ReadOnlyMany"},
				StorageClassName: "efs",
				Existing: &stagecraft.ExistingVolume{CSI: &stagecraft.CSIVolume{
					Driver: "efs.csi.aws.com", VolumeHandle: "fs-0123456789abcdef0", FSType: "nfs4",
					VolumeAttributes: map[string]string{"encryptInTransit": "true"},
				}},
			})
		},
	}
	runGolden(t, cases)
}

func TestGoldenProcessorStage(t *testing.T) {
	t.Parallel()
	cases := map[string]func(chart cdk8s.Chart){
		"processor-defaults": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
				Workload: stagecraft.Workload{Image: image},
				Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
			})
		},
		"processor-no-ports": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewProcessorStage(p, "consumer", stagecraft.ProcessorStageProps{
				Workload: stagecraft.Workload{Image: image},
			})
		},
		"processor-options": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			data := stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{Size: "10Gi"})
			stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
				Workload: everyWorkloadOption(data),
				Replicas: ptr.To[int32](3),
				Ports: []stagecraft.Port{
					{Name: "http", ContainerPort: 8080, ServicePort: 80},
					{Name: "grpc", ContainerPort: 9090},
					{Name: "stats", ContainerPort: 8125, Protocol: "UDP"},
				},
				Readiness: &stagecraft.Probe{HTTPPath: "/ready", Port: "http", Period: 5 * time.Second, Timeout: 2 * time.Second},
				Liveness:  &stagecraft.Probe{Command: []string{"/bin/health"}, InitialDelay: 10 * time.Second, FailureThreshold: 5},
				Startup:   &stagecraft.Probe{Port: "grpc", Period: 10 * time.Second, FailureThreshold: 30},
				Ingress: &stagecraft.Ingress{
					Host: "api.example.com", Path: "/v1", PathType: "Exact", Port: "http",
					TLSSecretName: "api-example-com-tls", ClassName: "nginx",
					Annotations: map[string]string{"nginx.ingress.kubernetes.io/proxy-body-size": "64m"},
				},
			})
		},
		// ReadWriteOnce storage switches the Deployment to Recreate.
		"processor-rwo-storage": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			data := stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{Size: "10Gi", AccessModes: []string{"ReadWriteOnce"}})
			stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
				Workload: stagecraft.Workload{Image: image, Mounts: []stagecraft.Mount{{Storage: data, Path: "/data"}}},
			})
		},
		"processor-stateful": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewProcessorStage(p, "index", stagecraft.ProcessorStageProps{
				Workload: stagecraft.Workload{Image: image},
				Replicas: ptr.To[int32](3),
				Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 6333}, {Name: "grpc", ContainerPort: 6334}},
				Stateful: &stagecraft.Stateful{
					Volumes: []stagecraft.VolumeClaim{
						{Name: "data", Path: "/var/lib/index", Size: "50Gi", StorageClassName: "fast-ssd"},
						{Name: "wal", Path: "/var/lib/wal", Size: "5Gi", AccessModes: []string{"ReadWriteOncePod"}},
					},
					ParallelStart: true,
				},
			})
		},
	}
	runGolden(t, cases)
}

func TestGoldenBatchStage(t *testing.T) {
	t.Parallel()
	cases := map[string]func(chart cdk8s.Chart){
		"batch-defaults": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewBatchStage(p, "prepare", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
		},
		"batch-options": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			data := stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{Size: "10Gi"})
			stagecraft.NewBatchStage(p, "prepare", stagecraft.BatchStageProps{
				Workload: everyWorkloadOption(data),
				JobSettings: stagecraft.JobSettings{
					BackoffLimit: ptr.To[int32](2), ActiveDeadline: 90 * time.Minute,
					Parallelism: ptr.To[int32](4), Completions: ptr.To[int32](8),
				},
			})
		},
	}
	runGolden(t, cases)
}

func TestGoldenScheduledStage(t *testing.T) {
	t.Parallel()
	cases := map[string]func(chart cdk8s.Chart){
		"scheduled-defaults": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			stagecraft.NewScheduledStage(p, "nightly", stagecraft.ScheduledStageProps{
				Workload: stagecraft.Workload{Image: image},
				Schedule: "@daily",
			})
		},
		"scheduled-options": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
			data := stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{Size: "10Gi"})
			stagecraft.NewScheduledStage(p, "nightly", stagecraft.ScheduledStageProps{
				Workload: everyWorkloadOption(data),
				JobSettings: stagecraft.JobSettings{
					BackoffLimit: ptr.To[int32](0), ActiveDeadline: time.Hour, TTLAfterFinished: 6 * time.Hour,
					Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2),
				},
				Schedule:                   "15 */6 * * 1-5",
				TimeZone:                   "America/New_York",
				ConcurrencyPolicy:          "Replace",
				StartingDeadline:           10 * time.Minute,
				SuccessfulJobsHistoryLimit: ptr.To[int32](1),
				FailedJobsHistoryLimit:     ptr.To[int32](5),
				Suspend:                    true,
			})
		},
	}
	runGolden(t, cases)
}

// runGolden synthesizes each case, compares it with
// testdata/<name>.golden.yaml, and checks Pod Security "restricted".
func runGolden(t *testing.T, cases map[string]func(chart cdk8s.Chart)) {
	t.Helper()
	for name, define := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := stagetest.SynthChart(t, "golden", define)
			m.Golden(t, name)
			m.AssertRestricted(t)
		})
	}
}

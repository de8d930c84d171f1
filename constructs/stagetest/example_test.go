package stagetest_test

import (
	"fmt"
	"testing"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"k8s.io/utils/ptr"
)

// TestMain stops the jsii runtime when the tests are done.
func TestMain(m *testing.M) { stagetest.Main(m) }

// TestSeedPipeline is how a team tests its app: the whole output against a
// reviewed golden file (testdata/seed.golden.yaml, written with -update),
// Pod Security "restricted", and one field that matters.
func TestSeedPipeline(t *testing.T) {
	t.Parallel()
	m := stagetest.Synth(t, defineSeed)
	m.Golden(t, "seed")
	m.AssertRestricted(t)
	dep := m.Find(t, "Deployment", "ai-pipeline", "data-processor")
	if got := m.Get(t, dep, "spec.template.spec.containers[0].image"); got != "ghcr.io/stagecraft-dev/data-processor:1.0.0" {
		t.Errorf("image = %v", got)
	}
}

// defineSeed is the team's app: the seed pipeline of apps/seed.
func defineSeed(chart cdk8s.Chart) {
	p := stagecraft.NewPipeline(chart, "ai-pipeline", stagecraft.PipelineProps{})
	data := stagecraft.NewPipelineStorage(p, "pipeline-data", stagecraft.PipelineStorageProps{Size: "20Gi"})
	stagecraft.NewProcessorStage(p, "data-processor", stagecraft.ProcessorStageProps{
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
	stagecraft.NewBatchStage(p, "batch-job", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{
			Image:  "ghcr.io/stagecraft-dev/batch-worker:1.0.0",
			Args:   []string{"--input", "/data/incoming", "--output", "/data/processed"},
			Mounts: []stagecraft.Mount{{Storage: data, Path: "/data"}},
		},
		JobSettings: stagecraft.JobSettings{BackoffLimit: ptr.To[int32](4)},
	})
	stagecraft.NewScheduledStage(p, "nightly-cleanup", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{
			Image:  "ghcr.io/stagecraft-dev/batch-worker:1.0.0",
			Args:   []string{"--cleanup", "/data/processed", "--older-than", "7d"},
			Mounts: []stagecraft.Mount{{Storage: data, Path: "/data"}},
		},
		Schedule: "0 2 * * *",
	})
	stagecraft.NewProcessorStage(p, "state-store", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: "ghcr.io/stagecraft-dev/state-store:1.0.0"},
		Ports:    []stagecraft.Port{{Name: "tcp", ContainerPort: 6379}},
		Stateful: &stagecraft.Stateful{Volumes: []stagecraft.VolumeClaim{{Name: "state", Path: "/var/lib/state", Size: "5Gi"}}},
	})
}

// Parse reads YAML that was not synthesized in the test, and Lookup reads
// a field of an object without a test to fail.
func ExampleParse() {
	m, err := stagetest.Parse([]byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ai-pipeline
  labels:
    app.kubernetes.io/name: settings
data:
  batch: "64"
`))
	if err != nil {
		panic(err)
	}
	for _, o := range m.Objects("ConfigMap") {
		name, _ := stagetest.Lookup(o.Object, `metadata.labels["app.kubernetes.io/name"]`)
		batch, _ := stagetest.Lookup(o.Object, "data.batch")
		fmt.Println(stagetest.Describe(o), name, batch)
	}
	// Output: ConfigMap ai-pipeline/settings settings 64
}

// Diff names each object that differs between two streams of YAML.
func ExampleDiff() {
	before := "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: team\nspec:\n  type: ClusterIP\n"
	after := "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: team\nspec:\n  type: NodePort\n"
	fmt.Print(stagetest.Diff([]byte(before), []byte(after)))
	// Output:
	// 1 changed, 0 added, 0 removed
	// ~ Service team/api
	//     @@ -4,4 +4,4 @@
	//        name: api
	//        namespace: team
	//      spec:
	//     -  type: ClusterIP
	//     +  type: NodePort
}

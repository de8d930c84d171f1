package main

import (
	"testing"

	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
)

func TestMain(m *testing.M) { stagetest.Main(m) }

// TestApp compares the app's whole output with testdata/seed.golden.yaml
// (the same YAML as dist/seed/seed.k8s.yaml) and checks Pod Security.
func TestApp(t *testing.T) {
	m := stagetest.SynthChart(t, "seed", define)
	m.Golden(t, "seed")
	m.AssertRestricted(t)
}

// TestDiagram compares the pipeline's Mermaid diagram (dist/seed/pipeline.md)
// with testdata/seed-diagram.golden.yaml.
func TestDiagram(t *testing.T) {
	m := stagetest.SynthChart(t, "seed", define)
	stagetest.AssertGolden(t, "seed-diagram", []byte(m.Diagram))
}

// TestSeedObjects checks the objects the seed names.
func TestSeedObjects(t *testing.T) {
	m := stagetest.SynthChart(t, "seed", define)
	for _, kind := range []string{"Namespace", "Deployment", "Service", "Job", "CronJob", "PersistentVolumeClaim", "Ingress", "StatefulSet"} {
		if len(m.Objects(kind)) == 0 {
			t.Errorf("no %s in the seed app", kind)
		}
	}
	job := m.FindStage(t, "Job", "ai-pipeline", "batch-job")
	if got := m.Get(t, job, "spec.backoffLimit"); got != int64(4) {
		t.Errorf("Job backoffLimit = %v, want 4", got)
	}
	svc := m.Find(t, "Service", "ai-pipeline", "data-processor")
	if got := m.Get(t, svc, "spec.ports[0].port"); got != int64(80) {
		t.Errorf("Service port = %v, want 80", got)
	}
	if got := m.Get(t, svc, "spec.ports[0].targetPort"); got != "http" {
		t.Errorf("Service targetPort = %v, want the container's http port", got)
	}
	dep := m.Find(t, "Deployment", "ai-pipeline", "data-processor")
	if got := m.Get(t, dep, "spec.replicas"); got != int64(1) {
		t.Errorf("replicas = %v, want 1", got)
	}
}

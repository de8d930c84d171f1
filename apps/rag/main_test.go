package main

import (
	"bytes"
	"testing"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
)

func TestMain(m *testing.M) { stagetest.Main(m) }

// synthEnv synthesizes one environment of the app.
func synthEnv(t *testing.T, env string) *stagetest.Manifest {
	return stagetest.SynthChart(t, "rag", func(chart cdk8s.Chart) { define(chart, environments[env]) })
}

// TestApp compares each environment's whole output with
// testdata/rag-<env>.golden.yaml (the same YAML as dist/rag/<env>/rag.k8s.yaml)
// and checks Pod Security.
func TestApp(t *testing.T) {
	for env := range environments {
		t.Run(env, func(t *testing.T) {
			m := synthEnv(t, env)
			m.Golden(t, "rag-"+env)
			m.AssertRestricted(t)
		})
	}
}

// TestEnvironmentsDifferOnlyInSettings pins the difference between dev and
// prod: the reviewed diff in testdata/dev-vs-prod.golden.yaml must show
// only what their settings change (host, schedule, sizes, replicas,
// shards, autoscaling, resources). The namespaces, and so the names of the
// Jobs' runs, differ by design; the diff is taken with prod's namespace and
// run names named as dev's, so that objects pair up by name.
func TestEnvironmentsDifferOnlyInSettings(t *testing.T) {
	dev, prod := synthEnv(t, "dev"), synthEnv(t, "prod")
	if dev.YAML == nil || bytes.Contains(dev.YAML, []byte(environments["prod"].Namespace)) {
		t.Fatal("dev's output mentions prod's namespace")
	}
	same := bytes.ReplaceAll(prod.YAML, []byte(environments["prod"].Namespace), []byte(environments["dev"].Namespace))
	for _, job := range prod.Objects("Job") {
		stage := job.GetLabels()["app.kubernetes.io/name"]
		for _, devJob := range dev.Objects("Job") {
			if devJob.GetLabels()["app.kubernetes.io/name"] == stage {
				same = bytes.ReplaceAll(same, []byte(job.GetName()), []byte(devJob.GetName()))
			}
		}
	}
	stagetest.AssertGolden(t, "dev-vs-prod", []byte(stagetest.Diff(dev.YAML, same)))
}

// TestDiagram compares the pipeline's Mermaid diagram
// (dist/rag/prod/pipeline.md) with testdata/rag-diagram.golden.yaml.
func TestDiagram(t *testing.T) {
	stagetest.AssertGolden(t, "rag-diagram", []byte(synthEnv(t, "prod").Diagram))
}

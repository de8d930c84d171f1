package main

import (
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
)

func TestMain(m *testing.M) { stagetest.Main(m) }

// TestApp compares the app's whole output with testdata/rag.golden.yaml
// (the same YAML as dist/rag/rag.k8s.yaml) and checks Pod Security.
func TestApp(t *testing.T) {
	m := stagetest.SynthChart(t, "rag", define)
	m.Golden(t, "rag")
	m.AssertRestricted(t)
}

// TestDiagram compares the pipeline's Mermaid diagram (dist/rag/pipeline.md)
// with testdata/rag-diagram.golden.yaml.
func TestDiagram(t *testing.T) {
	var diagram string
	var err error
	stagetest.Do(func() {
		app := cdk8s.NewApp(nil)
		define(cdk8s.NewChart(app, jsii.String("rag"), nil))
		diagram, err = stagecraft.Diagram(app)
	})
	if err != nil {
		t.Fatal(err)
	}
	stagetest.AssertGolden(t, "rag-diagram", []byte(diagram))
}

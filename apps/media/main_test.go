package main

import (
	"testing"

	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
)

func TestMain(m *testing.M) { stagetest.Main(m) }

// TestApp compares the app's whole output with testdata/media.golden.yaml
// (the same YAML as dist/media/media.k8s.yaml) and checks Pod Security.
func TestApp(t *testing.T) {
	m := stagetest.SynthChart(t, "media", define)
	m.Golden(t, "media")
	m.AssertRestricted(t)
}

// TestDiagram compares the pipeline's Mermaid diagram (dist/media/pipeline.md)
// with testdata/media-diagram.golden.yaml.
func TestDiagram(t *testing.T) {
	m := stagetest.SynthChart(t, "media", define)
	stagetest.AssertGolden(t, "media-diagram", []byte(m.Diagram))
}

package main

import (
	"testing"

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

// Package stagetest is a test kit for apps built with stagecraft: it
// synthesizes an app to YAML in memory (through stagecraft.Synthesize, never
// touching dist/), compares the YAML with reviewed golden files, reads
// fields of the objects, and checks every pod template against Pod Security
// "restricted".
//
// A team's test of its app:
//
//	package myapp
//
//	import (
//		"testing"
//
//		"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
//	)
//
//	func TestMain(m *testing.M) { stagetest.Main(m) }
//
//	func TestPipeline(t *testing.T) {
//		t.Parallel()
//		m := stagetest.Synth(t, define) // define(chart cdk8s.Chart) declares the app
//		m.Golden(t, "pipeline")         // testdata/pipeline.golden.yaml
//		m.AssertRestricted(t)
//		dep := m.Find(t, "Deployment", "ai-pipeline", "data-processor")
//		if got := m.Get(t, dep, "spec.template.spec.containers[0].image"); got != "ghcr.io/acme/processor:1.0.0" {
//			t.Errorf("image = %v", got)
//		}
//	}
//
// Create or refresh the golden files with
//
//	go test ./myapp -run TestPipeline -update
//
// and review them like code. Only the golden files of the tests that run
// are written. Without -update, a difference fails the test with a diff
// that names each object that changed ("~ Deployment ai-pipeline/data-processor"
// and its changed lines), was added ("+ Service ai-pipeline/x" and its
// lines) or was removed ("- Job ai-pipeline/y").
//
// # The jsii runtime
//
// cdk8s runs in a Node.js process that jsii starts on first use. Main, as
// TestMain, stops it when the tests are done and removes the runtime's
// temporary directory; without it every run of the test binary leaves a
// /tmp/jsii-runtime.* directory behind.
//
// That process is not safe for concurrent use: jsii-runtime-go sends each
// request and reads its response over a single pipe without a lock, and
// goroutines that call it at once mix up the responses (in a trial, eight
// goroutines synthesizing apps without the lock hung). The kit therefore
// holds one lock for everything that calls into jsii: Synth and SynthChart
// run the whole define function under it, and SynthApp the synthesis. Tests
// may call t.Parallel freely; their syntheses take turns, and parsing,
// diffing and the Pod Security checks run in parallel. A test that builds
// constructs itself, for SynthApp, must do so inside Do when other tests
// run in parallel. The lock is not reentrant: do not call Do, Synth or
// SynthApp from a define function or from inside Do.
//
// # The -update flag
//
// The kit defines the -update flag of every test binary that imports it. A
// package that imports the kit must not define its own -update flag (the
// flag package panics on a second definition); it can read the kit's with
// Update.
//
// # Values
//
// Objects are *unstructured.Unstructured, in file order. Get and Lookup
// return field values as JSON decodes them, except that whole numbers are
// int64: compare spec.replicas with int64(2).
package stagetest

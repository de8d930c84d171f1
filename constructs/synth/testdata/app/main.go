// Command app is a small stagecraft app for the synth tests. With BROKEN=1
// in its environment it declares invalid props; with VERSION=2 it declares
// a second, valid version (another image tag and a second stage); with
// PANIC=1 its define function panics.
package main

import (
	"os"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

func main() { synth.MainChart("demo", synth.Options{}, define) }

func define(chart cdk8s.Chart) {
	p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{})
	if os.Getenv("PANIC") == "1" {
		var stages []stagecraft.Stage
		_ = stages[len(os.Args)] // a bug in the app's own code
	}
	image, port := "ghcr.io/acme/api:1.0.0", int32(8080)
	if os.Getenv("BROKEN") == "1" {
		image, port = "ghcr.io/acme/api", 0
	}
	if os.Getenv("VERSION") == "2" {
		image = "ghcr.io/acme/api:2.0.0"
		stagecraft.NewBatchStage(p, "prepare", stagecraft.BatchStageProps{
			Workload: stagecraft.Workload{Image: "ghcr.io/acme/prepare:2.0.0"},
		})
	}
	stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image},
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: port}},
	})
}

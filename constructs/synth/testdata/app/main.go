// Command app is a small stagecraft app for the synth tests. With BROKEN=1
// in its environment it declares invalid props.
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
	image, port := "ghcr.io/acme/api:1.0.0", int32(8080)
	if os.Getenv("BROKEN") == "1" {
		image, port = "ghcr.io/acme/api", 0
	}
	stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image},
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: port}},
	})
}

// Command app is a small stagecraft app for the synth tests. With BROKEN=1
// in its environment it declares invalid props.
package main

import (
	"os"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
)

func main() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("demo"), nil)
	p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{})
	image, port := "ghcr.io/acme/api:1.0.0", int32(8080)
	if os.Getenv("BROKEN") == "1" {
		image, port = "ghcr.io/acme/api", 0
	}
	stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image},
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: port}},
	})
	stagecraft.Main(app, "demo")
}

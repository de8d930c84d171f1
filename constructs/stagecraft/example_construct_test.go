package stagecraft_test

import (
	"fmt"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
)

// ETLProps configures an ETL, a team's own construct.
type ETLProps struct {
	// Image runs every step, with the step's name as its first argument.
	Image string
	// Schedule of the extraction. Default: "@daily".
	Schedule string
}

// ETL is a team's own construct on top of stagecraft's: an extraction on a
// schedule, a transformation that runs after it, the storage between them.
// It groups its stages under a construct of its own, so that its path shows
// in error messages, and prefixes their ids with its own: stage ids name
// Kubernetes objects and must be unique in the whole pipeline.
type ETL struct {
	constructs.Construct
	transform *stagecraft.BatchStage
}

// Transform returns the last step, for callers to wire to.
func (e *ETL) Transform() *stagecraft.BatchStage { return e.transform }

// NewETL adds an ETL to scope, a Pipeline or a construct inside one.
func NewETL(scope constructs.Construct, id string, props ETLProps) *ETL {
	// jsii's way to extend a construct in Go: the struct embeds
	// constructs.Construct, has at least one method, and is registered with
	// NewConstruct_Override (embedding the result of NewConstruct fails).
	e := &ETL{}
	constructs.NewConstruct_Override(e, scope, &id)
	schedule := props.Schedule
	if schedule == "" {
		schedule = "@daily"
	}
	raw := stagecraft.NewPipelineStorage(e, id+"-raw", stagecraft.PipelineStorageProps{Size: "50Gi"})
	step := func(name string, readOnly bool) stagecraft.Workload {
		return stagecraft.Workload{
			Image:  props.Image,
			Args:   []string{name},
			Mounts: []stagecraft.Mount{{Storage: raw, Path: "/data", ReadOnly: readOnly}},
		}
	}
	stagecraft.NewScheduledStage(e, id+"-extract", stagecraft.ScheduledStageProps{Workload: step("extract", false), Schedule: schedule})
	e.transform = stagecraft.NewBatchStage(e, id+"-transform", stagecraft.BatchStageProps{Workload: step("transform", true)})
	return e
}

// A team builds its own constructs from stagecraft's, as a function
// NewX(scope, id, props) that creates stages in a construct of its own.
// The storage that the extraction writes and the transformation reads
// orders them.
func Example_ownConstruct() {
	app := cdk8s.NewApp(nil)
	chart := cdk8s.NewChart(app, jsii.String("example"), nil)
	p := stagecraft.NewPipeline(chart, "sales", stagecraft.PipelineProps{})
	orders := NewETL(p, "orders", ETLProps{Image: "ghcr.io/acme/etl:2.0.0"})
	fmt.Println(orders.Transform().Path())
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range s.Manifests[0].Objects {
		if strings.HasPrefix(o.Construct, "example/sales/orders/") {
			fmt.Println(o.Kind, o.Name)
		}
	}
	// Output:
	// example/sales/orders/orders-transform
	// PersistentVolumeClaim orders-raw
	// CronJob orders-extract
	// Job orders-transform-d364ec90
}

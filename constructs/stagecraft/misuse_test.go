package stagecraft

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// muCase is one misuse of the API. run builds an app with the misuse and
// returns what Validate or Synthesize said; want lists the problems that
// must be among them (construct, field, type), or, with none, err must
// contain wantErr. No case may panic, and none may pass silently.
type muCase struct {
	name    string
	run     func(app cdk8s.App, chart cdk8s.Chart) error
	want    []vtWant
	wantErr string
}

const muImage = "ghcr.io/acme/worker:1.0.0"

func muBatch() BatchStageProps { return BatchStageProps{Workload: Workload{Image: muImage}} }

func muProc(ports ...string) ProcessorStageProps {
	props := ProcessorStageProps{Workload: Workload{Image: muImage}}
	for i, n := range ports {
		props.Ports = append(props.Ports, Port{Name: n, ContainerPort: int32(8080 + i)})
	}
	return props
}

// muZero is a construct of the app's own that was never initialized.
type muZero struct{ constructs.Construct }

var muCases = []muCase{
	{name: "nil scope for NewPipeline", run: func(app cdk8s.App, _ cdk8s.Chart) error {
		NewPipeline(nil, "p", PipelineProps{Network: testAPI})
		return Validate(app)
	}, want: []vtWant{{construct: "p", field: "scope", typ: tRequired}}},
	{name: "nil scope for NewBatchStage", run: func(app cdk8s.App, _ cdk8s.Chart) error {
		NewBatchStage(nil, "s", muBatch())
		return Validate(app)
	}, want: []vtWant{{construct: "s", field: "scope", typ: tRequired}}},
	{name: "nil scope for NewPipelineStorage", run: func(app cdk8s.App, _ cdk8s.Chart) error {
		NewPipelineStorage(nil, "data", PipelineStorageProps{Size: "1Gi"})
		return Validate(app)
	}, want: []vtWant{{construct: "data", field: "scope", typ: tRequired}}},
	{name: "nil scope for NewProcessorStage and NewScheduledStage", run: func(app cdk8s.App, _ cdk8s.Chart) error {
		NewProcessorStage(nil, "a", muProc("http"))
		NewScheduledStage(nil, "b", ScheduledStageProps{Workload: Workload{Image: muImage}, Schedule: "0 1 * * *"})
		return Validate(app)
	}, want: []vtWant{{construct: "a", field: "scope", typ: tRequired}, {construct: "b", field: "scope", typ: tRequired}}},
	{name: "typed-nil *Pipeline as scope", run: func(app cdk8s.App, _ cdk8s.Chart) error {
		var p *Pipeline
		NewBatchStage(p, "s", muBatch())
		p.Override(func(runtime.Object) {})
		p.AcceptChange(Change{Kind: "Job", Name: "s"})
		_ = p.Namespace() + p.Path()
		return Validate(app)
	}, want: []vtWant{{construct: "s", field: "scope", typ: tRequired}}},
	{name: "zero-value *Pipeline as scope", run: func(app cdk8s.App, _ cdk8s.Chart) error {
		NewPipelineStorage(&Pipeline{}, "data", PipelineStorageProps{Size: "1Gi"})
		return Validate(app)
	}, want: []vtWant{{construct: "data", field: "scope", typ: tRequired}}},
	{name: "zero-value construct of the app's own as scope", run: func(app cdk8s.App, _ cdk8s.Chart) error {
		NewBatchStage(&muZero{}, "s", muBatch())
		return Validate(app)
	}, want: []vtWant{{construct: "s", field: "scope", typ: tForbidden}}},
	{name: "stages in a pipeline that belongs to no app", run: func(app cdk8s.App, _ cdk8s.Chart) error {
		p := NewPipeline(nil, "p", PipelineProps{Network: testAPI})
		NewBatchStage(p, "s", muBatch()).RunsAfter(NewBatchStage(p, "t", muBatch()))
		return Validate(app)
	}, want: []vtWant{{construct: "p", field: "scope", typ: tRequired}}},
	{name: "NewPipeline directly under the App", run: func(app cdk8s.App, _ cdk8s.Chart) error {
		p := NewPipeline(app, "p", PipelineProps{Network: testAPI})
		NewBatchStage(p, "s", muBatch())
		_, err := Synthesize(app)
		return err
	}, want: []vtWant{{construct: "p", field: "scope", typ: tForbidden}}},
	{name: "RunsAfter(nil) and RunsAfter of a typed nil", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		p := NewPipeline(chart, "p", PipelineProps{Network: testAPI})
		var none *BatchStage
		NewBatchStage(p, "s", muBatch()).RunsAfter(nil, none)
		return Validate(app)
	}, want: []vtWant{vtS("RunsAfter[0]", tRequired, vtNone), vtS("RunsAfter[1]", tRequired, vtNone)}},
	{name: "Calls(nil)", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		p := NewPipeline(chart, "p", PipelineProps{Network: testAPI})
		NewBatchStage(p, "s", muBatch()).Calls(nil)
		return Validate(app)
	}, want: []vtWant{vtS("Calls[0]", tRequired, vtNone)}},
	{name: "Override(nil) on a stage, storage and a pipeline", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		p := NewPipeline(chart, "p", PipelineProps{Network: testAPI})
		p.Override(nil)
		NewBatchStage(p, "s", muBatch()).Override(nil)
		NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi"}).Override(nil)
		return Validate(app)
	}, want: []vtWant{vtAt("test/p", "Override[0]", tRequired, vtNone), vtS("Override[0]", tRequired, vtNone), vtAt("test/p/data", "Override[0]", tRequired, vtNone)}},
	{name: "an Override function that panics", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		p := NewPipeline(chart, "p", PipelineProps{Network: testAPI})
		NewBatchStage(p, "s", muBatch()).Override(func(runtime.Object) { panic("my bug") })
		_, err := Synthesize(app)
		return err
	}, want: []vtWant{vtS("Override[0]", tInvalid, nil)}},
	{name: "Endpoint of a stage outside a pipeline", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		e := NewProcessorStage(chart, "api", muProc("http")).Endpoint()
		if e.Port != 8080 {
			return fmt.Errorf("port %d", e.Port)
		}
		return Validate(app)
	}, want: []vtWant{vtAt("test/api", "id", tForbidden, nil)}},
	{name: "Endpoint of a port the stage lacks", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		p := NewPipeline(chart, "p", PipelineProps{Network: testAPI})
		s := NewProcessorStage(p, "s", muProc("http"))
		s.Endpoint("grpc")
		NewProcessorStage(p, "t", muProc()).Endpoint()
		return Validate(app)
	}, want: []vtWant{vtS("Endpoint", tNotSupported, "grpc"), vtAt("test/p/t", "Endpoint", tInvalid, "t")}},
	{name: "a stage created after the jsii runtime stopped", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		p := NewPipeline(chart, "p", PipelineProps{Network: testAPI})
		jsii.Close() // as synth.Main does
		NewBatchStage(p, "s", muBatch())
		return Validate(app)
	}, wantErr: "live cdk8s App"},
	{name: "stages built from two goroutines", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		p := NewPipeline(chart, "p", PipelineProps{Network: testAPI})
		var wg sync.WaitGroup
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 15 {
					s := NewBatchStage(p, fmt.Sprintf("g%d-s%d", g, i), muBatch())
					s.Override(func(runtime.Object) {})
				}
			}()
		}
		wg.Wait()
		if n := len(p.stages()); n != 30 {
			return fmt.Errorf("%d stages", n)
		}
		// The only problem, on purpose, so that the case cannot pass silently.
		NewBatchStage(p, "g0-s0", muBatch())
		return Validate(app)
	}, want: []vtWant{vtAt("test/p/g0-s0", "id", tDuplicate, nil)}},
	{name: "Validate(nil)", run: func(cdk8s.App, cdk8s.Chart) error { return Validate(nil) }, wantErr: "got nil"},
	{name: "Synthesize(nil) and Synthesize(chart)", run: func(_ cdk8s.App, chart cdk8s.Chart) error {
		if _, err := Synthesize(nil); err == nil {
			return nil
		}
		_, err := Synthesize(chart)
		return err
	}, wantErr: "needs the cdk8s App"},
	{name: "Validate(chart) of an invalid pipeline", run: func(_ cdk8s.App, chart cdk8s.Chart) error {
		p := NewPipeline(chart, "p", PipelineProps{Network: testAPI})
		NewBatchStage(p, "s", BatchStageProps{})
		return Validate(chart)
	}, want: []vtWant{vtS("Image", tRequired, vtNone)}},
	{name: "control character in an env value", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		p := NewPipeline(chart, "p", PipelineProps{Network: testAPI})
		props := muBatch()
		props.Env = []EnvVar{Env("A", "hello\x00world"), Env("B", "\ufffe"), Env("C", "a\xffb")}
		NewBatchStage(p, "s", props)
		_, err := Synthesize(app)
		return err
	}, want: []vtWant{vtS("Env[0].Value", tInvalid, nil), vtS("Env[1].Value", tInvalid, nil), vtS("Env[2].Value", tInvalid, nil)}},
	{name: "all-empty ids", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		a := NewPipeline(chart, "", PipelineProps{Namespace: "a"})
		b := NewPipeline(chart, "", PipelineProps{Namespace: "b"})
		NewBatchStage(a, "", muBatch())
		NewBatchStage(a, "", muBatch())
		NewPipelineStorage(b, "", PipelineStorageProps{Size: "1Gi"})
		NewBatchStage(chart, "", muBatch())
		NewBatchStage(chart, "", muBatch())
		return Validate(app)
	}, want: []vtWant{vtAt("test/empty-id-0", "id", tRequired, vtNone), vtAt("test/empty-id-1", "id", tRequired, vtNone),
		vtAt("test/empty-id-0/empty-id-0", "id", tRequired, vtNone), vtAt("test/empty-id-0/empty-id-1", "id", tRequired, vtNone),
		vtAt("test/empty-id-1/empty-id-0", "id", tRequired, vtNone), vtAt("test/empty-id-2", "id", tRequired, vtNone), vtAt("test/empty-id-3", "id", tRequired, vtNone)}},
	{name: "two calls that set one discovery variable", run: func(app cdk8s.App, chart cdk8s.Chart) error {
		p := NewPipeline(chart, "p", PipelineProps{Network: testAPI})
		x := NewProcessorStage(p, "x", muProc("http", "y"))
		xy := NewProcessorStage(p, "x-y", muProc("http"))
		s := NewBatchStage(p, "s", muBatch())
		s.Calls(x, "y")
		s.Calls(xy)
		return Validate(app)
	}, want: []vtWant{vtS("Calls[1]", tDuplicate, "X_Y_ENDPOINT")}},
}

// TestMisuse runs every misuse of the API: none panics, and each is a
// problem or an error that says what is wrong.
func TestMisuse(t *testing.T) {
	panics := 0
	for _, c := range muCases {
		t.Run(c.name, func(t *testing.T) {
			takeDetached() // what earlier tests left
			app := cdk8s.NewApp(nil)
			chart := cdk8s.NewChart(app, jsii.String("test"), nil)
			var err error
			if p := catch(func() { err = c.run(app, chart) }); p != nil {
				panics++
				t.Fatalf("panicked: %v", p)
			}
			muCheck(t, c, err)
		})
	}
	t.Logf("misuse table: %d cases, %d panics", len(muCases), panics)
}

func muCheck(t *testing.T, c muCase, err error) {
	t.Helper()
	if len(c.want) == 0 {
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Fatalf("want an error containing %q, got %v", c.wantErr, err)
		}
		return
	}
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want problems, got %v", err)
	}
	for _, w := range c.want {
		if !vtFound(verr.Problems, w) {
			t.Errorf("missing problem %+v in:\n%v", w, verr)
		}
	}
	for _, p := range verr.Problems {
		if p.Type == field.ErrorTypeDuplicate && !strings.Contains(c.name, "goroutines") && p.Field != "Calls[1]" {
			t.Errorf("phantom duplicate: %v", p)
		}
	}
}

// vtFound reports whether problems hold one that matches w.
func vtFound(problems []Problem, w vtWant) bool {
	for _, p := range problems {
		if p.Construct != w.construct || p.Type != w.typ {
			continue
		}
		if p.Field != w.field && !(strings.HasSuffix(w.field, "*") && strings.HasPrefix(p.Field, strings.TrimSuffix(w.field, "*"))) {
			continue
		}
		switch {
		case w.value == nil:
		case w.value == vtNone && p.Value != nil:
			continue
		case w.value != vtNone && fmt.Sprint(p.Value) != fmt.Sprint(w.value):
			continue
		}
		return true
	}
	return false
}

// muBuggy is a stage kind with a bug: building its objects panics.
type muBuggy struct {
	constructs.Construct
	stage
}

func (s *muBuggy) validate() field.ErrorList { return nil }

func (s *muBuggy) objects(*rendering) []runtime.Object {
	var objs []runtime.Object
	return objs[:1] // the bug: slice bounds out of range
}

func (s *muBuggy) shape(*rendering) (string, string, string) { return "[", "]", "" }

// TestPanicNamesTheConstruct: an unexpected panic while rendering is a
// *PanicError that names the construct, not a crash.
func TestPanicNamesTheConstruct(t *testing.T) {
	app := cdk8s.NewApp(nil)
	p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{Network: testAPI})
	s := &muBuggy{}
	cid := s.join(s, p, "buggy", "buggy", 63, nil)
	s.work = resolveWorkload(s.name, Workload{Image: muImage}, s.defaults())
	s.create(s, p, cid)
	_, err := Synthesize(app)
	var perr *PanicError
	if !errors.As(err, &perr) || perr.Construct != "test/p/buggy" || perr.Doing != "rendering" || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("want a PanicError naming test/p/buggy, got %v", err)
	}
}

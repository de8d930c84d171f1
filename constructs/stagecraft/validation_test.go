package stagecraft

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// The helpers of this file are prefixed with vt so that they do not clash
// with those of the package's other internal tests.

const vtImage = "ghcr.io/acme/worker:1.0.0"

// vtNone as a wanted Value means the Problem's Value must be nil (the
// problem is a missing value).
type vtNoneT struct{}

var vtNone vtNoneT

// vtWant is one problem a case must produce. Cases match on the
// construct, the type and field of the problem and its value, not on the
// wording of its detail, which only has to say something.
type vtWant struct {
	construct string          // exact construct path
	field     string          // exact field path; a trailing "*" matches a prefix
	typ       field.ErrorType // the problem's type
	value     any             // nil: not checked; vtNone: must be nil; else compared as fmt %v
	says      string          // text the detail must hold; "": not checked
}

// saying returns w that also wants text in the problem's detail.
func (w vtWant) saying(text string) vtWant { w.says = text; return w }

// The problem types, short.
const (
	tRequired     = field.ErrorTypeRequired
	tInvalid      = field.ErrorTypeInvalid
	tNotSupported = field.ErrorTypeNotSupported
	tDuplicate    = field.ErrorTypeDuplicate
	tForbidden    = field.ErrorTypeForbidden
	tTooLong      = field.ErrorTypeTooLong
)

// vtCase builds an app in chart "test" and lists every problem Validate
// must report, in any order. No want means the input is valid.
type vtCase struct {
	name  string
	build func(c cdk8s.Chart)
	want  []vtWant
}

// vtS is a problem of the stage or storage "s" of pipeline "p".
func vtS(fld string, typ field.ErrorType, value any) vtWant {
	return vtWant{construct: "test/p/s", field: fld, typ: typ, value: value}
}

// vtAt is a problem of the construct at path.
func vtAt(path, fld string, typ field.ErrorType, value any) vtWant {
	return vtWant{construct: path, field: fld, typ: typ, value: value}
}

func vtPipeline(c cdk8s.Chart) *Pipeline { return NewPipeline(c, "p", PipelineProps{Network: testAPI}) }

func vtPipe(props PipelineProps) func(cdk8s.Chart) {
	return func(c cdk8s.Chart) { NewPipeline(c, "p", props) }
}

// vtProc builds pipeline "p" with processor "s" of a valid image, changed
// by mod.
func vtProc(mod func(p *Pipeline, s *ProcessorStageProps)) func(cdk8s.Chart) {
	return func(c cdk8s.Chart) {
		p := vtPipeline(c)
		props := ProcessorStageProps{Workload: Workload{Image: vtImage}}
		mod(p, &props)
		NewProcessorStage(p, "s", props)
	}
}

// vtWeb is vtProc with one port "http" (8080).
func vtWeb(mod func(s *ProcessorStageProps)) func(cdk8s.Chart) {
	return vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
		s.Ports = []Port{{Name: "http", ContainerPort: 8080}}
		mod(s)
	})
}

// vtWork is vtProc changing only the workload.
func vtWork(mod func(w *Workload)) func(cdk8s.Chart) {
	return vtProc(func(_ *Pipeline, s *ProcessorStageProps) { mod(&s.Workload) })
}

func vtBatch(mod func(p *Pipeline, s *BatchStageProps)) func(cdk8s.Chart) {
	return func(c cdk8s.Chart) {
		p := vtPipeline(c)
		props := BatchStageProps{Workload: Workload{Image: vtImage}}
		mod(p, &props)
		NewBatchStage(p, "s", props)
	}
}

func vtJob(mod func(j *JobSettings)) func(cdk8s.Chart) {
	return vtBatch(func(_ *Pipeline, s *BatchStageProps) { mod(&s.JobSettings) })
}

func vtSched(mod func(s *ScheduledStageProps)) func(cdk8s.Chart) {
	return func(c cdk8s.Chart) {
		props := ScheduledStageProps{Workload: Workload{Image: vtImage}, Schedule: "0 2 * * *"}
		mod(&props)
		NewScheduledStage(vtPipeline(c), "s", props)
	}
}

// vtStore builds storage "s" of size 1Gi in pipeline "p", changed by mod.
func vtStore(mod func(s *PipelineStorageProps)) func(cdk8s.Chart) {
	return func(c cdk8s.Chart) {
		props := PipelineStorageProps{Size: "1Gi"}
		mod(&props)
		NewPipelineStorage(vtPipeline(c), "s", props)
	}
}

// vtMounted builds storage "data" with access modes and mount, then the
// stages of stages.
func vtMounted(modes []string, stages func(p *Pipeline, data *PipelineStorage)) func(cdk8s.Chart) {
	return func(c cdk8s.Chart) {
		p := vtPipeline(c)
		data := NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi", AccessModes: modes})
		stages(p, data)
	}
}

// vtData mounts a fresh storage "data" (ReadWriteMany) of pipeline "p" into
// processor "s" with mounts built by mk.
func vtData(mk func(data *PipelineStorage) []Mount) func(cdk8s.Chart) {
	return vtProc(func(p *Pipeline, s *ProcessorStageProps) {
		s.Mounts = mk(NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi"}))
	})
}

func vtW(ms ...Mount) Workload { return Workload{Image: vtImage, Mounts: ms} }

// vtRun builds a case in a fresh app and validates it. A panic is
// returned, not raised.
func vtRun(build func(cdk8s.Chart)) (app cdk8s.App, panicked any, err error) {
	defer func() {
		if r := recover(); r != nil {
			panicked = r
		}
	}()
	app = cdk8s.NewApp(nil)
	build(cdk8s.NewChart(app, jsii.String("test"), nil))
	return app, nil, Validate(app)
}

func (w vtWant) matches(p Problem) bool {
	if p.Construct != w.construct {
		return false
	}
	if f, ok := strings.CutSuffix(w.field, "*"); ok {
		if !strings.HasPrefix(p.Field, f) {
			return false
		}
	} else if p.Field != w.field {
		return false
	}
	if p.Type != w.typ || p.Detail == "" || !strings.Contains(p.Detail, w.says) {
		return false
	}
	switch w.value {
	case nil:
		return true
	case any(vtNone):
		return p.Value == nil
	}
	return p.Value != nil && fmt.Sprint(p.Value) == fmt.Sprint(w.value)
}

func (w vtWant) String() string {
	v := "(any)"
	if w.value == any(vtNone) {
		v = "(nil)"
	} else if w.value != nil {
		v = fmt.Sprintf("%#v", w.value)
	}
	if w.says != "" {
		v += fmt.Sprintf(", saying %q", w.says)
	}
	return fmt.Sprintf("%s: %s: %s: value %s", w.construct, w.field, w.typ, v)
}

// vtMismatches compares what Validate returned with want, and returns what
// differs.
func vtMismatches(err error, want []vtWant) []string {
	if err == nil {
		if len(want) == 0 {
			return nil
		}
		var out []string
		for _, w := range want {
			out = append(out, "missing problem: "+w.String())
		}
		return out
	}
	var verr *ValidationError
	if !errors.As(err, &verr) {
		return []string{fmt.Sprintf("Validate returned %T, not *ValidationError: %v", err, err)}
	}
	var out []string
	used := make([]bool, len(verr.Problems))
	for _, w := range want {
		found := false
		for i, p := range verr.Problems {
			if !used[i] && w.matches(p) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			out = append(out, "missing problem: "+w.String())
		}
	}
	for i, p := range verr.Problems {
		if !used[i] {
			out = append(out, fmt.Sprintf("unexpected problem: %s (Value %#v)", p, p.Value))
		}
	}
	return out
}

// vtRows runs cases.
func vtRows(t *testing.T, cases []vtCase) {
	t.Helper()
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			app, panicked, err := vtRun(tc.build)
			var issues []string
			if panicked != nil {
				issues = []string{fmt.Sprintf("panic: %v", panicked)}
			} else {
				issues = vtMismatches(err, tc.want)
				if len(tc.want) == 0 && len(issues) == 0 {
					// A valid input must also render.
					files, err := vtManifests(app)
					if err != nil {
						issues = append(issues, "Manifests: "+err.Error())
					}
					vtExport(t, files)
				}
			}
			for _, s := range issues {
				t.Error(s)
			}
		})
	}
}

// vtManifests synthesizes app into one file per chart, as synth.FilePerChart
// lays them out (the internal test cannot import synth).
func vtManifests(app cdk8s.App) (files map[string][]byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	s, err := Synthesize(app)
	if err != nil {
		return nil, err
	}
	files = map[string][]byte{}
	for _, m := range s.Manifests {
		var docs [][]byte
		for _, o := range m.Objects {
			docs = append(docs, o.YAML)
		}
		files[m.Chart+".k8s.yaml"] = bytes.Join(docs, []byte("---\n"))
	}
	return files, nil
}

// vtExportEnv names the directory where the tests write the manifests of
// every valid input of the validation tables and the fuzz seeds, one
// folder per test, for test/oracle to check with the API server's own
// validation. Unset: nothing is written.
const vtExportEnv = "STAGECRAFT_EXPORT_VALID"

// vtExport writes files under $STAGECRAFT_EXPORT_VALID/<test name>/.
func vtExport(t *testing.T, files map[string][]byte) {
	t.Helper()
	root := os.Getenv(vtExportEnv)
	if root == "" || len(files) == 0 {
		return
	}
	dir := filepath.Join(root, strings.NewReplacer("/", "~", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// vtExportApp renders a valid app and exports it as vtExport does.
func vtExportApp(t *testing.T, app cdk8s.App) {
	t.Helper()
	if os.Getenv(vtExportEnv) == "" {
		return
	}
	files, err := vtManifests(app)
	if err != nil {
		t.Fatalf("Manifests: %v", err)
	}
	vtExport(t, files)
}

func vtLong(n int) string { return strings.Repeat("a", n) }

const vtDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestValidationProblems checks that every invalid input of every construct
// is reported with its construct path, field, value and an explanation.
func TestValidationProblems(t *testing.T) {
	cases := []vtCase{}
	cases = append(cases, vtPipelineCases()...)
	cases = append(cases, vtIDCases()...)
	cases = append(cases, vtWorkloadCases()...)
	cases = append(cases, vtEnvMountCases()...)
	cases = append(cases, vtProcessorCases()...)
	cases = append(cases, vtStorageCases()...)
	cases = append(cases, vtCrossCases()...)
	cases = append(cases, vtJobCases()...)
	cases = append(cases, vtWaitCases()...)
	cases = append(cases, vtHeadlessCases()...)
	cases = append(cases, vtKEDACases()...)
	cases = append(cases, vtRolloutCases()...)
	bad := 0
	for _, c := range cases {
		if len(c.want) > 0 {
			bad++
		}
	}
	if bad < 70 {
		t.Errorf("only %d bad inputs", bad)
	}
	t.Logf("%d rows, %d of them invalid inputs", len(cases), bad)
	vtRows(t, cases)
}

func vtPipelineCases() []vtCase {
	p := "test/p"
	return []vtCase{
		{name: "pipeline/namespace invalid", build: vtPipe(PipelineProps{Namespace: "Bad_NS"}),
			want: []vtWant{vtAt(p, "Namespace", tInvalid, "Bad_NS")}},
		{name: "pipeline/namespace too long", build: vtPipe(PipelineProps{Namespace: vtLong(64)}),
			want: []vtWant{vtAt(p, "Namespace", tInvalid, vtLong(64))}},
		{name: "pipeline/namespace from invalid id", build: func(c cdk8s.Chart) { NewPipeline(c, "Bad", PipelineProps{Network: testAPI}) },
			want: []vtWant{vtAt("test/Bad", "id", tInvalid, "Bad")}},
		{name: "pipeline/reserved label", build: vtPipe(PipelineProps{Labels: map[string]string{"app.kubernetes.io/name": "x"}}),
			want: []vtWant{vtAt(p, "Labels[app.kubernetes.io/name]", tForbidden, "app.kubernetes.io/name")}},
		{name: "pipeline/reserved label managed-by", build: vtPipe(PipelineProps{Labels: map[string]string{"app.kubernetes.io/managed-by": "helm"}}),
			want: []vtWant{vtAt(p, "Labels[app.kubernetes.io/managed-by]", tForbidden, "app.kubernetes.io/managed-by")}},
		{name: "pipeline/label key invalid", build: vtPipe(PipelineProps{Labels: map[string]string{"bad key": "x"}}),
			want: []vtWant{vtAt(p, "Labels[bad key]", tInvalid, "bad key")}},
		{name: "pipeline/label key prefix invalid", build: vtPipe(PipelineProps{Labels: map[string]string{"Bad_Prefix/team": "x"}}),
			want: []vtWant{vtAt(p, "Labels[Bad_Prefix/team]", tInvalid, "Bad_Prefix/team")}},
		{name: "pipeline/label value invalid", build: vtPipe(PipelineProps{Labels: map[string]string{"team": "bad value!"}}),
			want: []vtWant{vtAt(p, "Labels[team]", tInvalid, "bad value!")}},
		{name: "pipeline/label value too long", build: vtPipe(PipelineProps{Labels: map[string]string{"team": vtLong(64)}}),
			want: []vtWant{vtAt(p, "Labels[team]", tInvalid, vtLong(64))}},
		{name: "pipeline/defaults pull policy", build: vtPipe(PipelineProps{Defaults: Defaults{ImagePullPolicy: "Sometimes"}}),
			want: []vtWant{vtAt(p, "Defaults.ImagePullPolicy", tNotSupported, "Sometimes")}},
		{name: "pipeline/defaults quantity unparseable", build: vtPipe(PipelineProps{Defaults: Defaults{Resources: Resources{CPURequest: "lots"}}}),
			want: []vtWant{vtAt(p, "Defaults.Resources.CPURequest", tInvalid, "lots")}},
		{name: "pipeline/defaults request above library limit", build: vtPipe(PipelineProps{Defaults: Defaults{Resources: Resources{MemoryRequest: "512Mi"}}}),
			want: []vtWant{vtAt(p, "Defaults.Resources.MemoryRequest", tInvalid, "512Mi")}},
		{name: "pipeline/defaults node selector", build: vtPipe(PipelineProps{Defaults: Defaults{NodeSelector: map[string]string{"gpu": "a b"}}}),
			want: []vtWant{vtAt(p, "Defaults.NodeSelector[gpu]", tInvalid, "a b")}},
		{name: "pipeline/defaults service account", build: vtPipe(PipelineProps{Defaults: Defaults{ServiceAccountName: "Bad_SA"}}),
			want: []vtWant{vtAt(p, "Defaults.ServiceAccountName", tInvalid, "Bad_SA")}},
		{name: "pipeline/same namespace twice", build: func(c cdk8s.Chart) {
			NewPipeline(c, "a", PipelineProps{Namespace: "shared"})
			NewPipeline(c, "b", PipelineProps{Namespace: "shared"})
		}, want: []vtWant{vtAt("test/b", "Namespace", tDuplicate, "shared")}},
		{name: "pipeline/namespace of one equals id of other", build: func(c cdk8s.Chart) {
			NewPipeline(c, "a", PipelineProps{Network: testAPI})
			NewPipeline(c, "b", PipelineProps{Namespace: "a"})
		}, want: []vtWant{vtAt("test/b", "Namespace", tDuplicate, "a")}},
		{name: "pipeline/duplicate id", build: func(c cdk8s.Chart) {
			NewPipeline(c, "p", PipelineProps{Network: testAPI})
			NewPipeline(c, "p", PipelineProps{Namespace: "other"})
		}, want: []vtWant{vtAt(p, "id", tDuplicate, "p")}},
		{name: "pipeline/valid labels and defaults", build: vtPipe(PipelineProps{
			Namespace: "ml", Labels: map[string]string{"team": "data", "example.com/tier": "gold"},
			Defaults: Defaults{Resources: Resources{CPURequest: "1", CPULimit: "2"}, ImagePullPolicy: "Always",
				NodeSelector: map[string]string{"gpu": "true"}, ServiceAccountName: "runner"},
		})},
	}
}

func vtIDCases() []vtCase {
	return []vtCase{
		{name: "id/deployment 64 characters", build: func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), vtLong(64), ProcessorStageProps{Workload: vtW()})
		}, want: []vtWant{
			vtAt("test/p/"+vtLong(64), "id", tInvalid, vtLong(64)),
			vtAt("test/p/"+vtLong(64), "id", tInvalid, vtLong(64)),
		}},
		{name: "id/deployment 53 characters", build: func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), vtLong(53), ProcessorStageProps{Workload: vtW()})
		}, want: []vtWant{vtAt("test/p/"+vtLong(53), "id", tTooLong, vtLong(53))}},
		{name: "id/deployment 52 characters is valid", build: func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), vtLong(52), ProcessorStageProps{Workload: vtW()})
		}},
		{name: "id/statefulset 53 characters", build: func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), vtLong(53), ProcessorStageProps{Workload: vtW(), Stateful: &Stateful{}})
		}, want: []vtWant{vtAt("test/p/"+vtLong(53), "id", tTooLong, vtLong(53))}},
		{name: "id/cronjob 53 characters", build: func(c cdk8s.Chart) {
			NewScheduledStage(vtPipeline(c), vtLong(53), ScheduledStageProps{Workload: vtW(), Schedule: "@daily"})
		}, want: []vtWant{vtAt("test/p/"+vtLong(53), "id", tTooLong, vtLong(53))}},
		{name: "id/cronjob 52 characters is valid", build: func(c cdk8s.Chart) {
			NewScheduledStage(vtPipeline(c), vtLong(52), ScheduledStageProps{Workload: vtW(), Schedule: "@daily"})
		}},
		{name: "id/job 64 characters", build: func(c cdk8s.Chart) {
			NewBatchStage(vtPipeline(c), vtLong(64), BatchStageProps{Workload: vtW()})
		}, want: []vtWant{
			vtAt("test/p/"+vtLong(64), "id", tInvalid, vtLong(64)),
			vtAt("test/p/"+vtLong(64), "id", tInvalid, vtLong(64)),
		}},
		{name: "id/storage 64 characters", build: func(c cdk8s.Chart) {
			NewPipelineStorage(vtPipeline(c), vtLong(64), PipelineStorageProps{Size: "1Gi"})
		}, want: []vtWant{
			vtAt("test/p/"+vtLong(64), "id", tInvalid, vtLong(64)),
			vtAt("test/p/"+vtLong(64), "id", tInvalid, vtLong(64)),
		}},
		{name: "id/not a DNS label", build: func(c cdk8s.Chart) {
			NewBatchStage(vtPipeline(c), "Data_Prep", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{
			vtAt("test/p/Data_Prep", "id", tInvalid, "Data_Prep"),
			vtAt("test/p/Data_Prep", "id", tInvalid, "Data_Prep"),
		}},
		{name: "id/duplicate stage ids in a pipeline", build: func(c cdk8s.Chart) {
			p := vtPipeline(c)
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: vtW()})
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{vtS("id", tDuplicate, "s")}},
		{name: "id/duplicate across nested construct", build: func(c cdk8s.Chart) {
			p := vtPipeline(c)
			NewPipelineStorage(p, "s", PipelineStorageProps{Size: "1Gi"})
			NewBatchStage(constructs.NewConstruct(p, jsii.String("group")), "s", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{vtAt("test/p/group/s", "id", tDuplicate, "s")}},
		{name: "id/duplicate inside nested construct", build: func(c cdk8s.Chart) {
			g := constructs.NewConstruct(vtPipeline(c), jsii.String("group"))
			NewBatchStage(g, "s", BatchStageProps{Workload: vtW()})
			NewBatchStage(g, "s", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{vtAt("test/p/group/s", "id", tDuplicate, "s")}},
		{name: "id/stage in nested construct is valid", build: func(c cdk8s.Chart) {
			g := constructs.NewConstruct(vtPipeline(c), jsii.String("group"))
			NewScheduledStage(g, "s", ScheduledStageProps{Workload: vtW(), Schedule: "@hourly"})
		}},
		{name: "id/processor outside any pipeline", build: func(c cdk8s.Chart) {
			NewProcessorStage(c, "orphan", ProcessorStageProps{Workload: vtW()})
		}, want: []vtWant{vtAt("test/orphan", "id", tForbidden, "orphan")}},
		{name: "id/batch in a plain construct outside any pipeline", build: func(c cdk8s.Chart) {
			NewBatchStage(constructs.NewConstruct(c, jsii.String("group")), "orphan", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{vtAt("test/group/orphan", "id", tForbidden, "orphan")}},
		{name: "id/storage outside any pipeline", build: func(c cdk8s.Chart) {
			NewPipelineStorage(c, "orphan", PipelineStorageProps{Size: "1Gi"})
		}, want: []vtWant{vtAt("test/orphan", "id", tForbidden, "orphan")}},
	}
}

func vtWorkloadCases() []vtCase {
	return []vtCase{
		// Labels, annotations, selectors, accounts.
		{name: "workload/reserved label", build: vtWork(func(w *Workload) { w.Labels = map[string]string{"app.kubernetes.io/component": "x"} }),
			want: []vtWant{vtS("Labels[app.kubernetes.io/component]", tForbidden, "app.kubernetes.io/component")}},
		{name: "workload/label key invalid", build: vtWork(func(w *Workload) { w.Labels = map[string]string{"-team": "x"} }),
			want: []vtWant{vtS("Labels[-team]", tInvalid, "-team")}},
		{name: "workload/label value too long", build: vtWork(func(w *Workload) { w.Labels = map[string]string{"team": vtLong(64)} }),
			want: []vtWant{vtS("Labels[team]", tInvalid, vtLong(64))}},
		{name: "workload/annotation key invalid", build: vtWork(func(w *Workload) { w.Annotations = map[string]string{"bad key": "x"} }),
			want: []vtWant{vtS("Annotations[bad key]", tInvalid, "bad key")}},
		{name: "workload/annotations too large", build: vtWork(func(w *Workload) {
			w.Annotations = map[string]string{"big": strings.Repeat("x", 256*1024)}
		}), want: []vtWant{vtS("Annotations", tTooLong, "262147 bytes")}},
		{name: "workload/node selector value", build: vtWork(func(w *Workload) { w.NodeSelector = map[string]string{"zone": "eu west"} }),
			want: []vtWant{vtS("NodeSelector[zone]", tInvalid, "eu west")}},
		{name: "workload/service account", build: vtWork(func(w *Workload) { w.ServiceAccountName = "Runner" }),
			want: []vtWant{vtS("ServiceAccountName", tInvalid, "Runner")}},
		{name: "workload/pull policy", build: vtWork(func(w *Workload) { w.ImagePullPolicy = "always" }),
			want: []vtWant{vtS("ImagePullPolicy", tNotSupported, "always")}},

		// Quantities and requests above limits.
		{name: "resources/cpu unparseable", build: vtWork(func(w *Workload) { w.Resources.CPURequest = "two" }),
			want: []vtWant{vtS("Resources.CPURequest", tInvalid, "two")}},
		{name: "resources/memory limit zero", build: vtWork(func(w *Workload) { w.Resources.MemoryLimit = "0" }),
			want: []vtWant{vtS("Resources.MemoryLimit", tInvalid, "0")}},
		{name: "resources/ephemeral request negative", build: vtWork(func(w *Workload) { w.Resources.EphemeralStorageRequest = "-1Gi" }),
			want: []vtWant{vtS("Resources.EphemeralStorageRequest", tInvalid, "-1Gi")}},
		{name: "resources/cpu limit unparseable", build: vtWork(func(w *Workload) { w.Resources.CPULimit = "1 core" }),
			want: []vtWant{vtS("Resources.CPULimit", tInvalid, "1 core")}},
		{name: "resources/cpu request above limit", build: vtWork(func(w *Workload) { w.Resources.CPURequest, w.Resources.CPULimit = "2", "1" }),
			want: []vtWant{vtS("Resources.CPURequest", tInvalid, "2")}},
		{name: "resources/memory request above default limit", build: vtWork(func(w *Workload) { w.Resources.MemoryRequest = "1Gi" }),
			want: []vtWant{vtS("Resources.MemoryRequest", tInvalid, "1Gi")}},
		{name: "resources/ephemeral request above limit", build: vtWork(func(w *Workload) {
			w.Resources.EphemeralStorageRequest, w.Resources.EphemeralStorageLimit = "3Gi", "2Gi"
		}), want: []vtWant{vtS("Resources.EphemeralStorageRequest", tInvalid, "3Gi")}},
		{name: "resources/own limit below default request", build: vtWork(func(w *Workload) { w.Resources.CPULimit = "50m" }),
			want: []vtWant{vtS("Resources.CPULimit", tInvalid, "50m")}},
		{name: "resources/stage request above pipeline default limit", build: func(c cdk8s.Chart) {
			p := NewPipeline(c, "p", PipelineProps{Defaults: Defaults{Resources: Resources{CPULimit: "1500m"}}})
			NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: vtImage, Resources: Resources{CPURequest: "2"}}})
		}, want: []vtWant{vtS("Resources.CPURequest", tInvalid, "2")}},
		{name: "resources/stage request within pipeline default limit is valid", build: func(c cdk8s.Chart) {
			p := NewPipeline(c, "p", PipelineProps{Defaults: Defaults{Resources: Resources{MemoryLimit: "8Gi"}}})
			NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: vtImage, Resources: Resources{MemoryRequest: "4Gi"}}})
		}},

		// Security.
		{name: "security/negative user", build: vtWork(func(w *Workload) { w.Security.RunAsUser = -1 }),
			want: []vtWant{vtS("Security.RunAsUser", tInvalid, int64(-1))}},
		{name: "security/group out of range", build: vtWork(func(w *Workload) { w.Security.FSGroup = 2147483648 }),
			want: []vtWant{vtS("Security.FSGroup", tInvalid, int64(2147483648))}},
		{name: "security/scratch size", build: vtWork(func(w *Workload) { w.Security.ScratchSize = "big" }),
			want: []vtWant{vtS("Security.ScratchSize", tInvalid, "big")}},
		{name: "security/scratch path relative", build: vtWork(func(w *Workload) { w.Security.ScratchPaths = []string{"tmp"} }),
			want: []vtWant{vtS("Security.ScratchPaths[0]", tInvalid, "tmp")}},
		{name: "security/scratch paths duplicate", build: vtWork(func(w *Workload) { w.Security.ScratchPaths = []string{"/tmp", "/tmp/"} }),
			want: []vtWant{vtS("Security.ScratchPaths[1]", tDuplicate, "/tmp/")}},

		// Images.
		{name: "image/empty", build: vtWork(func(w *Workload) { w.Image = "" }),
			want: []vtWant{vtS("Image", tRequired, vtNone)}},
		{name: "image/invalid reference", build: vtWork(func(w *Workload) { w.Image = "Acme/Worker:1.0" }),
			want: []vtWant{vtS("Image", tInvalid, "Acme/Worker:1.0")}},
		{name: "image/invalid reference allowed latest", build: vtWork(func(w *Workload) { w.Image, w.AllowLatestTag = "worker:1.0:2", true }),
			want: []vtWant{vtS("Image", tInvalid, "worker:1.0:2")}},
		{name: "image/no tag", build: vtWork(func(w *Workload) { w.Image = "ghcr.io/acme/worker" }),
			want: []vtWant{vtS("Image", tInvalid, "ghcr.io/acme/worker")}},
		{name: "image/latest", build: vtWork(func(w *Workload) { w.Image = "worker:latest" }),
			want: []vtWant{vtS("Image", tInvalid, "worker:latest")}},
		{name: "image/latest on batch", build: vtBatch(func(_ *Pipeline, s *BatchStageProps) { s.Image = "redis:latest" }),
			want: []vtWant{vtS("Image", tInvalid, "redis:latest")}},
		{name: "command/empty program", build: vtWork(func(w *Workload) { w.Command = []string{""} }),
			want: []vtWant{vtS("Command[0]", tInvalid, "")}},
		{name: "command/empty argument after the program", build: vtWork(func(w *Workload) { w.Command = []string{"/bin/worker", ""} })},
		{name: "image/no tag allowed", build: vtWork(func(w *Workload) { w.Image, w.AllowLatestTag = "ghcr.io/acme/worker", true })},
		{name: "image/latest allowed", build: vtWork(func(w *Workload) { w.Image, w.AllowLatestTag = "worker:latest", true })},
		{name: "image/digest", build: vtWork(func(w *Workload) { w.Image = "ghcr.io/acme/worker@" + vtDigest })},
		{name: "image/tag and digest", build: vtWork(func(w *Workload) { w.Image = "ghcr.io/acme/worker:latest@" + vtDigest })},
	}
}

func vtEnvMountCases() []vtCase {
	env := func(e ...EnvVar) func(cdk8s.Chart) { return vtWork(func(w *Workload) { w.Env = e }) }
	return []vtCase{
		{name: "env/empty name", build: env(EnvVar{Value: "x"}),
			want: []vtWant{vtS("Env[0].Name", tRequired, vtNone)}},
		{name: "env/invalid name", build: env(Env("LOG_LEVEL", "info"), Env("1LEVEL", "x")),
			want: []vtWant{vtS("Env[1].Name", tInvalid, "1LEVEL")}},
		{name: "env/duplicate names", build: env(Env("A", "1"), Env("B", "2"), Env("A", "3")),
			want: []vtWant{vtS("Env[2].Name", tDuplicate, "A")}},
		{name: "env/configmap and secret", build: env(EnvVar{Name: "A", ConfigMap: &KeyRef{Name: "cm", Key: "k"}, Secret: &KeyRef{Name: "s", Key: "k"}}),
			want: []vtWant{vtS("Env[0]", tForbidden, "A")}},
		{name: "env/value with secret", build: env(EnvVar{Name: "A", Value: "v", Secret: &KeyRef{Name: "s", Key: "k"}}),
			want: []vtWant{vtS("Env[0].Value", tForbidden, "v")}},
		{name: "env/secret missing key", build: env(EnvFromSecret("A", "creds", "")),
			want: []vtWant{vtS("Env[0].Secret.Key", tRequired, vtNone)}},
		{name: "env/configmap missing name", build: env(EnvFromConfigMap("A", "", "k")),
			want: []vtWant{vtS("Env[0].ConfigMap.Name", tRequired, vtNone)}},
		{name: "env/secret bad name", build: env(EnvFromSecret("A", "Creds", "k")),
			want: []vtWant{vtS("Env[0].Secret.Name", tInvalid, "Creds")}},
		{name: "env/configmap bad key", build: env(EnvFromConfigMap("A", "cm", "bad key")),
			want: []vtWant{vtS("Env[0].ConfigMap.Key", tInvalid, "bad key")}},
		{name: "env/duplicate on scheduled", build: vtSched(func(s *ScheduledStageProps) { s.Env = []EnvVar{Env("X", "1"), EnvFromSecret("X", "s", "k")} }),
			want: []vtWant{vtS("Env[1].Name", tDuplicate, "X")}},

		{name: "mount/nil storage", build: vtWork(func(w *Workload) { w.Mounts = []Mount{{Path: "/data"}} }),
			want: []vtWant{vtS("Mounts[0].Storage", tRequired, vtNone)}},
		{name: "mount/relative path", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "data"}} }),
			want: []vtWant{vtS("Mounts[0].Path", tInvalid, "data")}},
		{name: "mount/dot-dot path", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/data/../etc"}} }),
			want: []vtWant{vtS("Mounts[0].Path", tInvalid, "/data/../etc")}},
		{name: "mount/colon path", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/data:rw"}} }),
			want: []vtWant{vtS("Mounts[0].Path", tInvalid, "/data:rw")}},
		{name: "mount/empty path", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d}} }),
			want: []vtWant{vtS("Mounts[0].Path", tRequired, vtNone)}},
		{name: "mount/duplicate paths", build: vtData(func(d *PipelineStorage) []Mount {
			return []Mount{{Storage: d, Path: "/data"}, {Storage: d, Path: "/data/", SubPath: "x"}}
		}), want: []vtWant{vtS("Mounts[1].Path", tDuplicate, "/data/")}},
		{name: "mount/clash with default scratch tmp", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/tmp"}} }),
			want: []vtWant{vtS("Mounts[0].Path", tDuplicate, "/tmp")}},
		{name: "mount/clash with explicit scratch path", build: vtProc(func(p *Pipeline, s *ProcessorStageProps) {
			s.Security.ScratchPaths = []string{"/tmp", "/cache"}
			s.Mounts = []Mount{{Storage: NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi"}), Path: "/cache/"}}
		}), want: []vtWant{vtS("Mounts[0].Path", tDuplicate, "/cache/")}},
		{name: "mount/absolute subpath", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/data", SubPath: "/abs"}} }),
			want: []vtWant{vtS("Mounts[0].SubPath", tInvalid, "/abs")}},
		{name: "mount/dot-dot subpath", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/data", SubPath: "a/../../b"}} }),
			want: []vtWant{vtS("Mounts[0].SubPath", tInvalid, "a/../../b")}},
		{name: "mount/storage of another pipeline", build: func(c cdk8s.Chart) {
			other := NewPipelineStorage(NewPipeline(c, "q", PipelineProps{Network: testAPI}), "data", PipelineStorageProps{Size: "1Gi"})
			NewBatchStage(vtPipeline(c), "s", BatchStageProps{Workload: vtW(Mount{Storage: other, Path: "/data"})})
		}, want: []vtWant{vtS("Mounts[0].Storage", tInvalid, "test/q/data")}},
		{name: "mount/storage outside any pipeline", build: func(c cdk8s.Chart) {
			orphan := NewPipelineStorage(c, "data", PipelineStorageProps{Size: "1Gi"})
			NewBatchStage(vtPipeline(c), "s", BatchStageProps{Workload: vtW(Mount{Storage: orphan, Path: "/data"})})
		}, want: []vtWant{
			vtAt("test/data", "id", tForbidden, "data"),
			vtS("Mounts[0].Storage", tInvalid, nil),
		}},
		{name: "mount/valid subpaths and read-only", build: vtData(func(d *PipelineStorage) []Mount {
			return []Mount{{Storage: d, Path: "/in", SubPath: "in", ReadOnly: true}, {Storage: d, Path: "/out", SubPath: "a/b"}}
		})},
	}
}

func vtProcessorCases() []vtCase {
	ports := func(ps ...Port) func(cdk8s.Chart) {
		return vtProc(func(_ *Pipeline, s *ProcessorStageProps) { s.Ports = ps })
	}
	stateful := func(v ...VolumeClaim) func(cdk8s.Chart) {
		return vtProc(func(_ *Pipeline, s *ProcessorStageProps) { s.Stateful = &Stateful{Volumes: v} })
	}
	return []vtCase{
		// Probes.
		{name: "probe/unknown port", build: vtWeb(func(s *ProcessorStageProps) { s.Readiness = &Probe{Port: "metrics"} }),
			want: []vtWant{vtS("Readiness.Port", tNotSupported, "metrics")}},
		{name: "probe/port without ports", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) { s.Startup = &Probe{Port: "http"} }),
			want: []vtWant{vtS("Startup.Port", tNotSupported, "http")}},
		{name: "probe/http path without slash", build: vtWeb(func(s *ProcessorStageProps) { s.Liveness = &Probe{HTTPPath: "healthz"} }),
			want: []vtWant{vtS("Liveness.HTTPPath", tInvalid, "healthz")}},
		{name: "probe/http without ports", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) { s.Readiness = &Probe{HTTPPath: "/healthz"} }),
			want: []vtWant{vtS("Readiness.Port", tRequired, vtNone)}},
		{name: "probe/http and command", build: vtWeb(func(s *ProcessorStageProps) { s.Liveness = &Probe{HTTPPath: "/h", Command: []string{"true"}} }),
			want: []vtWant{vtS("Liveness", tForbidden, "/h")}},
		{name: "probe/negative delay", build: vtWeb(func(s *ProcessorStageProps) { s.Readiness = &Probe{InitialDelay: -time.Second} }),
			want: []vtWant{vtS("Readiness.InitialDelay", tInvalid, "-1s")}},
		{name: "probe/fractional period", build: vtWeb(func(s *ProcessorStageProps) { s.Readiness = &Probe{Period: 1500 * time.Millisecond} }),
			want: []vtWant{vtS("Readiness.Period", tInvalid, "1.5s")}},
		{name: "probe/fractional timeout", build: vtWeb(func(s *ProcessorStageProps) { s.Startup = &Probe{Timeout: 500 * time.Millisecond} }),
			want: []vtWant{vtS("Startup.Timeout", tInvalid, "500ms")}},
		{name: "probe/negative failure threshold", build: vtWeb(func(s *ProcessorStageProps) { s.Liveness = &Probe{FailureThreshold: -1} }),
			want: []vtWant{vtS("Liveness.FailureThreshold", tInvalid, int32(-1))}},
		{name: "probe/delay beyond int32 seconds", build: vtWeb(func(s *ProcessorStageProps) { s.Readiness = &Probe{InitialDelay: 80 * 365 * 24 * time.Hour} }),
			want: []vtWant{vtS("Readiness.InitialDelay", tInvalid, nil)}},
		{name: "probe/command without ports is valid", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Liveness = &Probe{Command: []string{"/bin/check"}, Period: 30 * time.Second}
		})},

		// Ports.
		{name: "port/empty name", build: ports(Port{ContainerPort: 8080}),
			want: []vtWant{vtS("Ports[0].Name", tRequired, vtNone)}},
		{name: "port/name too long", build: ports(Port{Name: "metrics-endpoint", ContainerPort: 9090}),
			want: []vtWant{vtS("Ports[0].Name", tInvalid, "metrics-endpoint")}},
		{name: "port/name invalid characters", build: ports(Port{Name: "http_alt", ContainerPort: 8080}),
			want: []vtWant{vtS("Ports[0].Name", tInvalid, "http_alt")}},
		{name: "port/name without letter", build: ports(Port{Name: "8080", ContainerPort: 8080}),
			want: []vtWant{vtS("Ports[0].Name", tInvalid, "8080")}},
		{name: "port/duplicate names", build: ports(Port{Name: "http", ContainerPort: 8080}, Port{Name: "http", ContainerPort: 8081}),
			want: []vtWant{vtS("Ports[1].Name", tDuplicate, "http")}},
		{name: "port/number zero", build: ports(Port{Name: "http"}),
			want: []vtWant{vtS("Ports[0].ContainerPort", tInvalid, int32(0))}},
		{name: "port/number 70000", build: ports(Port{Name: "http", ContainerPort: 70000}),
			want: []vtWant{vtS("Ports[0].ContainerPort", tInvalid, int32(70000))}},
		{name: "port/service port 70000", build: ports(Port{Name: "http", ContainerPort: 8080, ServicePort: 70000}),
			want: []vtWant{vtS("Ports[0].ServicePort", tInvalid, int32(70000))}},
		{name: "port/service port negative", build: ports(Port{Name: "http", ContainerPort: 8080, ServicePort: -80}),
			want: []vtWant{vtS("Ports[0].ServicePort", tInvalid, int32(-80))}},
		{name: "port/duplicate container ports", build: ports(Port{Name: "a", ContainerPort: 8080, ServicePort: 80}, Port{Name: "b", ContainerPort: 8080, ServicePort: 81}),
			want: []vtWant{vtS("Ports[1].ContainerPort", tDuplicate, int32(8080))}},
		{name: "port/duplicate service ports", build: ports(Port{Name: "a", ContainerPort: 8080, ServicePort: 80}, Port{Name: "b", ContainerPort: 8081, ServicePort: 80}),
			want: []vtWant{vtS("Ports[1].ServicePort", tDuplicate, int32(80))}},
		{name: "port/duplicate service port by default", build: ports(Port{Name: "a", ContainerPort: 8080, ServicePort: 80}, Port{Name: "b", ContainerPort: 80}),
			want: []vtWant{vtS("Ports[1]*", tDuplicate, nil)}},
		{name: "port/same service port for tcp and udp is valid", build: ports(
			Port{Name: "dns-tcp", ContainerPort: 5353, ServicePort: 53, Protocol: "TCP"},
			Port{Name: "dns-udp", ContainerPort: 5353, ServicePort: 53, Protocol: "UDP"})},
		{name: "port/protocol", build: ports(Port{Name: "http", ContainerPort: 8080, Protocol: "HTTP"}),
			want: []vtWant{vtS("Ports[0].Protocol", tNotSupported, "HTTP")}},
		{name: "processor/negative replicas", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) { s.Replicas = ptr.To[int32](-1) }),
			want: []vtWant{vtS("Replicas", tInvalid, int32(-1))}},

		// Ingress.
		{name: "ingress/without ports", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) { s.Ingress = &Ingress{Host: "a.example.com"} }),
			want: []vtWant{vtS("Ingress.Port", tRequired, vtNone)}},
		{name: "ingress/unknown port", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Port: "grpc"} }),
			want: []vtWant{vtS("Ingress.Port", tNotSupported, "grpc")}},
		{name: "ingress/tls without host", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{TLSSecretName: "tls"} }),
			want: []vtWant{vtS("Ingress.Host", tRequired, vtNone)}},
		{name: "ingress/bad host", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Host: "API.example.com"} }),
			want: []vtWant{vtS("Ingress.Host", tInvalid, "API.example.com")}},
		{name: "ingress/bad path type", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{PathType: "Regex"} }),
			want: []vtWant{vtS("Ingress.PathType", tNotSupported, "Regex")}},
		{name: "ingress/relative path", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Path: "api"} }),
			want: []vtWant{vtS("Ingress.Path", tInvalid, "api")}},
		{name: "ingress/bad tls secret", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Host: "a.example.com", TLSSecretName: "TLS"} }),
			want: []vtWant{vtS("Ingress.TLSSecretName", tInvalid, "TLS")}},
		{name: "ingress/bad class", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{ClassName: "Nginx"} }),
			want: []vtWant{vtS("Ingress.ClassName", tInvalid, "Nginx")}},
		{name: "ingress/bad annotation", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Annotations: map[string]string{"nginx/": "x"}} }),
			want: []vtWant{
				vtS("Ingress.Annotations[nginx/]", tInvalid, "nginx/"),
				vtS("Ingress.Annotations[nginx/]", tInvalid, "nginx/"),
			}},
		{name: "ingress/ip host", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Host: "10.0.0.1"} }),
			want: []vtWant{vtS("Ingress.Host", tInvalid, "10.0.0.1")}},
		{name: "ingress/path with double slash", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Path: "/api//v1"} }),
			want: []vtWant{vtS("Ingress.Path", tInvalid, "/api//v1")}},
		{name: "ingress/wildcard host with tls is valid", build: vtWeb(func(s *ProcessorStageProps) {
			s.Ingress = &Ingress{Host: "*.example.com", TLSSecretName: "wildcard-tls", PathType: "Exact", Path: "/v1", ClassName: "nginx"}
		})},

		// Stateful volumes.
		{name: "stateful/volume without name", build: stateful(VolumeClaim{Path: "/state", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Name", tRequired, vtNone)}},
		{name: "stateful/volume bad name", build: stateful(VolumeClaim{Name: "State", Path: "/state", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Name", tInvalid, "State")}},
		{name: "stateful/volume without size", build: stateful(VolumeClaim{Name: "state", Path: "/state"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Size", tRequired, vtNone)}},
		{name: "stateful/volume bad size", build: stateful(VolumeClaim{Name: "state", Path: "/state", Size: "-5Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Size", tInvalid, "-5Gi")}},
		{name: "stateful/volume without path", build: stateful(VolumeClaim{Name: "state", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Path", tRequired, vtNone)}},
		{name: "stateful/volume relative path", build: stateful(VolumeClaim{Name: "state", Path: "state", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Path", tInvalid, "state")}},
		{name: "stateful/volume access mode", build: stateful(VolumeClaim{Name: "state", Path: "/state", Size: "1Gi", AccessModes: []string{"ReadWrite"}}),
			want: []vtWant{vtS("Stateful.Volumes[0].AccessModes[0]", tNotSupported, "ReadWrite")}},
		{name: "stateful/volume storage class", build: stateful(VolumeClaim{Name: "state", Path: "/state", Size: "1Gi", StorageClassName: "SSD"}),
			want: []vtWant{vtS("Stateful.Volumes[0].StorageClassName", tInvalid, "SSD")}},
		{name: "stateful/duplicate volume names", build: stateful(VolumeClaim{Name: "state", Path: "/a", Size: "1Gi"}, VolumeClaim{Name: "state", Path: "/b", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[1].Name", tDuplicate, "state")}},
		{name: "stateful/volume path clashes with scratch", build: stateful(VolumeClaim{Name: "state", Path: "/tmp", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Path", tDuplicate, "/tmp")}},
		{name: "stateful/volume access modes read-write-once-pod combined", build: stateful(VolumeClaim{Name: "state", Path: "/state", Size: "1Gi", AccessModes: []string{"ReadWriteOncePod", "ReadWriteOnce"}}),
			want: []vtWant{vtS("Stateful.Volumes[0].AccessModes", tForbidden, nil)}},
		{name: "stateful/volume named like the scratch volume", build: stateful(VolumeClaim{Name: "scratch", Path: "/state", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Name", tForbidden, "scratch")}},
		{name: "stateful/valid", build: stateful(VolumeClaim{Name: "state", Path: "/state", Size: "1Gi", AccessModes: []string{"ReadWriteOncePod"}, StorageClassName: "fast"})},
	}
}

func vtStorageCases() []vtCase {
	return []vtCase{
		{name: "storage/missing size", build: vtStore(func(s *PipelineStorageProps) { s.Size = "" }),
			want: []vtWant{vtS("Size", tRequired, vtNone)}},
		{name: "storage/size unparseable", build: vtStore(func(s *PipelineStorageProps) { s.Size = "100GB" }),
			want: []vtWant{vtS("Size", tInvalid, "100GB")}},
		{name: "storage/size zero", build: vtStore(func(s *PipelineStorageProps) { s.Size = "0Gi" }),
			want: []vtWant{vtS("Size", tInvalid, "0Gi")}},
		{name: "storage/bad access mode", build: vtStore(func(s *PipelineStorageProps) { s.AccessModes = []string{"ReadWriteMany", "RWX"} }),
			want: []vtWant{vtS("AccessModes[1]", tNotSupported, "RWX")}},
		{name: "storage/duplicate access mode", build: vtStore(func(s *PipelineStorageProps) { s.AccessModes = []string{"ReadWriteMany", "ReadWriteMany"} }),
			want: []vtWant{vtS("AccessModes[1]", tDuplicate, "ReadWriteMany")}},
		{name: "storage/read-write-once-pod combined", build: vtStore(func(s *PipelineStorageProps) { s.AccessModes = []string{"ReadWriteOncePod", "ReadOnlyMany"} }),
			want: []vtWant{vtS("AccessModes", tForbidden, []string{"ReadWriteOncePod", "ReadOnlyMany"})}},
		{name: "storage/bad volume mode", build: vtStore(func(s *PipelineStorageProps) { s.VolumeMode = "Raw" }),
			want: []vtWant{vtS("VolumeMode", tNotSupported, "Raw")}},
		{name: "storage/bad storage class", build: vtStore(func(s *PipelineStorageProps) { s.StorageClassName = "Fast_SSD" }),
			want: []vtWant{vtS("StorageClassName", tInvalid, "Fast_SSD")}},
		{name: "storage/bad label", build: vtStore(func(s *PipelineStorageProps) { s.Labels = map[string]string{"tier": "hot cold"} }),
			want: []vtWant{vtS("Labels[tier]", tInvalid, "hot cold")}},
		{name: "storage/reserved label", build: vtStore(func(s *PipelineStorageProps) { s.Labels = map[string]string{"app.kubernetes.io/part-of": "x"} }),
			want: []vtWant{vtS("Labels[app.kubernetes.io/part-of]", tForbidden, "app.kubernetes.io/part-of")}},
		{name: "storage/existing with neither", build: vtStore(func(s *PipelineStorageProps) { s.Existing = &ExistingVolume{} }),
			want: []vtWant{vtS("Existing", tRequired, vtNone)}},
		{name: "storage/existing with both", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{NFS: &NFSVolume{Server: "nfs", Path: "/x"}, CSI: &CSIVolume{Driver: "d.example.com", VolumeHandle: "h"}}
		}), want: []vtWant{vtS("Existing", tForbidden, "NFS and CSI")}},
		{name: "storage/nfs without server", build: vtStore(func(s *PipelineStorageProps) { s.Existing = &ExistingVolume{NFS: &NFSVolume{Path: "/exports"}} }),
			want: []vtWant{vtS("Existing.NFS.Server", tRequired, vtNone)}},
		{name: "storage/nfs relative path", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{NFS: &NFSVolume{Server: "nfs.example.com", Path: "exports/data"}}
		}), want: []vtWant{vtS("Existing.NFS.Path", tInvalid, "exports/data")}},
		{name: "storage/csi without driver", build: vtStore(func(s *PipelineStorageProps) { s.Existing = &ExistingVolume{CSI: &CSIVolume{VolumeHandle: "fs-1"}} }),
			want: []vtWant{vtS("Existing.CSI.Driver", tRequired, vtNone)}},
		{name: "storage/csi without handle", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: "efs.csi.aws.com"}}
		}),
			want: []vtWant{vtS("Existing.CSI.VolumeHandle", tRequired, vtNone)}},
		{name: "storage/csi bad driver", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: "efs_csi", VolumeHandle: "fs-1"}}
		}), want: []vtWant{vtS("Existing.CSI.Driver", tInvalid, "efs_csi")}},
		{name: "storage/csi driver longer than 63", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: vtLong(60) + ".example.com", VolumeHandle: "fs-1"}}
		}), want: []vtWant{vtS("Existing.CSI.Driver", tTooLong, vtLong(60)+".example.com")}},
		{name: "storage/csi driver with capitals is valid", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: "EFS.csi.aws.com", VolumeHandle: "fs-1"}}
		})},
		{name: "storage/block with nfs", build: vtStore(func(s *PipelineStorageProps) {
			s.VolumeMode = "Block"
			s.Existing = &ExistingVolume{NFS: &NFSVolume{Server: "nfs", Path: "/exports"}}
		}), want: []vtWant{vtS("VolumeMode", tInvalid, "Block")}},
		{name: "storage/existing csi block is valid", build: vtStore(func(s *PipelineStorageProps) {
			s.VolumeMode, s.AccessModes = "Block", []string{"ReadWriteOnce"}
			s.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: "ebs.csi.aws.com", VolumeHandle: "vol-1", FSType: "ext4"}}
		})},
		{name: "storage/existing nfs is valid", build: vtStore(func(s *PipelineStorageProps) {
			s.StorageClassName = "nfs"
			s.Existing = &ExistingVolume{NFS: &NFSVolume{Server: "10.0.0.2", Path: "/exports/data"}, MountOptions: []string{"nfsvers=4.1"}}
		})},
	}
}

func vtCrossCases() []vtCase {
	rwo := []string{"ReadWriteOnce"}
	const data = "test/p/data"
	return []vtCase{
		{name: "cross/read-write-once by two stages", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			NewProcessorStage(p, "a", ProcessorStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"})})
			NewBatchStage(p, "b", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data", ReadOnly: true})})
		}), want: []vtWant{vtAt(data, "AccessModes", tInvalid, rwo)}},
		{name: "cross/read-write-once by two replicas", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), Replicas: ptr.To[int32](2)})
		}), want: []vtWant{vtAt(data, "AccessModes", tInvalid, rwo)}},
		{name: "cross/read-write-once by batch parallelism 3", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), JobSettings: JobSettings{Parallelism: ptr.To[int32](3)}})
		}), want: []vtWant{vtAt(data, "AccessModes", tInvalid, rwo)}},
		{name: "cross/read-write-once-pod by overlapping scheduled runs", build: vtMounted([]string{"ReadWriteOncePod"}, func(p *Pipeline, d *PipelineStorage) {
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), Schedule: "@hourly", ConcurrencyPolicy: "Allow"})
		}), want: []vtWant{vtAt(data, "AccessModes", tInvalid, []string{"ReadWriteOncePod"})}},
		{name: "cross/read-only-many mounted read-write", build: vtMounted([]string{"ReadOnlyMany"}, func(p *Pipeline, d *PipelineStorage) {
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), Schedule: "@daily"})
		}), want: []vtWant{vtS("Mounts", tForbidden, "data")}},
		{name: "cross/read-write-once pod count overflows", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			NewBatchStage(p, "a", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), JobSettings: JobSettings{Parallelism: ptr.To[int32](2147483647)}})
			NewBatchStage(p, "b", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"})})
		}), want: []vtWant{vtAt(data, "AccessModes", tInvalid, rwo)}},
		{name: "cross/read-write-once overlapping runs count overflows", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), Schedule: "@daily",
				ConcurrencyPolicy: "Allow", JobSettings: JobSettings{Parallelism: ptr.To[int32](1 << 30)}})
		}), want: []vtWant{vtAt(data, "AccessModes", tInvalid, rwo)}},
		{name: "cross/read-only-many mounted read-only by many is valid", build: vtMounted([]string{"ReadOnlyMany"}, func(p *Pipeline, d *PipelineStorage) {
			NewProcessorStage(p, "a", ProcessorStageProps{Workload: vtW(Mount{Storage: d, Path: "/data", ReadOnly: true}), Replicas: ptr.To[int32](3)})
			NewBatchStage(p, "b", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data", ReadOnly: true})})
		})},
		{name: "cross/read-write-once by one pod is valid", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: vtW(Mount{Storage: d, Path: "/a"}, Mount{Storage: d, Path: "/b", SubPath: "b"})})
		})},
		{name: "cross/read-write-many by many is valid", build: vtMounted(nil, func(p *Pipeline, d *PipelineStorage) {
			NewProcessorStage(p, "a", ProcessorStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), Replicas: ptr.To[int32](4)})
			NewScheduledStage(p, "b", ScheduledStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), Schedule: "@daily", ConcurrencyPolicy: "Allow"})
		})},
	}
}

func vtJobCases() []vtCase {
	sched := vtSched
	return []vtCase{
		{name: "job/negative backoff", build: vtJob(func(j *JobSettings) { j.BackoffLimit = ptr.To[int32](-1) }),
			want: []vtWant{vtS("BackoffLimit", tInvalid, int32(-1))}},
		{name: "job/negative parallelism", build: vtJob(func(j *JobSettings) { j.Parallelism = ptr.To[int32](-1) }),
			want: []vtWant{vtS("Parallelism", tInvalid, int32(-1))}},
		{name: "job/negative completions", build: vtJob(func(j *JobSettings) { j.Completions = ptr.To[int32](-3) }),
			want: []vtWant{vtS("Completions", tInvalid, int32(-3))}},
		{name: "job/zero completions", build: vtJob(func(j *JobSettings) { j.Completions = ptr.To[int32](0) }),
			want: []vtWant{vtS("Completions", tInvalid, 0)}},
		{name: "job/fractional deadline", build: vtJob(func(j *JobSettings) { j.ActiveDeadline = 1500 * time.Millisecond }),
			want: []vtWant{vtS("ActiveDeadline", tInvalid, "1.5s")}},
		{name: "job/negative ttl", build: vtJob(func(j *JobSettings) { j.TTLAfterFinished = -5 * time.Second }),
			want: []vtWant{vtS("TTLAfterFinished", tInvalid, "-5s")}},
		{name: "job/fractional ttl", build: vtSched(func(j *ScheduledStageProps) { j.TTLAfterFinished = time.Minute + time.Millisecond }),
			want: []vtWant{vtS("TTLAfterFinished", tInvalid, "1m0.001s")}},
		{name: "job/ttl beyond int32 seconds", build: vtSched(func(j *ScheduledStageProps) { j.TTLAfterFinished = 80 * 365 * 24 * time.Hour }),
			want: []vtWant{vtS("TTLAfterFinished", tInvalid, nil)}},
		{name: "job/valid settings", build: vtJob(func(j *JobSettings) {
			*j = JobSettings{BackoffLimit: ptr.To[int32](0), ActiveDeadline: time.Hour, Parallelism: ptr.To[int32](0), Completions: ptr.To[int32](5)}
		})},
		{name: "job/ttl of a batch stage", build: vtJob(func(j *JobSettings) { j.TTLAfterFinished = 24 * time.Hour }),
			want: []vtWant{vtS("TTLAfterFinished", tForbidden, "24h0m0s").saying("Flux every interval")}},
		{name: "job/ttl of a scheduled stage", build: vtSched(func(s *ScheduledStageProps) { s.TTLAfterFinished = 24 * time.Hour })},
		{name: "job/queue of 63 characters", build: vtJob(func(j *JobSettings) { j.Queue = strings.Repeat("q", 63) })},
		{name: "job/queue of 69 characters", build: vtJob(func(j *JobSettings) { j.Queue = strings.Repeat("q", 69) }),
			want: []vtWant{vtS("Queue", tInvalid, strings.Repeat("q", 69)).saying("must be no more than 63 bytes: the Job's kueue.x-k8s.io/queue-name label")}},
		{name: "job/queue of a scheduled stage of 64 characters", build: vtSched(func(s *ScheduledStageProps) { s.Queue = strings.Repeat("q", 64) }),
			want: []vtWant{vtS("Queue", tInvalid, strings.Repeat("q", 64)).saying("no more than 63 bytes")}},
		{name: "job/queue annotation in a stage's annotations", build: vtWork(func(w *Workload) { w.Annotations = map[string]string{"kueue.x-k8s.io/queue-name": "gpu"} }),
			want: []vtWant{vtS("Annotations[kueue.x-k8s.io/queue-name]", tForbidden, "gpu").saying("its older form")}},
		{name: "job/queue label in a stage's labels", build: vtWork(func(w *Workload) { w.Labels = map[string]string{"kueue.x-k8s.io/queue-name": "gpu"} }),
			want: []vtWant{vtS("Labels[kueue.x-k8s.io/queue-name]", tForbidden, "gpu").saying("queue a stage's Job with JobSettings.Queue")}},
		{name: "job/queue label in a batch stage's labels", build: vtBatch(func(_ *Pipeline, s *BatchStageProps) {
			s.Labels = map[string]string{"kueue.x-k8s.io/queue-name": "gpu"}
		}),
			want: []vtWant{vtS("Labels[kueue.x-k8s.io/queue-name]", tForbidden, "gpu").saying("hold its quota while it waits")}},
		{name: "job/priority label in a storage's labels", build: vtStore(func(s *PipelineStorageProps) { s.Labels = map[string]string{"kueue.x-k8s.io/priority-class": "high"} }),
			want: []vtWant{vtS("Labels[kueue.x-k8s.io/priority-class]", tForbidden, "high").saying("JobSettings.Queue")}},
		{name: "job/queue and priority labels in the pipeline's labels", build: vtPipe(PipelineProps{Labels: map[string]string{"kueue.x-k8s.io/queue-name": "gpu", "kueue.x-k8s.io/priority-class": "high"}}),
			want: []vtWant{
				vtAt("test/p", "Labels[kueue.x-k8s.io/queue-name]", tForbidden, "gpu").saying("the gates included"),
				vtAt("test/p", "Labels[kueue.x-k8s.io/priority-class]", tForbidden, "high").saying("JobSettings.Queue"),
			}},
		{name: "job/queue label in the chart's labels", build: func(c cdk8s.Chart) {
			app := c.Node().Scope().(constructs.Construct)
			NewPipeline(cdk8s.NewChart(app, jsii.String("other"), &cdk8s.ChartProps{Labels: &map[string]*string{"kueue.x-k8s.io/queue-name": jsii.String("gpu")}}), "p", PipelineProps{})
		}, want: []vtWant{vtAt("other", "ChartProps.Labels[kueue.x-k8s.io/queue-name]", tForbidden, "gpu").saying("JobSettings.Queue")}},
		{name: "job/batch mount relative path", build: vtBatch(func(p *Pipeline, s *BatchStageProps) {
			s.Mounts = []Mount{{Storage: NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi"}), Path: "out"}}
		}), want: []vtWant{vtS("Mounts[0].Path", tInvalid, "out")}},

		{name: "scheduled/negative deadline", build: sched(func(s *ScheduledStageProps) { s.ActiveDeadline = -time.Second }),
			want: []vtWant{vtS("ActiveDeadline", tInvalid, "-1s")}},
		{name: "scheduled/negative parallelism", build: sched(func(s *ScheduledStageProps) { s.Parallelism = ptr.To[int32](-2) }),
			want: []vtWant{vtS("Parallelism", tInvalid, int32(-2))}},
		{name: "scheduled/empty schedule", build: sched(func(s *ScheduledStageProps) { s.Schedule = "" }),
			want: []vtWant{vtS("Schedule", tRequired, vtNone)}},
		{name: "scheduled/invalid schedule", build: sched(func(s *ScheduledStageProps) { s.Schedule = "every day" }),
			want: []vtWant{vtS("Schedule", tInvalid, "every day")}},
		{name: "scheduled/minute out of range", build: sched(func(s *ScheduledStageProps) { s.Schedule = "60 2 * * *" }),
			want: []vtWant{vtS("Schedule", tInvalid, "60 2 * * *")}},
		{name: "scheduled/six fields", build: sched(func(s *ScheduledStageProps) { s.Schedule = "0 0 2 * * *" }),
			want: []vtWant{vtS("Schedule", tInvalid, "0 0 2 * * *")}},
		{name: "scheduled/four fields", build: sched(func(s *ScheduledStageProps) { s.Schedule = "0 2 * *" }),
			want: []vtWant{vtS("Schedule", tInvalid, "0 2 * *")}},
		{name: "scheduled/TZ in schedule", build: sched(func(s *ScheduledStageProps) { s.Schedule = "TZ=UTC 0 2 * * *" }),
			want: []vtWant{vtS("Schedule", tForbidden, "TZ=UTC 0 2 * * *")}},
		{name: "scheduled/CRON_TZ in schedule", build: sched(func(s *ScheduledStageProps) { s.Schedule = "CRON_TZ=Europe/Berlin 0 2 * * *" }),
			want: []vtWant{vtS("Schedule", tForbidden, "CRON_TZ=Europe/Berlin 0 2 * * *")}},
		{name: "scheduled/unknown time zone", build: sched(func(s *ScheduledStageProps) { s.TimeZone = "Mars/Olympus_Mons" }),
			want: []vtWant{vtS("TimeZone", tInvalid, "Mars/Olympus_Mons")}},
		{name: "scheduled/Local time zone", build: sched(func(s *ScheduledStageProps) { s.TimeZone = "Local" }),
			want: []vtWant{vtS("TimeZone", tInvalid, "Local")}},
		{name: "scheduled/local time zone lower case", build: sched(func(s *ScheduledStageProps) { s.TimeZone = "local" }),
			want: []vtWant{vtS("TimeZone", tInvalid, "local")}},
		{name: "scheduled/concurrency policy", build: sched(func(s *ScheduledStageProps) { s.ConcurrencyPolicy = "Queue" }),
			want: []vtWant{vtS("ConcurrencyPolicy", tNotSupported, "Queue")}},
		{name: "scheduled/negative successful history", build: sched(func(s *ScheduledStageProps) { s.SuccessfulJobsHistoryLimit = ptr.To[int32](-1) }),
			want: []vtWant{vtS("SuccessfulJobsHistoryLimit", tInvalid, int32(-1))}},
		{name: "scheduled/negative failed history", build: sched(func(s *ScheduledStageProps) { s.FailedJobsHistoryLimit = ptr.To[int32](-1) }),
			want: []vtWant{vtS("FailedJobsHistoryLimit", tInvalid, int32(-1))}},
		{name: "scheduled/negative starting deadline", build: sched(func(s *ScheduledStageProps) { s.StartingDeadline = -10 * time.Second }),
			want: []vtWant{vtS("StartingDeadline", tInvalid, "-10s")}},
		{name: "scheduled/fractional starting deadline", build: sched(func(s *ScheduledStageProps) { s.StartingDeadline = 2500 * time.Millisecond }),
			want: []vtWant{vtS("StartingDeadline", tInvalid, "2.5s")}},
		{name: "scheduled/bad service account", build: sched(func(s *ScheduledStageProps) { s.ServiceAccountName = "cron_runner" }),
			want: []vtWant{vtS("ServiceAccountName", tInvalid, "cron_runner")}},
		{name: "scheduled/valid", build: sched(func(s *ScheduledStageProps) {
			s.Schedule, s.TimeZone, s.ConcurrencyPolicy = "*/15 8-18 * * 1-5", "Europe/Berlin", "Replace"
			s.StartingDeadline, s.Suspend = time.Minute, true
			s.SuccessfulJobsHistoryLimit, s.FailedJobsHistoryLimit = ptr.To[int32](0), ptr.To[int32](10)
		})},
		{name: "scheduled/descriptor", build: sched(func(s *ScheduledStageProps) { s.Schedule = "@weekly" })},
		{name: "scheduled/every hour", build: sched(func(s *ScheduledStageProps) { s.Schedule = "@every 1h30m" })},
		{name: "scheduled/every negative interval", build: sched(func(s *ScheduledStageProps) { s.Schedule = "@every -1h" }),
			want: []vtWant{vtS("Schedule", tInvalid, "@every -1h").saying("positive whole number of seconds")}},
		{name: "scheduled/every zero interval", build: sched(func(s *ScheduledStageProps) { s.Schedule = "@every 0s" }),
			want: []vtWant{vtS("Schedule", tInvalid, "@every 0s").saying("a run every second")}},
		{name: "scheduled/every sub-second interval", build: sched(func(s *ScheduledStageProps) { s.Schedule = "@every 500ms" }),
			want: []vtWant{vtS("Schedule", tInvalid, "@every 500ms")}},
		{name: "scheduled/every fractional interval", build: sched(func(s *ScheduledStageProps) { s.Schedule = "@every 1.5s" }),
			want: []vtWant{vtS("Schedule", tInvalid, "@every 1.5s").saying("drop a fraction of a second")}},
	}
}

// TestValidationReportsAllProblemsAtOnce builds one app with five problems
// in five constructs and checks that Validate and Manifests report all of
// them, and that the message has one line per problem.
func TestValidationReportsAllProblemsAtOnce(t *testing.T) {
	app := cdk8s.NewApp(nil)
	c := cdk8s.NewChart(app, jsii.String("test"), nil)
	p := NewPipeline(c, "p", PipelineProps{Labels: map[string]string{"team": "a b"}})
	NewPipelineStorage(p, "data", PipelineStorageProps{Size: "ten"})
	NewProcessorStage(p, "web", ProcessorStageProps{Workload: Workload{Image: "web:latest"}})
	NewBatchStage(p, "prep", BatchStageProps{Workload: vtW(), JobSettings: JobSettings{BackoffLimit: ptr.To[int32](-1)}})
	NewScheduledStage(p, "nightly", ScheduledStageProps{Workload: vtW(), Schedule: "0 25 * * *"})
	want := []vtWant{
		vtAt("test/p", "Labels[team]", tInvalid, "a b"),
		vtAt("test/p/data", "Size", tInvalid, "ten"),
		vtAt("test/p/web", "Image", tInvalid, "web:latest"),
		vtAt("test/p/prep", "BackoffLimit", tInvalid, int32(-1)),
		vtAt("test/p/nightly", "Schedule", tInvalid, "0 25 * * *"),
	}
	err := Validate(app)
	for _, m := range vtMismatches(err, want) {
		t.Error(m)
	}
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate: %v", err)
	}
	if len(verr.Problems) != 5 {
		t.Fatalf("got %d problems, want 5", len(verr.Problems))
	}

	// Synthesize reports the same problems and renders nothing.
	s, merr := Synthesize(app)
	var mverr *ValidationError
	if !errors.As(merr, &mverr) || s != nil {
		t.Fatalf("Synthesize = %v, %v; want the validation error", s, merr)
	}
	if merr.Error() != err.Error() {
		t.Errorf("Synthesize error\n%s\ndiffers from Validate's\n%s", merr, err)
	}

	// Error: a count, then one line per problem with construct, field,
	// quoted value and detail.
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "5 invalid inputs" {
		t.Errorf("first line %q, want %q", lines[0], "5 invalid inputs")
	}
	if len(lines) != 6 {
		t.Fatalf("Error() has %d lines, want 6:\n%s", len(lines), err)
	}
	for i, p := range verr.Problems {
		line := lines[i+1]
		wantLine := fmt.Sprintf("  - %s: %s: %s: %s: %s", p.Construct, p.Field, p.Type, renderValue(p.Value), p.Detail)
		if line != wantLine {
			t.Errorf("line %d = %q, want %q", i+1, line, wantLine)
		}
		if !strings.Contains(line, fmt.Sprintf("%q", fmt.Sprint(p.Value))) && fmt.Sprint(p.Value) != "-1" {
			t.Errorf("line %d does not quote the value %v: %q", i+1, p.Value, line)
		}
	}
	if !strings.Contains(err.Error(), `  - test/p/data: Size: Invalid value: "ten": must be a Kubernetes quantity`) {
		t.Errorf("Error() lacks the storage line:\n%s", err)
	}
}

// TestProblemString checks the one-line form of problems: as Kubernetes
// renders a field.Error, after the construct path, with the value even
// where field.Error leaves it out.
func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{Construct: "a/b", Type: tRequired, Field: "Image", Detail: "an image"}, "a/b: Image: Required value: an image"},
		{Problem{Construct: "a/b", Type: tInvalid, Field: "Ports[0].Name", Value: "x y", Detail: "bad"}, `a/b: Ports[0].Name: Invalid value: "x y": bad`},
		{Problem{Construct: "a/b", Type: tInvalid, Field: "Replicas", Value: int32(-1), Detail: "must be zero or more"}, "a/b: Replicas: Invalid value: -1: must be zero or more"},
		{Problem{Construct: "a/b", Type: tForbidden, Field: "AccessModes", Value: []string{"A", "B"}, Detail: "d"}, `a/b: AccessModes: Forbidden: ["A","B"]: d`},
		{Problem{Construct: "a/b", Type: tDuplicate, Field: "id", Value: "x", Detail: "d"}, `a/b: id: Duplicate value: "x": d`},
		{Problem{Construct: "a/b", Type: tInvalid, Detail: "d"}, "a/b: Invalid value: d"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		if fe := tc.p.FieldError(); fe.Type != tc.p.Type || fe.Field != tc.p.Field || fe.Detail != tc.p.Detail {
			t.Errorf("FieldError() = %#v", fe)
		}
	}
	one := (&ValidationError{Problems: []Problem{{Construct: "x", Type: tInvalid, Field: "F", Value: 1, Detail: "d"}}}).Error()
	if one != "1 invalid input\n  - x: F: Invalid value: 1: d" {
		t.Errorf("Error() = %q", one)
	}
}

// TestValidationErrorFor checks that a construct's problems are a
// field.ErrorList that field.ErrorMatcher matches on type and field.
func TestValidationErrorFor(t *testing.T) {
	app, _, err := vtRun(vtWeb(func(s *ProcessorStageProps) {
		s.Replicas = ptr.To[int32](-1)
		s.Ports[0].Protocol = "QUIC"
	}))
	_ = app
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate = %v", err)
	}
	want := field.ErrorList{
		field.Invalid(field.NewPath("Replicas"), nil, ""),
		field.NotSupported[string](field.NewPath("Ports").Index(0).Child("Protocol"), nil, nil),
	}
	field.ErrorMatcher{}.ByType().ByField().Test(t, want, verr.For("test/p/s"))
}

// vtSeed declares the seed pipeline of apps/seed.
func vtSeed(chart cdk8s.Chart) {
	p := NewPipeline(chart, "ai-pipeline", PipelineProps{Network: testAPI})
	data := NewPipelineStorage(p, "pipeline-data", PipelineStorageProps{Size: "20Gi"})
	NewProcessorStage(p, "data-processor", ProcessorStageProps{
		Workload: Workload{
			Image:  "ghcr.io/stagecraft-dev/data-processor:1.0.0",
			Env:    []EnvVar{Env("LOG_LEVEL", "info")},
			Mounts: []Mount{{Storage: data, Path: "/data", ReadOnly: true}},
		},
		Replicas:  ptr.To[int32](1),
		Ports:     []Port{{Name: "http", ContainerPort: 8080, ServicePort: 80}},
		Readiness: &Probe{HTTPPath: "/healthz"},
		Ingress:   &Ingress{Host: "data.example.com"},
	})
	NewBatchStage(p, "batch-job", BatchStageProps{
		Workload: Workload{
			Image:  "ghcr.io/stagecraft-dev/batch-worker:1.0.0",
			Args:   []string{"--input", "/data/incoming", "--output", "/data/processed"},
			Mounts: []Mount{{Storage: data, Path: "/data"}},
		},
		JobSettings: JobSettings{BackoffLimit: ptr.To[int32](4)},
	})
	NewScheduledStage(p, "nightly-cleanup", ScheduledStageProps{
		Workload: Workload{
			Image:  "ghcr.io/stagecraft-dev/batch-worker:1.0.0",
			Args:   []string{"--cleanup", "/data/processed", "--older-than", "7d"},
			Mounts: []Mount{{Storage: data, Path: "/data"}},
		},
		Schedule: "0 2 * * *",
	})
	NewProcessorStage(p, "state-store", ProcessorStageProps{
		Workload: Workload{Image: "ghcr.io/stagecraft-dev/state-store:1.0.0"},
		Ports:    []Port{{Name: "tcp", ContainerPort: 6379}},
		Stateful: &Stateful{Volumes: []VolumeClaim{{Name: "state", Path: "/var/lib/state", Size: "5Gi"}}},
	})
}

// TestValidSeedApp checks that the seed pipeline has no problems and that
// its manifests pass the checks of the fuzz targets.
func TestValidSeedApp(t *testing.T) {
	app := cdk8s.NewApp(nil)
	vtSeed(cdk8s.NewChart(app, jsii.String("seed"), nil))
	if err := Validate(app); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	files, err := vtManifests(app)
	if err != nil {
		t.Fatalf("Synthesize: %v", err)
	}
	kinds, errs := fzCheckFiles(files)
	for _, e := range errs {
		t.Error(e)
	}
	want := map[string]int{"Namespace": 1, "PersistentVolumeClaim": 1, "Service": 2, "Deployment": 1, "Ingress": 1, "Job": 1, "CronJob": 1, "StatefulSet": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d objects of kind %s, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
}

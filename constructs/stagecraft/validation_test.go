package stagecraft

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"k8s.io/utils/ptr"
)

// The helpers of this file are prefixed with vt so that they do not clash
// with those of the package's other internal tests.

const vtImage = "ghcr.io/acme/worker:1.0.0"

// vtNone as a wanted Value means the Problem's Value must be nil (the
// problem is a missing value).
type vtNoneT struct{}

var vtNone vtNoneT

// vtWant is one problem a case must produce.
type vtWant struct {
	construct string // exact construct path
	field     string // exact field path; a trailing "*" matches a prefix
	detail    string // substring of Detail; "" is not checked
	value     any    // nil: not checked; vtNone: must be nil; else compared as fmt %v
}

// vtCase builds an app in chart "test" and lists every problem Validate
// must report, in any order. No want means the input is valid.
type vtCase struct {
	name  string
	build func(c cdk8s.Chart)
	want  []vtWant
}

// vtS is a problem of the stage or storage "s" of pipeline "p".
func vtS(field, detail string, value any) vtWant {
	return vtWant{construct: "test/p/s", field: field, detail: detail, value: value}
}

// vtAt is a problem of the construct at path.
func vtAt(path, field, detail string, value any) vtWant {
	return vtWant{construct: path, field: field, detail: detail, value: value}
}

func vtPipeline(c cdk8s.Chart) *Pipeline { return NewPipeline(c, "p", PipelineProps{}) }

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
	if !strings.Contains(p.Detail, w.detail) {
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
	return fmt.Sprintf("%s: %s: value %s: detail containing %q", w.construct, w.field, v, w.detail)
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
					if _, err := vtManifests(app); err != nil {
						issues = append(issues, "Manifests: "+err.Error())
					}
				}
			}
			for _, s := range issues {
				t.Error(s)
			}
		})
	}
}

func vtManifests(app cdk8s.App) (files map[string][]byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return Manifests(app)
}

const (
	msgLabel1123  = "a lowercase RFC 1123 label must consist of"
	msgSub1123    = "a lowercase RFC 1123 subdomain must consist of"
	msgQName      = "name part must consist of"
	msgLabelValue = "a valid label must be an empty string or consist of"
	msgQuantity   = "must be a Kubernetes quantity"
	msgPositive   = "must be greater than zero"
	msgPortRange  = "must be between 1 and 65535, inclusive"
	msgAbsPath    = "must be an absolute path without '..' or ':'"
	msgIDName     = "the id is the name of the stage's Kubernetes objects"
	msgSeconds    = "whole number of seconds"
	msgZeroOrMore = "must be zero or more"
	msgCron       = "not a valid cron schedule"
	msgTZInSched  = "TZ= and CRON_TZ= are not allowed in the schedule; set TimeZone"
	msgAccessMode = `must be one of "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"`
)

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
			want: []vtWant{vtAt(p, "Namespace", msgLabel1123, "Bad_NS")}},
		{name: "pipeline/namespace too long", build: vtPipe(PipelineProps{Namespace: vtLong(64)}),
			want: []vtWant{vtAt(p, "Namespace", "must be no more than 63 characters", vtLong(64))}},
		{name: "pipeline/namespace from invalid id", build: func(c cdk8s.Chart) { NewPipeline(c, "Bad", PipelineProps{}) },
			want: []vtWant{vtAt("test/Bad", "id", msgLabel1123, "Bad")}},
		{name: "pipeline/reserved label", build: vtPipe(PipelineProps{Labels: map[string]string{"app.kubernetes.io/name": "x"}}),
			want: []vtWant{vtAt(p, "Labels[app.kubernetes.io/name]", "this recommended label is set by stagecraft", "app.kubernetes.io/name")}},
		{name: "pipeline/reserved label managed-by", build: vtPipe(PipelineProps{Labels: map[string]string{"app.kubernetes.io/managed-by": "helm"}}),
			want: []vtWant{vtAt(p, "Labels[app.kubernetes.io/managed-by]", "set by stagecraft", "app.kubernetes.io/managed-by")}},
		{name: "pipeline/label key invalid", build: vtPipe(PipelineProps{Labels: map[string]string{"bad key": "x"}}),
			want: []vtWant{vtAt(p, "Labels[bad key]", msgQName, "bad key")}},
		{name: "pipeline/label key prefix invalid", build: vtPipe(PipelineProps{Labels: map[string]string{"Bad_Prefix/team": "x"}}),
			want: []vtWant{vtAt(p, "Labels[Bad_Prefix/team]", "prefix part", "Bad_Prefix/team")}},
		{name: "pipeline/label value invalid", build: vtPipe(PipelineProps{Labels: map[string]string{"team": "bad value!"}}),
			want: []vtWant{vtAt(p, "Labels[team]", msgLabelValue, "bad value!")}},
		{name: "pipeline/label value too long", build: vtPipe(PipelineProps{Labels: map[string]string{"team": vtLong(64)}}),
			want: []vtWant{vtAt(p, "Labels[team]", "must be no more than 63 bytes", vtLong(64))}},
		{name: "pipeline/defaults pull policy", build: vtPipe(PipelineProps{Defaults: Defaults{ImagePullPolicy: "Sometimes"}}),
			want: []vtWant{vtAt(p, "Defaults.ImagePullPolicy", `must be one of "Always", "IfNotPresent", "Never"`, "Sometimes")}},
		{name: "pipeline/defaults quantity unparseable", build: vtPipe(PipelineProps{Defaults: Defaults{Resources: Resources{CPURequest: "lots"}}}),
			want: []vtWant{vtAt(p, "Defaults.Resources.CPURequest", msgQuantity, "lots")}},
		{name: "pipeline/defaults request above library limit", build: vtPipe(PipelineProps{Defaults: Defaults{Resources: Resources{MemoryRequest: "512Mi"}}}),
			want: []vtWant{vtAt(p, "Defaults.Resources.MemoryRequest", "request must not be above the limit 256Mi (MemoryLimit)", "512Mi")}},
		{name: "pipeline/defaults node selector", build: vtPipe(PipelineProps{Defaults: Defaults{NodeSelector: map[string]string{"gpu": "a b"}}}),
			want: []vtWant{vtAt(p, "Defaults.NodeSelector[gpu]", msgLabelValue, "a b")}},
		{name: "pipeline/defaults service account", build: vtPipe(PipelineProps{Defaults: Defaults{ServiceAccountName: "Bad_SA"}}),
			want: []vtWant{vtAt(p, "Defaults.ServiceAccountName", msgSub1123, "Bad_SA")}},
		{name: "pipeline/same namespace twice", build: func(c cdk8s.Chart) {
			NewPipeline(c, "a", PipelineProps{Namespace: "shared"})
			NewPipeline(c, "b", PipelineProps{Namespace: "shared"})
		}, want: []vtWant{vtAt("test/b", "Namespace", "pipeline test/a already uses this namespace", "shared")}},
		{name: "pipeline/namespace of one equals id of other", build: func(c cdk8s.Chart) {
			NewPipeline(c, "a", PipelineProps{})
			NewPipeline(c, "b", PipelineProps{Namespace: "a"})
		}, want: []vtWant{vtAt("test/b", "Namespace", "already uses this namespace", "a")}},
		{name: "pipeline/duplicate id", build: func(c cdk8s.Chart) {
			NewPipeline(c, "p", PipelineProps{})
			NewPipeline(c, "p", PipelineProps{Namespace: "other"})
		}, want: []vtWant{vtAt(p, "id", "a construct with this id already exists in test", "p")}},
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
			vtAt("test/p/"+vtLong(64), "id", "must be no more than 63 characters", vtLong(64)),
			vtAt("test/p/"+vtLong(64), "id", msgIDName, vtLong(64)),
		}},
		{name: "id/deployment 63 characters is valid", build: func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), vtLong(63), ProcessorStageProps{Workload: vtW()})
		}},
		{name: "id/statefulset 53 characters", build: func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), vtLong(53), ProcessorStageProps{Workload: vtW(), Stateful: &Stateful{}})
		}, want: []vtWant{vtAt("test/p/"+vtLong(53), "id", "must be no more than 52 characters", vtLong(53))}},
		{name: "id/cronjob 53 characters", build: func(c cdk8s.Chart) {
			NewScheduledStage(vtPipeline(c), vtLong(53), ScheduledStageProps{Workload: vtW(), Schedule: "@daily"})
		}, want: []vtWant{vtAt("test/p/"+vtLong(53), "id", "must be no more than 52 characters", vtLong(53))}},
		{name: "id/cronjob 52 characters is valid", build: func(c cdk8s.Chart) {
			NewScheduledStage(vtPipeline(c), vtLong(52), ScheduledStageProps{Workload: vtW(), Schedule: "@daily"})
		}},
		{name: "id/job 64 characters", build: func(c cdk8s.Chart) {
			NewBatchStage(vtPipeline(c), vtLong(64), BatchStageProps{Workload: vtW()})
		}, want: []vtWant{
			vtAt("test/p/"+vtLong(64), "id", "must be no more than 63 characters", vtLong(64)),
			vtAt("test/p/"+vtLong(64), "id", msgIDName, vtLong(64)),
		}},
		{name: "id/storage 64 characters", build: func(c cdk8s.Chart) {
			NewPipelineStorage(vtPipeline(c), vtLong(64), PipelineStorageProps{Size: "1Gi"})
		}, want: []vtWant{
			vtAt("test/p/"+vtLong(64), "id", "must be no more than 63 characters", vtLong(64)),
			vtAt("test/p/"+vtLong(64), "id", msgIDName, vtLong(64)),
		}},
		{name: "id/not a DNS label", build: func(c cdk8s.Chart) {
			NewBatchStage(vtPipeline(c), "Data_Prep", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{
			vtAt("test/p/Data_Prep", "id", msgLabel1123, "Data_Prep"),
			vtAt("test/p/Data_Prep", "id", msgIDName, "Data_Prep"),
		}},
		{name: "id/duplicate stage ids in a pipeline", build: func(c cdk8s.Chart) {
			p := vtPipeline(c)
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: vtW()})
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{vtS("id", "a construct with this id already exists in test/p; ids (and so resource names) must be unique", "s")}},
		{name: "id/duplicate across nested construct", build: func(c cdk8s.Chart) {
			p := vtPipeline(c)
			NewPipelineStorage(p, "s", PipelineStorageProps{Size: "1Gi"})
			NewBatchStage(constructs.NewConstruct(p, jsii.String("group")), "s", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{vtAt("test/p/group/s", "id", "already exists in test/p", "s")}},
		{name: "id/duplicate inside nested construct", build: func(c cdk8s.Chart) {
			g := constructs.NewConstruct(vtPipeline(c), jsii.String("group"))
			NewBatchStage(g, "s", BatchStageProps{Workload: vtW()})
			NewBatchStage(g, "s", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{vtAt("test/p/group/s", "id", "a construct with this id already exists in its scope", "s")}},
		{name: "id/stage in nested construct is valid", build: func(c cdk8s.Chart) {
			g := constructs.NewConstruct(vtPipeline(c), jsii.String("group"))
			NewScheduledStage(g, "s", ScheduledStageProps{Workload: vtW(), Schedule: "@hourly"})
		}},
		{name: "id/processor outside any pipeline", build: func(c cdk8s.Chart) {
			NewProcessorStage(c, "orphan", ProcessorStageProps{Workload: vtW()})
		}, want: []vtWant{vtAt("test/orphan", "id", "a stage must be created inside a Pipeline", "orphan")}},
		{name: "id/batch in a plain construct outside any pipeline", build: func(c cdk8s.Chart) {
			NewBatchStage(constructs.NewConstruct(c, jsii.String("group")), "orphan", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{vtAt("test/group/orphan", "id", "a stage must be created inside a Pipeline", "orphan")}},
		{name: "id/storage outside any pipeline", build: func(c cdk8s.Chart) {
			NewPipelineStorage(c, "orphan", PipelineStorageProps{Size: "1Gi"})
		}, want: []vtWant{vtAt("test/orphan", "id", "a stage must be created inside a Pipeline", "orphan")}},
	}
}

func vtWorkloadCases() []vtCase {
	return []vtCase{
		// Labels, annotations, selectors, accounts.
		{name: "workload/reserved label", build: vtWork(func(w *Workload) { w.Labels = map[string]string{"app.kubernetes.io/component": "x"} }),
			want: []vtWant{vtS("Labels[app.kubernetes.io/component]", "set by stagecraft", "app.kubernetes.io/component")}},
		{name: "workload/label key invalid", build: vtWork(func(w *Workload) { w.Labels = map[string]string{"-team": "x"} }),
			want: []vtWant{vtS("Labels[-team]", msgQName, "-team")}},
		{name: "workload/label value too long", build: vtWork(func(w *Workload) { w.Labels = map[string]string{"team": vtLong(64)} }),
			want: []vtWant{vtS("Labels[team]", "must be no more than 63 bytes", vtLong(64))}},
		{name: "workload/annotation key invalid", build: vtWork(func(w *Workload) { w.Annotations = map[string]string{"bad key": "x"} }),
			want: []vtWant{vtS("Annotations[bad key]", msgQName, "bad key")}},
		{name: "workload/annotations too large", build: vtWork(func(w *Workload) {
			w.Annotations = map[string]string{"big": strings.Repeat("x", 256*1024)}
		}), want: []vtWant{vtS("Annotations", "annotations may hold at most 256 KiB in all", "262147 bytes")}},
		{name: "workload/node selector value", build: vtWork(func(w *Workload) { w.NodeSelector = map[string]string{"zone": "eu west"} }),
			want: []vtWant{vtS("NodeSelector[zone]", msgLabelValue, "eu west")}},
		{name: "workload/service account", build: vtWork(func(w *Workload) { w.ServiceAccountName = "Runner" }),
			want: []vtWant{vtS("ServiceAccountName", msgSub1123, "Runner")}},
		{name: "workload/pull policy", build: vtWork(func(w *Workload) { w.ImagePullPolicy = "always" }),
			want: []vtWant{vtS("ImagePullPolicy", `must be one of "Always", "IfNotPresent", "Never"`, "always")}},

		// Quantities and requests above limits.
		{name: "resources/cpu unparseable", build: vtWork(func(w *Workload) { w.Resources.CPURequest = "two" }),
			want: []vtWant{vtS("Resources.CPURequest", msgQuantity, "two")}},
		{name: "resources/memory limit zero", build: vtWork(func(w *Workload) { w.Resources.MemoryLimit = "0" }),
			want: []vtWant{vtS("Resources.MemoryLimit", msgPositive, "0")}},
		{name: "resources/ephemeral request negative", build: vtWork(func(w *Workload) { w.Resources.EphemeralStorageRequest = "-1Gi" }),
			want: []vtWant{vtS("Resources.EphemeralStorageRequest", msgPositive, "-1Gi")}},
		{name: "resources/cpu limit unparseable", build: vtWork(func(w *Workload) { w.Resources.CPULimit = "1 core" }),
			want: []vtWant{vtS("Resources.CPULimit", msgQuantity, "1 core")}},
		{name: "resources/cpu request above limit", build: vtWork(func(w *Workload) { w.Resources.CPURequest, w.Resources.CPULimit = "2", "1" }),
			want: []vtWant{vtS("Resources.CPURequest", "request must not be above the limit 1 (CPULimit)", "2")}},
		{name: "resources/memory request above default limit", build: vtWork(func(w *Workload) { w.Resources.MemoryRequest = "1Gi" }),
			want: []vtWant{vtS("Resources.MemoryRequest", "request must not be above the limit 256Mi (MemoryLimit)", "1Gi")}},
		{name: "resources/ephemeral request above limit", build: vtWork(func(w *Workload) {
			w.Resources.EphemeralStorageRequest, w.Resources.EphemeralStorageLimit = "3Gi", "2Gi"
		}), want: []vtWant{vtS("Resources.EphemeralStorageRequest", "request must not be above the limit 2Gi (EphemeralStorageLimit)", "3Gi")}},
		{name: "resources/own limit below default request", build: vtWork(func(w *Workload) { w.Resources.CPULimit = "50m" }),
			want: []vtWant{vtS("Resources.CPULimit", "limit must not be below the request 100m, the default CPURequest; set CPURequest too", "50m")}},
		{name: "resources/stage request above pipeline default limit", build: func(c cdk8s.Chart) {
			p := NewPipeline(c, "p", PipelineProps{Defaults: Defaults{Resources: Resources{CPULimit: "1500m"}}})
			NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: vtImage, Resources: Resources{CPURequest: "2"}}})
		}, want: []vtWant{vtS("Resources.CPURequest", "request must not be above the limit 1500m (CPULimit)", "2")}},
		{name: "resources/stage request within pipeline default limit is valid", build: func(c cdk8s.Chart) {
			p := NewPipeline(c, "p", PipelineProps{Defaults: Defaults{Resources: Resources{MemoryLimit: "8Gi"}}})
			NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: vtImage, Resources: Resources{MemoryRequest: "4Gi"}}})
		}},

		// Security.
		{name: "security/negative user", build: vtWork(func(w *Workload) { w.Security.RunAsUser = -1 }),
			want: []vtWant{vtS("Security.RunAsUser", "must be a user or group ID from 1 to 2147483647", int64(-1))}},
		{name: "security/group out of range", build: vtWork(func(w *Workload) { w.Security.FSGroup = 2147483648 }),
			want: []vtWant{vtS("Security.FSGroup", "must be a user or group ID", int64(2147483648))}},
		{name: "security/scratch size", build: vtWork(func(w *Workload) { w.Security.ScratchSize = "big" }),
			want: []vtWant{vtS("Security.ScratchSize", msgQuantity, "big")}},
		{name: "security/scratch path relative", build: vtWork(func(w *Workload) { w.Security.ScratchPaths = []string{"tmp"} }),
			want: []vtWant{vtS("Security.ScratchPaths[0]", msgAbsPath, "tmp")}},
		{name: "security/scratch paths duplicate", build: vtWork(func(w *Workload) { w.Security.ScratchPaths = []string{"/tmp", "/tmp/"} }),
			want: []vtWant{vtS("Security.ScratchPaths[1]", "mount path is already used by Security.ScratchPaths[0]", "/tmp/")}},

		// Images.
		{name: "image/empty", build: vtWork(func(w *Workload) { w.Image = "" }),
			want: []vtWant{vtS("Image", "required: a container image with a tag or digest", vtNone)}},
		{name: "image/invalid reference", build: vtWork(func(w *Workload) { w.Image = "Acme/Worker:1.0" }),
			want: []vtWant{vtS("Image", "not a valid image reference", "Acme/Worker:1.0")}},
		{name: "image/invalid reference allowed latest", build: vtWork(func(w *Workload) { w.Image, w.AllowLatestTag = "worker:1.0:2", true }),
			want: []vtWant{vtS("Image", "not a valid image reference", "worker:1.0:2")}},
		{name: "image/no tag", build: vtWork(func(w *Workload) { w.Image = "ghcr.io/acme/worker" }),
			want: []vtWant{vtS("Image", "image has no tag or digest", "ghcr.io/acme/worker")}},
		{name: "image/latest", build: vtWork(func(w *Workload) { w.Image = "worker:latest" }),
			want: []vtWant{vtS("Image", `the tag "latest" changes under a running pipeline`, "worker:latest")}},
		{name: "image/latest on batch", build: vtBatch(func(_ *Pipeline, s *BatchStageProps) { s.Image = "redis:latest" }),
			want: []vtWant{vtS("Image", `the tag "latest"`, "redis:latest")}},
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
			want: []vtWant{vtS("Env[0].Name", "required: the variable's name", vtNone)}},
		{name: "env/invalid name", build: env(Env("LOG_LEVEL", "info"), Env("1LEVEL", "x")),
			want: []vtWant{vtS("Env[1].Name", "a valid environment variable name must consist of", "1LEVEL")}},
		{name: "env/duplicate names", build: env(Env("A", "1"), Env("B", "2"), Env("A", "3")),
			want: []vtWant{vtS("Env[2].Name", "duplicates Env[0]; each variable may be set once", "A")}},
		{name: "env/configmap and secret", build: env(EnvVar{Name: "A", ConfigMap: &KeyRef{Name: "cm", Key: "k"}, Secret: &KeyRef{Name: "s", Key: "k"}}),
			want: []vtWant{vtS("Env[0]", "set at most one of ConfigMap and Secret", "A")}},
		{name: "env/value with secret", build: env(EnvVar{Name: "A", Value: "v", Secret: &KeyRef{Name: "s", Key: "k"}}),
			want: []vtWant{vtS("Env[0].Value", "cannot also have a literal Value", "v")}},
		{name: "env/secret missing key", build: env(EnvFromSecret("A", "creds", "")),
			want: []vtWant{vtS("Env[0].Secret.Key", "required: the key to read", vtNone)}},
		{name: "env/configmap missing name", build: env(EnvFromConfigMap("A", "", "k")),
			want: []vtWant{vtS("Env[0].ConfigMap.Name", "required: the ConfigMap's name", vtNone)}},
		{name: "env/secret bad name", build: env(EnvFromSecret("A", "Creds", "k")),
			want: []vtWant{vtS("Env[0].Secret.Name", msgSub1123, "Creds")}},
		{name: "env/configmap bad key", build: env(EnvFromConfigMap("A", "cm", "bad key")),
			want: []vtWant{vtS("Env[0].ConfigMap.Key", "a valid config key must consist of", "bad key")}},
		{name: "env/duplicate on scheduled", build: vtSched(func(s *ScheduledStageProps) { s.Env = []EnvVar{Env("X", "1"), EnvFromSecret("X", "s", "k")} }),
			want: []vtWant{vtS("Env[1].Name", "duplicates Env[0]", "X")}},

		{name: "mount/nil storage", build: vtWork(func(w *Workload) { w.Mounts = []Mount{{Path: "/data"}} }),
			want: []vtWant{vtS("Mounts[0].Storage", "required: the PipelineStorage to mount", vtNone)}},
		{name: "mount/relative path", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "data"}} }),
			want: []vtWant{vtS("Mounts[0].Path", msgAbsPath, "data")}},
		{name: "mount/dot-dot path", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/data/../etc"}} }),
			want: []vtWant{vtS("Mounts[0].Path", msgAbsPath, "/data/../etc")}},
		{name: "mount/colon path", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/data:rw"}} }),
			want: []vtWant{vtS("Mounts[0].Path", msgAbsPath, "/data:rw")}},
		{name: "mount/empty path", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d}} }),
			want: []vtWant{vtS("Mounts[0].Path", "required: an absolute path in the container", vtNone)}},
		{name: "mount/duplicate paths", build: vtData(func(d *PipelineStorage) []Mount {
			return []Mount{{Storage: d, Path: "/data"}, {Storage: d, Path: "/data/", SubPath: "x"}}
		}), want: []vtWant{vtS("Mounts[1].Path", "mount path is already used by Mounts[0].Path", "/data/")}},
		{name: "mount/clash with default scratch tmp", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/tmp"}} }),
			want: []vtWant{vtS("Mounts[0].Path", "mount path is already used by Security.ScratchPaths[0]", "/tmp")}},
		{name: "mount/clash with explicit scratch path", build: vtProc(func(p *Pipeline, s *ProcessorStageProps) {
			s.Security.ScratchPaths = []string{"/tmp", "/cache"}
			s.Mounts = []Mount{{Storage: NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi"}), Path: "/cache/"}}
		}), want: []vtWant{vtS("Mounts[0].Path", "mount path is already used by Security.ScratchPaths[1]", "/cache/")}},
		{name: "mount/absolute subpath", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/data", SubPath: "/abs"}} }),
			want: []vtWant{vtS("Mounts[0].SubPath", "must be a relative path inside the volume, without '..'", "/abs")}},
		{name: "mount/dot-dot subpath", build: vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/data", SubPath: "a/../../b"}} }),
			want: []vtWant{vtS("Mounts[0].SubPath", "without '..'", "a/../../b")}},
		{name: "mount/storage of another pipeline", build: func(c cdk8s.Chart) {
			other := NewPipelineStorage(NewPipeline(c, "q", PipelineProps{}), "data", PipelineStorageProps{Size: "1Gi"})
			NewBatchStage(vtPipeline(c), "s", BatchStageProps{Workload: vtW(Mount{Storage: other, Path: "/data"})})
		}, want: []vtWant{vtS("Mounts[0].Storage", `storage belongs to pipeline "test/q" (namespace "q"); a stage can mount only storage of its own pipeline "test/p"`, "test/q/data")}},
		{name: "mount/storage outside any pipeline", build: func(c cdk8s.Chart) {
			orphan := NewPipelineStorage(c, "data", PipelineStorageProps{Size: "1Gi"})
			NewBatchStage(vtPipeline(c), "s", BatchStageProps{Workload: vtW(Mount{Storage: orphan, Path: "/data"})})
		}, want: []vtWant{
			vtAt("test/data", "id", "a stage must be created inside a Pipeline", "data"),
			vtS("Mounts[0].Storage", "pipeline", nil),
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
			want: []vtWant{vtS("Readiness.Port", `the container exposes no port of that name; allowed: "http"`, "metrics")}},
		{name: "probe/port without ports", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) { s.Startup = &Probe{Port: "http"} }),
			want: []vtWant{vtS("Startup.Port", "allowed: none (the stage has no Ports)", "http")}},
		{name: "probe/http path without slash", build: vtWeb(func(s *ProcessorStageProps) { s.Liveness = &Probe{HTTPPath: "healthz"} }),
			want: []vtWant{vtS("Liveness.HTTPPath", "must start with '/'", "healthz")}},
		{name: "probe/http without ports", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) { s.Readiness = &Probe{HTTPPath: "/healthz"} }),
			want: []vtWant{vtS("Readiness", "an HTTP or TCP probe needs a container port; add Ports or use Command", "no port")}},
		{name: "probe/http and command", build: vtWeb(func(s *ProcessorStageProps) { s.Liveness = &Probe{HTTPPath: "/h", Command: []string{"true"}} }),
			want: []vtWant{vtS("Liveness", "set HTTPPath or Command, not both", "/h")}},
		{name: "probe/negative delay", build: vtWeb(func(s *ProcessorStageProps) { s.Readiness = &Probe{InitialDelay: -time.Second} }),
			want: []vtWant{vtS("Readiness.InitialDelay", "must be zero or a positive "+msgSeconds, "-1s")}},
		{name: "probe/fractional period", build: vtWeb(func(s *ProcessorStageProps) { s.Readiness = &Probe{Period: 1500 * time.Millisecond} }),
			want: []vtWant{vtS("Readiness.Period", msgSeconds, "1.5s")}},
		{name: "probe/fractional timeout", build: vtWeb(func(s *ProcessorStageProps) { s.Startup = &Probe{Timeout: 500 * time.Millisecond} }),
			want: []vtWant{vtS("Startup.Timeout", msgSeconds, "500ms")}},
		{name: "probe/negative failure threshold", build: vtWeb(func(s *ProcessorStageProps) { s.Liveness = &Probe{FailureThreshold: -1} }),
			want: []vtWant{vtS("Liveness.FailureThreshold", "must be zero (default 3) or positive", int32(-1))}},
		{name: "probe/delay beyond int32 seconds", build: vtWeb(func(s *ProcessorStageProps) { s.Readiness = &Probe{InitialDelay: 80 * 365 * 24 * time.Hour} }),
			want: []vtWant{vtS("Readiness.InitialDelay", "seconds", nil)}},
		{name: "probe/command without ports is valid", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Liveness = &Probe{Command: []string{"/bin/check"}, Period: 30 * time.Second}
		})},

		// Ports.
		{name: "port/empty name", build: ports(Port{ContainerPort: 8080}),
			want: []vtWant{vtS("Ports[0].Name", "required: a port name", vtNone)}},
		{name: "port/name too long", build: ports(Port{Name: "metrics-endpoint", ContainerPort: 9090}),
			want: []vtWant{vtS("Ports[0].Name", "must be no more than 15 characters", "metrics-endpoint")}},
		{name: "port/name invalid characters", build: ports(Port{Name: "http_alt", ContainerPort: 8080}),
			want: []vtWant{vtS("Ports[0].Name", "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)", "http_alt")}},
		{name: "port/name without letter", build: ports(Port{Name: "8080", ContainerPort: 8080}),
			want: []vtWant{vtS("Ports[0].Name", "must contain at least one letter", "8080")}},
		{name: "port/duplicate names", build: ports(Port{Name: "http", ContainerPort: 8080}, Port{Name: "http", ContainerPort: 8081}),
			want: []vtWant{vtS("Ports[1].Name", "duplicates Ports[0].Name", "http")}},
		{name: "port/number zero", build: ports(Port{Name: "http"}),
			want: []vtWant{vtS("Ports[0].ContainerPort", msgPortRange, int32(0))}},
		{name: "port/number 70000", build: ports(Port{Name: "http", ContainerPort: 70000}),
			want: []vtWant{vtS("Ports[0].ContainerPort", msgPortRange, int32(70000))}},
		{name: "port/service port 70000", build: ports(Port{Name: "http", ContainerPort: 8080, ServicePort: 70000}),
			want: []vtWant{vtS("Ports[0].ServicePort", msgPortRange, int32(70000))}},
		{name: "port/service port negative", build: ports(Port{Name: "http", ContainerPort: 8080, ServicePort: -80}),
			want: []vtWant{vtS("Ports[0].ServicePort", msgPortRange, int32(-80))}},
		{name: "port/duplicate container ports", build: ports(Port{Name: "a", ContainerPort: 8080, ServicePort: 80}, Port{Name: "b", ContainerPort: 8080, ServicePort: 81}),
			want: []vtWant{vtS("Ports[1].ContainerPort", "duplicates Ports[0].ContainerPort", int32(8080))}},
		{name: "port/duplicate service ports", build: ports(Port{Name: "a", ContainerPort: 8080, ServicePort: 80}, Port{Name: "b", ContainerPort: 8081, ServicePort: 80}),
			want: []vtWant{vtS("Ports[1].ServicePort", "duplicates the Service port of Ports[0]", int32(80))}},
		{name: "port/duplicate service port by default", build: ports(Port{Name: "a", ContainerPort: 8080, ServicePort: 80}, Port{Name: "b", ContainerPort: 80}),
			want: []vtWant{vtS("Ports[1]*", "Service port of Ports[0]", nil)}},
		{name: "port/same service port for tcp and udp is valid", build: ports(
			Port{Name: "dns-tcp", ContainerPort: 5353, ServicePort: 53, Protocol: "TCP"},
			Port{Name: "dns-udp", ContainerPort: 5353, ServicePort: 53, Protocol: "UDP"})},
		{name: "port/protocol", build: ports(Port{Name: "http", ContainerPort: 8080, Protocol: "HTTP"}),
			want: []vtWant{vtS("Ports[0].Protocol", `must be "TCP", "UDP" or "SCTP"`, "HTTP")}},
		{name: "processor/negative replicas", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) { s.Replicas = ptr.To[int32](-1) }),
			want: []vtWant{vtS("Replicas", msgZeroOrMore, int32(-1))}},

		// Ingress.
		{name: "ingress/without ports", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) { s.Ingress = &Ingress{Host: "a.example.com"} }),
			want: []vtWant{vtS("Ingress", "an Ingress routes to a Service port; add Ports", "no port")}},
		{name: "ingress/unknown port", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Port: "grpc"} }),
			want: []vtWant{vtS("Ingress.Port", `the stage has no port of that name; allowed: "http"`, "grpc")}},
		{name: "ingress/tls without host", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{TLSSecretName: "tls"} }),
			want: []vtWant{vtS("Ingress.Host", "required: TLS needs the host name the certificate is for", vtNone)}},
		{name: "ingress/bad host", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Host: "API.example.com"} }),
			want: []vtWant{vtS("Ingress.Host", msgSub1123, "API.example.com")}},
		{name: "ingress/bad path type", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{PathType: "Regex"} }),
			want: []vtWant{vtS("Ingress.PathType", `must be "Prefix", "Exact" or "ImplementationSpecific"`, "Regex")}},
		{name: "ingress/relative path", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Path: "api"} }),
			want: []vtWant{vtS("Ingress.Path", "must start with '/'", "api")}},
		{name: "ingress/bad tls secret", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Host: "a.example.com", TLSSecretName: "TLS"} }),
			want: []vtWant{vtS("Ingress.TLSSecretName", msgSub1123, "TLS")}},
		{name: "ingress/bad class", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{ClassName: "Nginx"} }),
			want: []vtWant{vtS("Ingress.ClassName", msgSub1123, "Nginx")}},
		{name: "ingress/bad annotation", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Annotations: map[string]string{"nginx/": "x"}} }),
			want: []vtWant{
				vtS("Ingress.Annotations[nginx/]", "name part must be non-empty", "nginx/"),
				vtS("Ingress.Annotations[nginx/]", "name part must consist of", "nginx/"),
			}},
		{name: "ingress/ip host", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Host: "10.0.0.1"} }),
			want: []vtWant{vtS("Ingress.Host", "IP", "10.0.0.1")}},
		{name: "ingress/path with double slash", build: vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Path: "/api//v1"} }),
			want: []vtWant{vtS("Ingress.Path", "//", "/api//v1")}},
		{name: "ingress/wildcard host with tls is valid", build: vtWeb(func(s *ProcessorStageProps) {
			s.Ingress = &Ingress{Host: "*.example.com", TLSSecretName: "wildcard-tls", PathType: "Exact", Path: "/v1", ClassName: "nginx"}
		})},

		// Stateful volumes.
		{name: "stateful/volume without name", build: stateful(VolumeClaim{Path: "/state", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Name", "required: the claim template's name", vtNone)}},
		{name: "stateful/volume bad name", build: stateful(VolumeClaim{Name: "State", Path: "/state", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Name", msgLabel1123, "State")}},
		{name: "stateful/volume without size", build: stateful(VolumeClaim{Name: "state", Path: "/state"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Size", "required: each replica's capacity", vtNone)}},
		{name: "stateful/volume bad size", build: stateful(VolumeClaim{Name: "state", Path: "/state", Size: "-5Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Size", msgPositive, "-5Gi")}},
		{name: "stateful/volume without path", build: stateful(VolumeClaim{Name: "state", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Path", "required: an absolute path in the container", vtNone)}},
		{name: "stateful/volume relative path", build: stateful(VolumeClaim{Name: "state", Path: "state", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Path", msgAbsPath, "state")}},
		{name: "stateful/volume access mode", build: stateful(VolumeClaim{Name: "state", Path: "/state", Size: "1Gi", AccessModes: []string{"ReadWrite"}}),
			want: []vtWant{vtS("Stateful.Volumes[0].AccessModes[0]", msgAccessMode, "ReadWrite")}},
		{name: "stateful/volume storage class", build: stateful(VolumeClaim{Name: "state", Path: "/state", Size: "1Gi", StorageClassName: "SSD"}),
			want: []vtWant{vtS("Stateful.Volumes[0].StorageClassName", msgSub1123, "SSD")}},
		{name: "stateful/duplicate volume names", build: stateful(VolumeClaim{Name: "state", Path: "/a", Size: "1Gi"}, VolumeClaim{Name: "state", Path: "/b", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[1].Name", "listed twice", "state")}},
		{name: "stateful/volume path clashes with scratch", build: stateful(VolumeClaim{Name: "state", Path: "/tmp", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Path", "already used by Security.ScratchPaths[0]", "/tmp")}},
		{name: "stateful/volume access modes read-write-once-pod combined", build: stateful(VolumeClaim{Name: "state", Path: "/state", Size: "1Gi", AccessModes: []string{"ReadWriteOncePod", "ReadWriteOnce"}}),
			want: []vtWant{vtS("Stateful.Volumes[0].AccessModes", "ReadWriteOncePod cannot be combined", nil)}},
		{name: "stateful/volume named like the scratch volume", build: stateful(VolumeClaim{Name: "scratch", Path: "/state", Size: "1Gi"}),
			want: []vtWant{vtS("Stateful.Volumes[0].Name", "", "scratch")}},
		{name: "stateful/valid", build: stateful(VolumeClaim{Name: "state", Path: "/state", Size: "1Gi", AccessModes: []string{"ReadWriteOncePod"}, StorageClassName: "fast"})},
	}
}

func vtStorageCases() []vtCase {
	return []vtCase{
		{name: "storage/missing size", build: vtStore(func(s *PipelineStorageProps) { s.Size = "" }),
			want: []vtWant{vtS("Size", `required: the capacity, for example "100Gi"`, vtNone)}},
		{name: "storage/size unparseable", build: vtStore(func(s *PipelineStorageProps) { s.Size = "100GB" }),
			want: []vtWant{vtS("Size", msgQuantity, "100GB")}},
		{name: "storage/size zero", build: vtStore(func(s *PipelineStorageProps) { s.Size = "0Gi" }),
			want: []vtWant{vtS("Size", msgPositive, "0Gi")}},
		{name: "storage/bad access mode", build: vtStore(func(s *PipelineStorageProps) { s.AccessModes = []string{"ReadWriteMany", "RWX"} }),
			want: []vtWant{vtS("AccessModes[1]", msgAccessMode, "RWX")}},
		{name: "storage/duplicate access mode", build: vtStore(func(s *PipelineStorageProps) { s.AccessModes = []string{"ReadWriteMany", "ReadWriteMany"} }),
			want: []vtWant{vtS("AccessModes[1]", "listed twice", "ReadWriteMany")}},
		{name: "storage/read-write-once-pod combined", build: vtStore(func(s *PipelineStorageProps) { s.AccessModes = []string{"ReadWriteOncePod", "ReadOnlyMany"} }),
			want: []vtWant{vtS("AccessModes", "ReadWriteOncePod cannot be combined with other access modes", []string{"ReadWriteOncePod", "ReadOnlyMany"})}},
		{name: "storage/bad volume mode", build: vtStore(func(s *PipelineStorageProps) { s.VolumeMode = "Raw" }),
			want: []vtWant{vtS("VolumeMode", `must be "Filesystem" or "Block"`, "Raw")}},
		{name: "storage/bad storage class", build: vtStore(func(s *PipelineStorageProps) { s.StorageClassName = "Fast_SSD" }),
			want: []vtWant{vtS("StorageClassName", msgSub1123, "Fast_SSD")}},
		{name: "storage/bad label", build: vtStore(func(s *PipelineStorageProps) { s.Labels = map[string]string{"tier": "hot cold"} }),
			want: []vtWant{vtS("Labels[tier]", msgLabelValue, "hot cold")}},
		{name: "storage/reserved label", build: vtStore(func(s *PipelineStorageProps) { s.Labels = map[string]string{"app.kubernetes.io/part-of": "x"} }),
			want: []vtWant{vtS("Labels[app.kubernetes.io/part-of]", "set by stagecraft", "app.kubernetes.io/part-of")}},
		{name: "storage/existing with neither", build: vtStore(func(s *PipelineStorageProps) { s.Existing = &ExistingVolume{} }),
			want: []vtWant{vtS("Existing", "required: set NFS or CSI", vtNone)}},
		{name: "storage/existing with both", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{NFS: &NFSVolume{Server: "nfs", Path: "/x"}, CSI: &CSIVolume{Driver: "d.example.com", VolumeHandle: "h"}}
		}), want: []vtWant{vtS("Existing", "set exactly one of NFS and CSI", "NFS and CSI")}},
		{name: "storage/nfs without server", build: vtStore(func(s *PipelineStorageProps) { s.Existing = &ExistingVolume{NFS: &NFSVolume{Path: "/exports"}} }),
			want: []vtWant{vtS("Existing.NFS.Server", "required: the NFS server's host name or address", vtNone)}},
		{name: "storage/nfs relative path", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{NFS: &NFSVolume{Server: "nfs.example.com", Path: "exports/data"}}
		}), want: []vtWant{vtS("Existing.NFS.Path", "must be the absolute exported path", "exports/data")}},
		{name: "storage/csi without driver", build: vtStore(func(s *PipelineStorageProps) { s.Existing = &ExistingVolume{CSI: &CSIVolume{VolumeHandle: "fs-1"}} }),
			want: []vtWant{vtS("Existing.CSI.Driver", "required: the CSI driver's name", vtNone)}},
		{name: "storage/csi without handle", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: "efs.csi.aws.com"}}
		}),
			want: []vtWant{vtS("Existing.CSI.VolumeHandle", "required: the volume's handle", vtNone)}},
		{name: "storage/csi bad driver", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: "efs_csi", VolumeHandle: "fs-1"}}
		}), want: []vtWant{vtS("Existing.CSI.Driver", "RFC 1123 subdomain", "efs_csi")}},
		{name: "storage/csi driver longer than 63", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: vtLong(60) + ".example.com", VolumeHandle: "fs-1"}}
		}), want: []vtWant{vtS("Existing.CSI.Driver", "63", vtLong(60)+".example.com")}},
		{name: "storage/csi driver with capitals is valid", build: vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: "EFS.csi.aws.com", VolumeHandle: "fs-1"}}
		})},
		{name: "storage/block with nfs", build: vtStore(func(s *PipelineStorageProps) {
			s.VolumeMode = "Block"
			s.Existing = &ExistingVolume{NFS: &NFSVolume{Server: "nfs", Path: "/exports"}}
		}), want: []vtWant{vtS("VolumeMode", "an NFS volume is a filesystem; use Filesystem", "Block")}},
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
		}), want: []vtWant{vtAt(data, "AccessModes", "storage is mounted by 2 pods at once (test/p/a, test/p/b), but ReadWriteOnce attaches to one node", rwo)}},
		{name: "cross/read-write-once by two replicas", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), Replicas: ptr.To[int32](2)})
		}), want: []vtWant{vtAt(data, "AccessModes", "mounted by 2 pods at once (test/p/s (2 pods))", rwo)}},
		{name: "cross/read-write-once by batch parallelism 3", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), JobSettings: JobSettings{Parallelism: ptr.To[int32](3)}})
		}), want: []vtWant{vtAt(data, "AccessModes", "mounted by 3 pods at once (test/p/s (3 pods))", rwo)}},
		{name: "cross/read-write-once-pod by overlapping scheduled runs", build: vtMounted([]string{"ReadWriteOncePod"}, func(p *Pipeline, d *PipelineStorage) {
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), Schedule: "@hourly", ConcurrencyPolicy: "Allow"})
		}), want: []vtWant{vtAt(data, "AccessModes", "mounted by 2 pods at once (test/p/s (2 pods)), but ReadWriteOncePod attaches", []string{"ReadWriteOncePod"})}},
		{name: "cross/read-only-many mounted read-write", build: vtMounted([]string{"ReadOnlyMany"}, func(p *Pipeline, d *PipelineStorage) {
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), Schedule: "@daily"})
		}), want: []vtWant{vtS("Mounts", "the storage's only access mode is ReadOnlyMany; mount it with ReadOnly: true", "data")}},
		{name: "cross/read-write-once pod count overflows", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			NewBatchStage(p, "a", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), JobSettings: JobSettings{Parallelism: ptr.To[int32](2147483647)}})
			NewBatchStage(p, "b", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"})})
		}), want: []vtWant{vtAt(data, "AccessModes", "storage is mounted by", rwo)}},
		{name: "cross/read-write-once overlapping runs count overflows", build: vtMounted(rwo, func(p *Pipeline, d *PipelineStorage) {
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"}), Schedule: "@daily",
				ConcurrencyPolicy: "Allow", JobSettings: JobSettings{Parallelism: ptr.To[int32](1 << 30)}})
		}), want: []vtWant{vtAt(data, "AccessModes", "storage is mounted by", rwo)}},
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
			want: []vtWant{vtS("BackoffLimit", msgZeroOrMore, int32(-1))}},
		{name: "job/negative parallelism", build: vtJob(func(j *JobSettings) { j.Parallelism = ptr.To[int32](-1) }),
			want: []vtWant{vtS("Parallelism", msgZeroOrMore, int32(-1))}},
		{name: "job/negative completions", build: vtJob(func(j *JobSettings) { j.Completions = ptr.To[int32](-3) }),
			want: []vtWant{vtS("Completions", msgZeroOrMore, int32(-3))}},
		{name: "job/zero completions", build: vtJob(func(j *JobSettings) { j.Completions = ptr.To[int32](0) }),
			want: []vtWant{vtS("Completions", "must be at least 1 (leave it unset for a single completion)", 0)}},
		{name: "job/fractional deadline", build: vtJob(func(j *JobSettings) { j.ActiveDeadline = 1500 * time.Millisecond }),
			want: []vtWant{vtS("ActiveDeadline", "must be zero (none) or a positive "+msgSeconds, "1.5s")}},
		{name: "job/negative ttl", build: vtJob(func(j *JobSettings) { j.TTLAfterFinished = -5 * time.Second }),
			want: []vtWant{vtS("TTLAfterFinished", "must be zero (keep the Job) or a positive "+msgSeconds, "-5s")}},
		{name: "job/fractional ttl", build: vtJob(func(j *JobSettings) { j.TTLAfterFinished = time.Minute + time.Millisecond }),
			want: []vtWant{vtS("TTLAfterFinished", msgSeconds, "1m0.001s")}},
		{name: "job/ttl beyond int32 seconds", build: vtJob(func(j *JobSettings) { j.TTLAfterFinished = 80 * 365 * 24 * time.Hour }),
			want: []vtWant{vtS("TTLAfterFinished", "seconds", nil)}},
		{name: "job/valid settings", build: vtJob(func(j *JobSettings) {
			*j = JobSettings{BackoffLimit: ptr.To[int32](0), ActiveDeadline: time.Hour, TTLAfterFinished: 24 * time.Hour, Parallelism: ptr.To[int32](0), Completions: ptr.To[int32](5)}
		})},
		{name: "job/batch mount relative path", build: vtBatch(func(p *Pipeline, s *BatchStageProps) {
			s.Mounts = []Mount{{Storage: NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi"}), Path: "out"}}
		}), want: []vtWant{vtS("Mounts[0].Path", msgAbsPath, "out")}},

		{name: "scheduled/negative deadline", build: sched(func(s *ScheduledStageProps) { s.ActiveDeadline = -time.Second }),
			want: []vtWant{vtS("ActiveDeadline", msgSeconds, "-1s")}},
		{name: "scheduled/negative parallelism", build: sched(func(s *ScheduledStageProps) { s.Parallelism = ptr.To[int32](-2) }),
			want: []vtWant{vtS("Parallelism", msgZeroOrMore, int32(-2))}},
		{name: "scheduled/empty schedule", build: sched(func(s *ScheduledStageProps) { s.Schedule = "" }),
			want: []vtWant{vtS("Schedule", `required: a cron schedule such as "0 2 * * *" or "@daily"`, vtNone)}},
		{name: "scheduled/invalid schedule", build: sched(func(s *ScheduledStageProps) { s.Schedule = "every day" }),
			want: []vtWant{vtS("Schedule", msgCron, "every day")}},
		{name: "scheduled/minute out of range", build: sched(func(s *ScheduledStageProps) { s.Schedule = "60 2 * * *" }),
			want: []vtWant{vtS("Schedule", msgCron, "60 2 * * *")}},
		{name: "scheduled/six fields", build: sched(func(s *ScheduledStageProps) { s.Schedule = "0 0 2 * * *" }),
			want: []vtWant{vtS("Schedule", msgCron, "0 0 2 * * *")}},
		{name: "scheduled/four fields", build: sched(func(s *ScheduledStageProps) { s.Schedule = "0 2 * *" }),
			want: []vtWant{vtS("Schedule", msgCron, "0 2 * *")}},
		{name: "scheduled/TZ in schedule", build: sched(func(s *ScheduledStageProps) { s.Schedule = "TZ=UTC 0 2 * * *" }),
			want: []vtWant{vtS("Schedule", msgTZInSched, "TZ=UTC 0 2 * * *")}},
		{name: "scheduled/CRON_TZ in schedule", build: sched(func(s *ScheduledStageProps) { s.Schedule = "CRON_TZ=Europe/Berlin 0 2 * * *" }),
			want: []vtWant{vtS("Schedule", msgTZInSched, "CRON_TZ=Europe/Berlin 0 2 * * *")}},
		{name: "scheduled/unknown time zone", build: sched(func(s *ScheduledStageProps) { s.TimeZone = "Mars/Olympus_Mons" }),
			want: []vtWant{vtS("TimeZone", "unknown time zone; use an IANA name", "Mars/Olympus_Mons")}},
		{name: "scheduled/Local time zone", build: sched(func(s *ScheduledStageProps) { s.TimeZone = "Local" }),
			want: []vtWant{vtS("TimeZone", "must be an IANA time zone name", "Local")}},
		{name: "scheduled/local time zone lower case", build: sched(func(s *ScheduledStageProps) { s.TimeZone = "local" }),
			want: []vtWant{vtS("TimeZone", "time zone", "local")}},
		{name: "scheduled/concurrency policy", build: sched(func(s *ScheduledStageProps) { s.ConcurrencyPolicy = "Queue" }),
			want: []vtWant{vtS("ConcurrencyPolicy", `must be "Forbid", "Allow" or "Replace"`, "Queue")}},
		{name: "scheduled/negative successful history", build: sched(func(s *ScheduledStageProps) { s.SuccessfulJobsHistoryLimit = ptr.To[int32](-1) }),
			want: []vtWant{vtS("SuccessfulJobsHistoryLimit", msgZeroOrMore, int32(-1))}},
		{name: "scheduled/negative failed history", build: sched(func(s *ScheduledStageProps) { s.FailedJobsHistoryLimit = ptr.To[int32](-1) }),
			want: []vtWant{vtS("FailedJobsHistoryLimit", msgZeroOrMore, int32(-1))}},
		{name: "scheduled/negative starting deadline", build: sched(func(s *ScheduledStageProps) { s.StartingDeadline = -10 * time.Second }),
			want: []vtWant{vtS("StartingDeadline", "must be zero (the default, 1h) or a positive "+msgSeconds, "-10s")}},
		{name: "scheduled/fractional starting deadline", build: sched(func(s *ScheduledStageProps) { s.StartingDeadline = 2500 * time.Millisecond }),
			want: []vtWant{vtS("StartingDeadline", msgSeconds, "2.5s")}},
		{name: "scheduled/bad service account", build: sched(func(s *ScheduledStageProps) { s.ServiceAccountName = "cron_runner" }),
			want: []vtWant{vtS("ServiceAccountName", msgSub1123, "cron_runner")}},
		{name: "scheduled/valid", build: sched(func(s *ScheduledStageProps) {
			s.Schedule, s.TimeZone, s.ConcurrencyPolicy = "*/15 8-18 * * 1-5", "Europe/Berlin", "Replace"
			s.StartingDeadline, s.Suspend = time.Minute, true
			s.SuccessfulJobsHistoryLimit, s.FailedJobsHistoryLimit = ptr.To[int32](0), ptr.To[int32](10)
		})},
		{name: "scheduled/descriptor", build: sched(func(s *ScheduledStageProps) { s.Schedule = "@weekly" })},
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
		vtAt("test/p", "Labels[team]", msgLabelValue, "a b"),
		vtAt("test/p/data", "Size", msgQuantity, "ten"),
		vtAt("test/p/web", "Image", `the tag "latest"`, "web:latest"),
		vtAt("test/p/prep", "BackoffLimit", msgZeroOrMore, int32(-1)),
		vtAt("test/p/nightly", "Schedule", msgCron, "0 25 * * *"),
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

	// Manifests reports the same problems and renders nothing.
	files, merr := Manifests(app)
	var mverr *ValidationError
	if !errors.As(merr, &mverr) || files != nil {
		t.Fatalf("Manifests = %d files, %v; want the validation error", len(files), merr)
	}
	if merr.Error() != err.Error() {
		t.Errorf("Manifests error\n%s\ndiffers from Validate's\n%s", merr, err)
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
		wantLine := fmt.Sprintf("  - %s: %s: invalid value %s: %s", p.Construct, p.Field, quote(p.Value), p.Detail)
		if line != wantLine {
			t.Errorf("line %d = %q, want %q", i+1, line, wantLine)
		}
		if !strings.Contains(line, fmt.Sprintf("%q", fmt.Sprint(p.Value))) && fmt.Sprint(p.Value) != "-1" {
			t.Errorf("line %d does not quote the value %v: %q", i+1, p.Value, line)
		}
	}
	if !strings.Contains(err.Error(), `  - test/p/data: Size: invalid value "ten": must be a Kubernetes quantity`) {
		t.Errorf("Error() lacks the storage line:\n%s", err)
	}
}

// TestProblemString checks the one-line form of problems with and without
// a value.
func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{Construct: "a/b", Field: "Image", Detail: "required: an image"}, "a/b: Image: required: an image"},
		{Problem{Construct: "a/b", Field: "Ports[0].Name", Value: "x y", Detail: "bad"}, `a/b: Ports[0].Name: invalid value "x y": bad`},
		{Problem{Construct: "a/b", Field: "Replicas", Value: int32(-1), Detail: "must be zero or more"}, "a/b: Replicas: invalid value -1: must be zero or more"},
		{Problem{Construct: "a/b", Field: "AccessModes", Value: []string{"A", "B"}, Detail: "d"}, `a/b: AccessModes: invalid value ["A" "B"]: d`},
		{Problem{Construct: "a/b", Detail: "d"}, "a/b: d"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	one := (&ValidationError{Problems: []Problem{{Construct: "x", Field: "F", Detail: "d"}}}).Error()
	if one != "1 invalid input\n  - x: F: d" {
		t.Errorf("Error() = %q", one)
	}
}

// vtSeed declares the seed pipeline of apps/seed.
func vtSeed(chart cdk8s.Chart) {
	p := NewPipeline(chart, "ai-pipeline", PipelineProps{})
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
	files, err := Manifests(app)
	if err != nil {
		t.Fatalf("Manifests: %v", err)
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

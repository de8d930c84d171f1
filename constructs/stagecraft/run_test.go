package stagecraft_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// chain is a pipeline of three batch stages, a -> b -> c through storage,
// and a processor that calls nothing and reads nothing; edit changes the
// props of one stage.
func chain(edit func(name string, p *stagecraft.BatchStageProps)) func(cdk8s.Chart) {
	return chainOver(edit, nil)
}

// chainOver is chain with an override of the stages over names.
func chainOver(edit func(name string, p *stagecraft.BatchStageProps), over map[string]func(runtime.Object)) func(cdk8s.Chart) {
	return func(chart cdk8s.Chart) {
		p := stagecraft.NewPipeline(chart, "runs", stagecraft.PipelineProps{Network: testAPI})
		ab := stagecraft.NewPipelineStorage(p, "ab", stagecraft.PipelineStorageProps{Size: "1Gi"})
		bc := stagecraft.NewPipelineStorage(p, "bc", stagecraft.PipelineStorageProps{Size: "1Gi"})
		for _, s := range []struct {
			name    string
			in, out *stagecraft.PipelineStorage
		}{{"a", nil, ab}, {"b", ab, bc}, {"c", bc, nil}} {
			props := stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: "ghcr.io/acme/" + s.name + ":1.0.0"}}
			if s.in != nil {
				props.Mounts = append(props.Mounts, stagecraft.Mount{Storage: s.in, Path: "/in", ReadOnly: true})
			}
			if s.out != nil {
				props.Mounts = append(props.Mounts, stagecraft.Mount{Storage: s.out, Path: "/out"})
			}
			edit(s.name, &props)
			st := stagecraft.NewBatchStage(p, s.name, props)
			if f := over[s.name]; f != nil {
				st.Override(f)
			}
		}
		stagecraft.NewProcessorStage(p, "web", stagecraft.ProcessorStageProps{
			Workload: stagecraft.Workload{Image: "ghcr.io/acme/web:1.0.0"},
			Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
		})
	}
}

// runNames returns the Job name of each stage.
func runNames(t *testing.T, define func(cdk8s.Chart)) map[string]string {
	t.Helper()
	m := stagetest.SynthChart(t, "c", define)
	out := map[string]string{}
	for _, j := range m.Objects("Job") {
		out[j.GetLabels()["app.kubernetes.io/name"]] = j.GetName()
	}
	return out
}

// TestRunIdentity: an unchanged stage keeps its Job's name; a changed one
// and every run after it get new names; nothing else does.
func TestRunIdentity(t *testing.T) {
	t.Parallel()
	same := func(string, *stagecraft.BatchStageProps) {}
	base := runNames(t, chain(same))
	if again := runNames(t, chain(same)); again["a"] != base["a"] || again["b"] != base["b"] || again["c"] != base["c"] {
		t.Fatalf("an unchanged app renamed its Jobs: %v, then %v", base, again)
	}
	for name, j := range base {
		if !strings.HasPrefix(j, name+"-") || len(j) != len(name)+9 {
			t.Errorf("Job of %s is %q, want %s-<8 hex digits>", name, j, name)
		}
	}
	for _, tc := range []struct {
		name    string
		edit    func(string, *stagecraft.BatchStageProps)
		renamed string
	}{
		{"image of a", bump("a"), "abc"},
		{"image of b", bump("b"), "bc"},
		{"image of c", bump("c"), "c"},
		{"revision of b", func(n string, p *stagecraft.BatchStageProps) {
			if n == "b" {
				p.Revision = "2026-11-29"
			}
		}, "bc"},
		{"labels of c (metadata of the Job and its pods)", func(n string, p *stagecraft.BatchStageProps) {
			if n == "c" {
				p.Labels = map[string]string{"team": "ml"}
			}
		}, "c"},
	} {
		got := runNames(t, chain(tc.edit))
		var renamed string
		for _, n := range []string{"a", "b", "c"} {
			if got[n] != base[n] {
				renamed += n
			}
		}
		if renamed != tc.renamed {
			t.Errorf("%s: renamed the Jobs of %q, want %q (%v -> %v)", tc.name, renamed, tc.renamed, base, got)
		}
	}
}

func bump(stage string) func(string, *stagecraft.BatchStageProps) {
	return func(n string, p *stagecraft.BatchStageProps) {
		if n == stage {
			p.Image = strings.Replace(p.Image, ":1.0.0", ":1.1.0", 1)
		}
	}
}

// TestRunIdentityFollowers: what names an upstream Job follows its new
// name: the gate of the stage after it, the Role that lets the gate read
// the Job, and the gate Job's own name.
func TestRunIdentityFollowers(t *testing.T) {
	t.Parallel()
	before := stagetest.SynthChart(t, "c", chain(func(string, *stagecraft.BatchStageProps) {}))
	m := stagetest.SynthChart(t, "c", chain(bump("a")))
	a := m.FindStage(t, "Job", "runs", "a").GetName()
	b := m.FindStage(t, "Job", "runs", "b").GetName()
	gate := m.FindStage(t, "Job", "runs", "b-gate")
	args := fmt.Sprint(m.Get(t, gate, "spec.template.spec.containers[0].args"))
	if !strings.Contains(args, "--job="+b+" --upstream="+a+" ") {
		t.Errorf("b's gate runs %v, want it to release %s after %s", args, b, a)
	}
	role := m.Find(t, "Role", "runs", "b-gate")
	if names := fmt.Sprint(m.Get(t, role, "rules[0].resourceNames")); names != "["+a+" "+b+"]" {
		t.Errorf("b's gate Role names %v, want [%s %s]", names, a, b)
	}
	if old := before.FindStage(t, "Job", "runs", "b-gate").GetName(); old == gate.GetName() {
		t.Errorf("b's gate kept its name %s for a new run of b", old)
	}
	if !strings.Contains(m.Diagram, "Job "+a) {
		t.Errorf("the diagram does not name the run %s:\n%s", a, m.Diagram)
	}
}

// TestFixedJobName keeps the stage's name, and the runs after a fixed
// name run again when it does.
func TestFixedJobName(t *testing.T) {
	t.Parallel()
	fixed := func(n string, p *stagecraft.BatchStageProps) { p.FixedJobName = n == "b" }
	before := runNames(t, chain(fixed))
	for _, tc := range []struct {
		name  string
		stage string
	}{{"upstream of the fixed name changed", "a"}, {"the fixed name's own stage changed", "b"}} {
		got := runNames(t, chain(func(n string, p *stagecraft.BatchStageProps) {
			fixed(n, p)
			bump(tc.stage)(n, p)
		}))
		if got["b"] != "b" {
			t.Errorf("%s: b's Job is %q, want the fixed name b", tc.name, got["b"])
		}
		if !strings.HasPrefix(got["c"], "c-") || got["c"] == before["c"] {
			t.Errorf("%s: c's Job is %q, was %q: want a new run of c after the new run of b", tc.name, got["c"], before["c"])
		}
	}
}

// TestRunNameLimits: the Job's name adds the digest, and an Indexed job's
// pods add their index; the id must leave room for both.
func TestRunNameLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		id    string
		props stagecraft.BatchStageProps
		ok    bool
	}{
		{"54 characters", strings.Repeat("a", 54), stagecraft.BatchStageProps{}, true},
		{"55 characters", strings.Repeat("a", 55), stagecraft.BatchStageProps{}, false},
		{"63 characters with a fixed name", strings.Repeat("a", 63), stagecraft.BatchStageProps{FixedJobName: true}, true},
		{"indexed, 100 shards, 51 characters", strings.Repeat("a", 51), stagecraft.BatchStageProps{JobSettings: stagecraft.JobSettings{Indexed: true, Completions: ptr.To[int32](100)}}, true},
		{"indexed, 100 shards, 52 characters", strings.Repeat("a", 52), stagecraft.BatchStageProps{JobSettings: stagecraft.JobSettings{Indexed: true, Completions: ptr.To[int32](100)}}, false},
		{"indexed fixed name, 10 shards, 61 characters", strings.Repeat("a", 61), stagecraft.BatchStageProps{FixedJobName: true, JobSettings: stagecraft.JobSettings{Indexed: true, Completions: ptr.To[int32](10)}}, true},
		{"indexed fixed name, 11 shards, 61 characters", strings.Repeat("a", 61), stagecraft.BatchStageProps{FixedJobName: true, JobSettings: stagecraft.JobSettings{Indexed: true, Completions: ptr.To[int32](11)}}, false},
	} {
		var err error
		stagetest.Do(func() {
			app := cdk8s.NewApp(nil)
			p := stagecraft.NewPipeline(cdk8s.NewChart(app, jsii.String("c"), nil), "p", stagecraft.PipelineProps{Network: testAPI})
			tc.props.Image = "ghcr.io/acme/x:1.0.0"
			stagecraft.NewBatchStage(p, tc.id, tc.props)
			err = stagecraft.Validate(app)
		})
		var verr *stagecraft.ValidationError
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && !errors.As(err, &verr):
			t.Errorf("%s: want a problem, got %v", tc.name, err)
		case !tc.ok:
			field.ErrorMatcher{}.ByType().ByField().Test(t, field.ErrorList{field.TooLong(field.NewPath("id"), "", 0)}, verr.For("c/p/"+tc.id))
		}
	}
}

// TestGoldenImageBump pins what an image bump of one batch stage changes
// in the output: its Job is a new run, and so is the Job that runs after
// it; the waits and Roles that name them follow; nothing else changes.
func TestGoldenImageBump(t *testing.T) {
	t.Parallel()
	v1 := stagetest.SynthChart(t, "c", chain(func(string, *stagecraft.BatchStageProps) {}))
	v2 := stagetest.SynthChart(t, "c", chain(bump("b")))
	stagetest.AssertGolden(t, "run-image-bump", []byte(stagetest.Diff(v1.YAML, v2.YAML)))
}

// TestRunIdentityFields: every field of a Job that the API server
// (ValidateJobUpdate) or Kueue's webhook refuses to change in place
// renames the run, and the runs after it; every field they update in place
// renames nothing.
func TestRunIdentityFields(t *testing.T) {
	t.Parallel()
	indexed := func(p *stagecraft.BatchStageProps) {
		p.Indexed, p.Completions, p.Parallelism = true, ptr.To[int32](4), ptr.To[int32](2)
		p.BackoffLimitPerIndex, p.MaxFailedIndexes = ptr.To[int32](1), ptr.To[int32](2)
	}
	base := func(n string, p *stagecraft.BatchStageProps) {
		if n == "b" {
			indexed(p)
		}
	}
	then := func(f func(*stagecraft.BatchStageProps)) func(string, *stagecraft.BatchStageProps) {
		return func(n string, p *stagecraft.BatchStageProps) {
			base(n, p)
			if n == "b" {
				f(p)
			}
		}
	}
	jobOf := func(f func(*batchv1.Job)) map[string]func(runtime.Object) {
		return map[string]func(runtime.Object){"b": func(o runtime.Object) {
			if j, ok := o.(*batchv1.Job); ok {
				f(j)
			}
		}}
	}
	before := runNames(t, chain(base))
	for _, tc := range []struct {
		name    string
		edit    func(string, *stagecraft.BatchStageProps)
		over    map[string]func(runtime.Object)
		renamed string
	}{
		// Immutable: a new run.
		{"pod template (image)", then(func(p *stagecraft.BatchStageProps) { p.Image = "ghcr.io/acme/b:2.0.0" }), nil, "bc"},
		{"pod template (stage labels)", then(func(p *stagecraft.BatchStageProps) { p.Labels = map[string]string{"team": "ml"} }), nil, "bc"},
		{"completions", then(func(p *stagecraft.BatchStageProps) { p.Completions = ptr.To[int32](8) }), nil, "bc"},
		{"completionMode", func(n string, p *stagecraft.BatchStageProps) {
			base(n, p)
			if n == "b" {
				p.Indexed, p.BackoffLimitPerIndex, p.MaxFailedIndexes, p.Parallelism = false, nil, nil, nil
			}
		}, nil, "bc"},
		{"podFailurePolicy (fail-fast exit codes)", then(func(p *stagecraft.BatchStageProps) { p.FailFastExitCodes = []int32{3} }), nil, "bc"},
		{"podFailurePolicy (disruptions)", then(func(p *stagecraft.BatchStageProps) { p.CountDisruptions = true }), nil, "bc"},
		{"backoffLimitPerIndex", then(func(p *stagecraft.BatchStageProps) { p.BackoffLimitPerIndex = ptr.To[int32](2) }), nil, "bc"},
		{"Kueue queue", then(func(p *stagecraft.BatchStageProps) { p.Queue = "gpu" }), nil, "bc"},
		{"successPolicy", base, jobOf(func(j *batchv1.Job) {
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](2)}}}
		}), "bc"},
		{"managedBy", base, jobOf(func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("kueue.x-k8s.io/multikueue") }), "bc"},
		{"Kueue priority class label", base, jobOf(func(j *batchv1.Job) { j.Labels["kueue.x-k8s.io/priority-class"] = "high" }), "bc"},
		{"revision", then(func(p *stagecraft.BatchStageProps) { p.Revision = "2" }), nil, "bc"},
		// Mutable: updated in place, the same run.
		{"backoffLimit", func(n string, p *stagecraft.BatchStageProps) {
			base(n, p)
			if n == "a" {
				p.BackoffLimit = ptr.To[int32](2)
			}
		}, nil, ""},
		{"parallelism", then(func(p *stagecraft.BatchStageProps) { p.Parallelism = ptr.To[int32](4) }), nil, ""},
		{"maxFailedIndexes", then(func(p *stagecraft.BatchStageProps) { p.MaxFailedIndexes = ptr.To[int32](3) }), nil, ""},
		{"activeDeadlineSeconds", then(func(p *stagecraft.BatchStageProps) { p.ActiveDeadline = time.Hour }), nil, ""},
		{"podReplacementPolicy", base, jobOf(func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed) }), ""},
		{"the Job's own labels and annotations", base, jobOf(func(j *batchv1.Job) {
			j.Labels["team"] = "ml"
			j.Annotations = map[string]string{"example.com/owner": "ml"}
		}), ""},
	} {
		got := runNames(t, chainOver(tc.edit, tc.over))
		var renamed string
		for _, n := range []string{"a", "b", "c"} {
			if got[n] != before[n] {
				renamed += n
			}
		}
		if renamed != tc.renamed {
			t.Errorf("%s: renamed the Jobs of %q, want %q (%v -> %v)", tc.name, renamed, tc.renamed, before, got)
		}
	}
}

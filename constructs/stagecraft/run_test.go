package stagecraft_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// chain is a pipeline of three batch stages, a -> b -> c through storage,
// and a processor that calls nothing and reads nothing; edit changes the
// props of one stage.
func chain(edit func(name string, p *stagecraft.BatchStageProps)) func(cdk8s.Chart) {
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
			stagecraft.NewBatchStage(p, s.name, props)
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
		{"backoff limit of a", func(n string, p *stagecraft.BatchStageProps) {
			if n == "a" {
				p.BackoffLimit = ptr.To[int32](2)
			}
		}, "abc"},
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

// TestFixedJobName keeps the stage's name.
func TestFixedJobName(t *testing.T) {
	t.Parallel()
	got := runNames(t, chain(func(n string, p *stagecraft.BatchStageProps) {
		p.FixedJobName = n == "b"
		if n == "a" {
			p.Image = "ghcr.io/acme/a:2.0.0"
		}
	}))
	if got["b"] != "b" {
		t.Errorf("b's Job is %q, want the fixed name b", got["b"])
	}
	if !strings.HasPrefix(got["c"], "c-") {
		t.Errorf("c's Job is %q", got["c"])
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

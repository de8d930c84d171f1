package stagecraft_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// chartApp builds an app whose chart has props, declared by define.
func chartApp(props *cdk8s.ChartProps, define func(cdk8s.Chart)) (app cdk8s.App) {
	stagetest.Do(func() {
		app = cdk8s.NewApp(nil)
		define(cdk8s.NewChart(app, jsii.String("c"), props))
	})
	return app
}

// TestChartLabelsOnEveryObject: a chart's labels go on every object of its
// pipelines, as cdk8s puts them on every object of a chart.
func TestChartLabelsOnEveryObject(t *testing.T) {
	t.Parallel()
	props := &cdk8s.ChartProps{Labels: &map[string]*string{"team": jsii.String("search")}}
	m := stagetest.SynthApp(t, chartApp(props, wired))
	objs := m.Objects("")
	if len(objs) < 10 {
		t.Fatalf("only %d objects", len(objs))
	}
	for _, o := range objs {
		if got := o.GetLabels()["team"]; got != "search" {
			t.Errorf("%s %s/%s: label team = %q, want the chart's \"search\"", o.GetKind(), o.GetNamespace(), o.GetName(), got)
		}
	}
}

// TestChartNamespace: a chart's namespace is the namespace of its
// pipelines that set none; a pipeline that sets another is a problem.
func TestChartNamespace(t *testing.T) {
	t.Parallel()
	props := &cdk8s.ChartProps{Namespace: jsii.String("search")}
	m := stagetest.SynthApp(t, chartApp(props, func(chart cdk8s.Chart) {
		stagecraft.NewPipeline(chart, "p", stagecraft.PipelineProps{Network: testAPI})
	}))
	if ns := m.Find(t, "Namespace", "", "search"); ns == nil {
		t.Fatal("no Namespace search")
	}
	if pol := m.Find(t, "NetworkPolicy", "search", "default-deny"); pol == nil {
		t.Fatal("no default-deny in namespace search")
	}
	for _, tc := range []struct {
		ns   string
		want field.ErrorList
	}{
		{"search", nil},
		{"other", field.ErrorList{field.Invalid(field.NewPath("Namespace"), "other", "")}},
	} {
		app := chartApp(props, func(chart cdk8s.Chart) {
			stagecraft.NewPipeline(chart, "p", stagecraft.PipelineProps{Namespace: tc.ns})
		})
		var err error
		stagetest.Do(func() { err = stagecraft.Validate(app) })
		var verr *stagecraft.ValidationError
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("namespace %s: %v", tc.ns, err)
		case tc.want != nil && !errors.As(err, &verr):
			t.Errorf("namespace %s: want a problem, got %v", tc.ns, err)
		case tc.want != nil:
			field.ErrorMatcher{}.ByType().ByField().ByValue().Test(t, tc.want, verr.For("c/p"))
		}
	}
}

// TestChartLabelsValidated: a chart's labels land on stagecraft's objects,
// so invalid ones are a problem of the chart.
func TestChartLabelsValidated(t *testing.T) {
	t.Parallel()
	props := &cdk8s.ChartProps{Labels: &map[string]*string{"team": jsii.String("a b")}}
	app := chartApp(props, func(chart cdk8s.Chart) {
		stagecraft.NewPipeline(chart, "p", stagecraft.PipelineProps{Network: testAPI})
	})
	var err error
	stagetest.Do(func() { err = stagecraft.Validate(app) })
	var verr *stagecraft.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate = %v", err)
	}
	want := field.ErrorList{field.Invalid(field.NewPath("ChartProps", "Labels").Key("team"), "a b", "")}
	field.ErrorMatcher{}.ByType().ByField().ByValue().Test(t, want, verr.For("c"))
}

// TestAppSynthIncludesObjects: cdk8s's own App.Synth writes the
// pipeline's objects with the other objects of the chart (the renderer
// tests compare them object by object), and fails on an invalid app with
// every problem, naming stagecraft.
func TestAppSynthIncludesObjects(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	var synthErr any
	stagetest.Do(func() {
		app := cdk8s.NewApp(&cdk8s.AppProps{Outdir: jsii.String(out)})
		wired(cdk8s.NewChart(app, jsii.String("c"), nil))
		app.Synth()
		bad := cdk8s.NewApp(&cdk8s.AppProps{Outdir: jsii.String(filepath.Join(out, "bad"))})
		p := stagecraft.NewPipeline(cdk8s.NewChart(bad, jsii.String("c"), nil), "p", stagecraft.PipelineProps{Network: testAPI})
		stagecraft.NewBatchStage(p, "job", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: "busybox"}})
		func() {
			defer func() { synthErr = recover() }()
			bad.Synth()
		}()
	})
	data, err := os.ReadFile(filepath.Join(out, "c.k8s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: Namespace", "kind: Deployment", "kind: Job", "kind: CronJob", "name: default-deny"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("app.Synth() wrote no %q", want)
		}
	}
	msg := fmt.Sprint(synthErr)
	for _, want := range []string{"stagecraft: 1 invalid input ", "c/p/job: Image: Invalid value: \"busybox\""} {
		if !strings.Contains(msg, want) {
			t.Errorf("app.Synth() of an invalid app: want %q in %q", want, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "bad", "c.k8s.yaml")); err == nil {
		t.Error("app.Synth() of an invalid app wrote manifests")
	}
}

package stagecraft

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/internal/yamlout"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Synthesis is everything an app synthesizes to, in memory: the objects of
// each chart and the diagram of its pipelines. The package synth lays it
// out as files.
type Synthesis struct {
	// Manifests holds one entry per chart that has objects, in the order
	// of the app's charts.
	Manifests []Manifest
	// Diagram is a Mermaid flowchart of the app's pipelines, as Markdown.
	Diagram string
	// Accepted are the changes the pipelines accept (Pipeline.AcceptChange)
	// that the upgrade check would refuse.
	Accepted []AcceptedChange
}

// Manifest is the objects of one cdk8s chart, in the order they are
// applied: the objects of the chart's pipelines (each pipeline's namespace
// and policies, storage, then its stages in dependency order), then the
// objects other constructs added to the chart.
type Manifest struct {
	// Chart is the chart's construct id.
	Chart string
	// Objects are the chart's objects.
	Objects []Object
}

// Object is one synthesized Kubernetes object.
type Object struct {
	// APIVersion, Kind, Namespace and Name identify the object; Namespace
	// is empty for cluster-scoped objects.
	APIVersion, Kind, Namespace, Name string
	// Construct is the path of the construct the object belongs to; empty
	// for objects that other cdk8s constructs added.
	Construct string
	// YAML is the object as one YAML document, ending in a newline, without
	// a "---" separator.
	YAML []byte
}

// Synthesize validates app, analyzes its pipelines and builds every
// object of every chart, in memory; it writes nothing. Problems are
// returned as a *ValidationError. It makes one call into the cdk8s runtime
// per chart to collect the objects that other constructs added, besides
// the calls that find the app's charts. An unexpected panic is returned as
// a *PanicError naming the construct.
func Synthesize(app constructs.Construct) (s *Synthesis, err error) {
	var at cursor
	defer at.recover(&err)
	capp, ok := app.(cdk8s.App)
	if !ok || nilScope(app) {
		return nil, fmt.Errorf("stagecraft: Synthesize needs the cdk8s App, got %T", app)
	}
	st, err := appStateOf(app, false)
	if err != nil {
		return nil, err
	}
	pipelines, problems := check(st, &at)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	// The objects are short-lived: a tighter heap target keeps the peak
	// memory of a large synth near that of native cdk8s, for little CPU.
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	ours := map[cdk8s.Chart][]Object{}
	var rendered []*rendering
	var overrideProblems []Problem
	for _, a := range pipelines {
		at.at(a.p.path, "rendering")
		objs, r, err := encodePipeline(a, &at)
		var verr *ValidationError
		if errors.As(err, &verr) {
			overrideProblems = append(overrideProblems, verr.Problems...)
			continue
		}
		if err != nil {
			return nil, err
		}
		ours[a.p.chart.chart] = append(ours[a.p.chart.chart], objs...)
		rendered = append(rendered, r)
	}
	if len(overrideProblems) > 0 {
		return nil, &ValidationError{Problems: overrideProblems}
	}
	out := &Synthesis{Diagram: diagram(rendered), Accepted: acceptedChanges(pipelines)}
	if st != nil {
		st.collecting = true
		defer func() { st.collecting = false }()
	}
	at.at("", "collecting the objects of other cdk8s constructs")
	for _, chart := range *capp.Charts() {
		m, err := chartManifest(chart, ours[chart])
		if err != nil {
			return nil, err
		}
		if len(m.Objects) > 0 {
			out.Manifests = append(out.Manifests, m)
		}
	}
	return out, nil
}

// chartManifest appends to ours, a chart's stagecraft objects, the objects
// that other constructs added to the chart.
func chartManifest(chart cdk8s.Chart, ours []Object) (Manifest, error) {
	m := Manifest{Chart: *chart.Node().Id(), Objects: ours}
	enc := yamlout.NewEncoder()
	for _, o := range *chart.ToJson() {
		obj, ok := o.(map[string]any)
		if !ok {
			return m, fmt.Errorf("stagecraft: chart %s holds a %T, not an object", m.Chart, o)
		}
		doc, err := enc.Encode(obj)
		if err != nil {
			return m, fmt.Errorf("stagecraft: render chart %s: %w", m.Chart, err)
		}
		u := unstructured.Unstructured{Object: obj}
		m.Objects = append(m.Objects, Object{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(),
			Namespace: u.GetNamespace(), Name: u.GetName(), YAML: doc})
	}
	return m, nil
}

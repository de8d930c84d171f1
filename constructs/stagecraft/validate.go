package stagecraft

import (
	"errors"
	"fmt"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate returns a *ValidationError listing every problem in the
// pipelines of app, or nil. It makes no call into the cdk8s runtime
// beyond finding the app's pipelines.
func Validate(app constructs.Construct) error {
	st, err := appStateOf(app)
	if err != nil {
		return err
	}
	_, problems := check(st)
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// appStateOf returns the state of app, which must be the root of its
// construct tree; nil for an app without pipelines.
func appStateOf(app constructs.Construct) (*appState, error) {
	if app == nil {
		return nil, errors.New("stagecraft: needs the cdk8s App, got nil")
	}
	node := app.Node()
	if root := node.Root(); root != constructs.IConstruct(app) {
		return nil, fmt.Errorf("stagecraft: needs the cdk8s App, the root of the construct tree; got %s", *node.Path())
	}
	return stateOf(app, false), nil
}

// check validates every construct of an app and analyzes each pipeline.
// Problems come in the order the constructs were created: each
// pipeline's, then its stages' and storage's, then those that span
// constructs.
func check(st *appState) ([]analyzed, []Problem) {
	if st == nil {
		return nil, nil
	}
	var all []Problem
	for _, m := range st.orphans {
		all = append(all, problemsOf(m.path, m.validateID())...)
	}
	var out []analyzed
	for _, p := range st.pipelines {
		all = append(all, problemsOf(p.path, p.validate())...)
		for _, c := range p.parts {
			all = append(all, problemsOf(c.membership().path, validatePart(c))...)
		}
	}
	all = append(all, crossChecks(st.pipelines)...)
	for _, p := range st.pipelines {
		g, problems := analyze(p)
		all = append(all, problems...)
		out = append(out, analyzed{p: p, g: g})
	}
	return out, all
}

// validatePart checks a stage or storage.
func validatePart(c part) field.ErrorList {
	switch t := c.(type) {
	case Stage:
		return append(t.base().validateShared(), t.validate()...)
	case *PipelineStorage:
		return t.validate()
	}
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("stagecraft: unknown construct %T", c))}
}

// crossChecks finds the problems that span constructs: pipelines sharing a
// namespace, charts with invalid labels, storage mounted in ways its
// access modes do not allow, and discovery variables that clash.
func crossChecks(pipelines []*Pipeline) []Problem {
	var out []Problem
	byNS := map[string]*Pipeline{}
	charts := map[string]bool{}
	for _, p := range pipelines {
		if !charts[p.chart.path] {
			charts[p.chart.path] = true
			out = append(out, validateChartLabels(p.chart)...)
		}
		if q, ok := byNS[p.namespace]; ok {
			out = append(out, Problem{Construct: p.path, Type: field.ErrorTypeDuplicate, Field: "Namespace", Value: p.namespace,
				Detail: fmt.Sprintf("pipeline %s already uses this namespace; each pipeline needs its own", q.path)})
			continue
		}
		byNS[p.namespace] = p
		out = append(out, storageUse(p)...)
		out = append(out, discoveryClashes(p)...)
	}
	return out
}

// storageUse checks that storage whose only access mode is ReadOnlyMany
// is mounted read-only. How many pods mount storage at once is a question
// of the pipeline's order: the graph checks it (storagePods).
func storageUse(p *Pipeline) []Problem {
	var out []Problem
	for _, s := range p.stages() {
		b := s.base()
		for _, mt := range b.work.mounts {
			st := mt.Storage
			if st == nil || st.pipeline != p {
				continue
			}
			if !mt.ReadOnly && st.onlyMode(corev1.ReadOnlyMany) {
				out = append(out, Problem{Construct: b.path, Type: field.ErrorTypeForbidden, Field: "Mounts", Value: st.name,
					Detail: "the storage's only access mode is ReadOnlyMany; mount it with ReadOnly: true"})
			}
		}
	}
	return out
}

// discoveryClashes finds discovery variables of calls that a stage also
// sets in its Env.
func discoveryClashes(p *Pipeline) []Problem {
	var out []Problem
	for _, s := range p.stages() {
		b := s.base()
		seen := map[string]bool{}
		for _, e := range b.work.env {
			seen[e.Name] = true
		}
		for _, c := range b.validCalls() {
			env := c.endpointEnv()
			if seen[env.Name] {
				out = append(out, Problem{Construct: b.path, Type: field.ErrorTypeDuplicate, Field: "Env", Value: env.Name,
					Detail: "the variable is set by the call to " + c.callee.Name() + "; rename yours"})
			}
			seen[env.Name] = true
		}
	}
	return out
}

package stagecraft

import (
	"errors"
	"fmt"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate returns a *ValidationError listing every problem in the
// pipelines of app, or nil. app is the cdk8s App, or any construct of it
// (a Chart, say): the whole app is validated. It makes no call into the
// cdk8s runtime beyond finding the app's pipelines. A nil app, and an
// unexpected panic (a *PanicError naming the construct), are errors.
func Validate(app constructs.Construct) (err error) {
	var at cursor
	defer at.recover(&err)
	st, err := appStateOf(app, true)
	if err != nil {
		return err
	}
	_, problems := check(st, &at)
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// appStateOf returns the state of app, which must be the root of its
// construct tree, or with anyScope any construct of it; nil for an app
// without pipelines.
func appStateOf(app constructs.Construct, anyScope bool) (st *appState, err error) {
	if nilScope(app) {
		return nil, errors.New("stagecraft: needs the cdk8s App, got nil")
	}
	if err := catch(func() { st, err = findState(app, anyScope) }); err != nil {
		return nil, fmt.Errorf("stagecraft: needs a construct of a live cdk8s App: %w", err)
	}
	return st, err
}

func findState(app constructs.Construct, anyScope bool) (*appState, error) {
	node := app.Node()
	root := node.Root()
	if !anyScope && root != constructs.IConstruct(app) {
		return nil, fmt.Errorf("stagecraft: needs the cdk8s App, the root of the construct tree; got %s", *node.Path())
	}
	return stateOf(root, false), nil
}

// check validates every construct of an app and analyzes each pipeline.
// Problems come in the order the constructs were created: each
// pipeline's, then its stages' and storage's, then those that span
// constructs. The problems of constructs that belong to no app come
// first. at records the construct being checked, for a panic.
func check(st *appState, at *cursor) ([]analyzed, []Problem) {
	all := takeDetached()
	if st == nil {
		return nil, all
	}
	for _, m := range st.orphans {
		at.at(m.path, "validating")
		all = append(all, problemsOf(m.path, m.validateID())...)
	}
	var out []analyzed
	for _, p := range st.pipelines {
		at.at(p.path, "validating")
		all = append(all, problemsOf(p.path, p.validate())...)
		all = append(all, problemsOf(p.path, validateSecrets(mapFields("Labels", p.props.Labels, insteadMeta), p.props.NotSecrets))...)
		for _, c := range p.parts {
			at.at(c.membership().path, "validating")
			all = append(all, problemsOf(c.membership().path, validatePart(c))...)
			all = append(all, problemsOf(c.membership().path, validateSecrets(secretFields(c)))...)
		}
	}
	at.at("", "checking across constructs")
	all = append(all, crossChecks(st.pipelines)...)
	for _, p := range st.pipelines {
		at.at(p.path, "analyzing")
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
// sets in its Env, or that two of its calls set alike (a call to stage
// "x" on its port "y" and one to stage "x-y" both set X_Y_ENDPOINT).
func discoveryClashes(p *Pipeline) []Problem {
	var out []Problem
	for _, s := range p.stages() {
		b := s.base()
		env := map[string]bool{}
		for _, e := range b.work.env {
			env[e.Name] = true
		}
		byCall := map[string]call{}
		for i, c := range b.calls {
			if !b.isValidCall(i) {
				continue
			}
			v := c.endpointEnv().Name
			switch prev, dup := byCall[v]; {
			case dup:
				out = append(out, Problem{Construct: b.path, Type: field.ErrorTypeDuplicate, Field: fmt.Sprintf("Calls[%d]", i), Value: v,
					Detail: fmt.Sprintf("the call to %s sets the same discovery variable as the call to %s; call another port, or rename one of the two stages", c.callee.Path(), prev.callee.Path())})
			case env[v]:
				out = append(out, Problem{Construct: b.path, Type: field.ErrorTypeDuplicate, Field: "Env", Value: v,
					Detail: "the variable is set by the call to " + c.callee.Name() + "; rename yours"})
			}
			byCall[v] = c
		}
	}
	return out
}

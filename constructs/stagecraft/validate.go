package stagecraft

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	all = append(all, nameCollisions(st.pipelines)...)
	for _, p := range st.pipelines {
		at.at(p.path, "analyzing")
		g, problems := analyze(p)
		all = append(all, problems...)
		all = append(all, defaultAccountClash(p, g)...)
		out = append(out, analyzed{p: p, g: g})
	}
	if len(all) > 0 {
		redactProblems(all, flaggedLiterals(st.pipelines))
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

// pipelinePolicyNames are the NetworkPolicies every pipeline writes beside
// one per stage, named after the stage.
var pipelinePolicyNames = map[string]string{"default-deny": "denies all traffic", "allow-dns": "allows DNS"}

// nameCollisions finds names that users' ids give to objects that are also
// objects stagecraft names: the pipeline's own NetworkPolicies, the
// cluster-wide PersistentVolumes of existing storage (named
// "<namespace>-<id>"), and the files of charts with one id.
func nameCollisions(pipelines []*Pipeline) []Problem {
	var out []Problem
	charts := map[string]string{}
	volumes := map[string]*PipelineStorage{}
	for _, p := range pipelines {
		id := p.chart.path[strings.LastIndex(p.chart.path, "/")+1:]
		if first, ok := charts[id]; ok && first != p.chart.path {
			out = append(out, Problem{Construct: p.chart.path, Type: field.ErrorTypeDuplicate, Field: "id", Value: id,
				Detail: fmt.Sprintf("chart %s has the same id, and a chart's objects are written to <id>.k8s.yaml, so one chart's file would replace the other's; give the charts different ids", first)})
		} else if !ok {
			charts[id] = p.chart.path
		}
		for _, st := range p.storages() {
			if st.props.Existing == nil {
				continue
			}
			if first, ok := volumes[st.volumeName()]; ok {
				out = append(out, Problem{Construct: st.path, Type: field.ErrorTypeDuplicate, Field: "id", Value: st.name,
					Detail: fmt.Sprintf("its PersistentVolume %q (cluster-wide, named <namespace>-<id>) is also the volume of storage %s; rename one", st.volumeName(), first.path)})
				continue
			}
			volumes[st.volumeName()] = st
		}
		out = append(out, replicaClaimCollisions(p)...)
		if p.network.Disabled {
			continue
		}
		for _, s := range p.stages() {
			if what, ok := pipelinePolicyNames[s.Name()]; ok {
				out = append(out, Problem{Construct: s.Path(), Type: field.ErrorTypeDuplicate, Field: "id", Value: s.Name(),
					Detail: fmt.Sprintf("pipeline %s names its own NetworkPolicy %q (it %s), and the stage's NetworkPolicy, named after the stage, would replace it; choose another id", p.path, s.Name(), what)})
			}
		}
	}
	return out
}

// defaultAccountClash finds a stage named "default" that waits for a Job in
// an init container and would create its own ServiceAccount, named after
// it: the namespace's default ServiceAccount, which the cluster creates. A
// stage held by a scheduling gate creates none (its gate's account is
// "<id>-gate").
func defaultAccountClash(p *Pipeline, g *graph) []Problem {
	var out []Problem
	for _, s := range p.stages() {
		b := s.base()
		if b.name == "default" && b.work.createAccount && len(g.waits[b]) > 0 && !b.gated {
			out = append(out, Problem{Construct: b.path, Type: field.ErrorTypeDuplicate, Field: "id", Value: b.name,
				Detail: fmt.Sprintf("the stage waits for %s and runs as a ServiceAccount named after it, which would replace the namespace's \"default\" ServiceAccount (created by Kubernetes, used by every pod without one); choose another id or set ServiceAccountName", g.waits[b][0].Path())})
		}
	}
	return out
}

// replicaClaimCollisions finds storage whose claim has the name the
// StatefulSet controller gives a replica's claim,
// "<volume>-<stage>-<ordinal>": the controller would adopt the pipeline's
// claim as the replica's, or the pipeline's would replace it.
func replicaClaimCollisions(p *Pipeline) []Problem {
	var out []Problem
	for _, s := range p.stages() {
		ps, ok := s.(*ProcessorStage)
		if !ok || ps.spec.stateful == nil {
			continue
		}
		for _, v := range ps.spec.stateful.Volumes {
			for _, st := range p.storages() {
				ordinal, found := strings.CutPrefix(st.name, v.Name+"-"+ps.name+"-")
				if n, err := strconv.Atoi(ordinal); found && err == nil && n >= 0 && n < int(ps.spec.maxPods) && strconv.Itoa(n) == ordinal {
					out = append(out, Problem{Construct: st.path, Type: field.ErrorTypeDuplicate, Field: "id", Value: st.name,
						Detail: fmt.Sprintf("stage %s claims a volume %q per replica, and its replica %d's claim has this name; rename the storage or the volume", ps.path, v.Name, n)})
				}
			}
		}
	}
	return out
}

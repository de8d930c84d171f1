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
	all = append(all, nameCollisions(st.pipelines)...)
	for _, p := range st.pipelines {
		g, problems := analyze(p)
		all = append(all, problems...)
		all = append(all, defaultAccountClash(p, g)...)
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

// storageUse checks that ReadWriteOnce storage is used by one pod at most
// and that read-only storage is mounted read-only.
func storageUse(p *Pipeline) []Problem {
	var out []Problem
	users := map[*PipelineStorage][]string{}
	pods := map[*PipelineStorage]int64{}
	for _, s := range p.stages() {
		b := s.base()
		seen := map[*PipelineStorage]bool{}
		for _, mt := range b.work.mounts {
			st := mt.Storage
			if st == nil || st.pipeline != p {
				continue
			}
			if !mt.ReadOnly && st.onlyMode(corev1.ReadOnlyMany) {
				out = append(out, Problem{Construct: b.path, Type: field.ErrorTypeForbidden, Field: "Mounts", Value: st.name,
					Detail: "the storage's only access mode is ReadOnlyMany; mount it with ReadOnly: true"})
			}
			if seen[st] {
				continue
			}
			seen[st] = true
			pods[st] += b.maxPods
			desc := b.path
			if b.maxPods > 1 {
				desc = fmt.Sprintf("%s (%d pods)", b.path, b.maxPods)
			}
			users[st] = append(users[st], desc)
		}
	}
	for _, st := range p.storages() {
		if pods[st] <= 1 || st.shared() {
			continue
		}
		out = append(out, Problem{Construct: st.path, Type: field.ErrorTypeInvalid, Field: "AccessModes", Value: st.props.AccessModes,
			Detail: fmt.Sprintf("storage is mounted by %d pods at once (%s), but %s attaches to one node (one pod for ReadWriteOncePod), so the other pods would not start; use ReadWriteMany, or ReadOnlyMany for read-only data",
				pods[st], strings.Join(users[st], ", "), strings.Join(st.modes, ", "))})
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

// defaultAccountClash finds a stage named "default" that waits for a Job
// and would create its own ServiceAccount, named after it: the namespace's
// default ServiceAccount, which the cluster creates.
func defaultAccountClash(p *Pipeline, g *graph) []Problem {
	var out []Problem
	for _, s := range p.stages() {
		b := s.base()
		if b.name == "default" && b.work.createAccount && len(g.waits[b]) > 0 {
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

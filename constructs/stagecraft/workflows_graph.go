package stagecraft

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The chain in a pipeline's graph. Inside an Argo chain the DAG orders the
// tasks, so no task waits at run time (no scheduling gate, no gate Job, no
// init container): an edge between two tasks is a dependency of the DAG
// instead. RunsAfter always is one; storage one stage writes and another
// reads is one unless the reader's mount sets WaitForWriters to false. A
// ScheduledStage in the chain completes like any task, so the tasks after
// it run after each of its runs.
//
// Across the chain's boundary nothing can wait: Argo creates pods, not the
// Jobs that the gate and the init container wait for. A stage outside the
// chain (a ProcessorStage) that would wait for a task is a problem; an
// edge that only orders the manifests and sync waves is not.

// chain turns the edges between tasks of the pipeline's Argo chain into
// dependencies of its DAG.
func (g *graph) chain() {
	g.deps = map[*stage][]Stage{}
	for i := range g.edges {
		e := &g.edges[i]
		if !inChain(e.from.base()) || !inChain(e.to.base()) {
			continue
		}
		e.wait = false
		if e.kind == edgeStorage && !waitsForWriters(e.to, e.storage) {
			continue
		}
		if ds := g.deps[e.to.base()]; !containsStage(ds, e.from) {
			g.deps[e.to.base()] = append(ds, e.from)
		}
	}
}

// chainChecks returns the problems of the pipeline's chain: its tasks'
// Argo-specific rules, a ScheduledStage that does not head it (or a
// second one), names Argo would take twice, and waits across its
// boundary.
func (g *graph) chainChecks(p *Pipeline) []Problem {
	if p.workflows == nil {
		return nil
	}
	var out []Problem
	var head *ScheduledStage
	names := map[string]Stage{}
	for _, s := range g.stages {
		names[s.Name()] = s
	}
	for _, s := range g.chainStages() {
		out = append(out, problemsOf(s.Path(), validateTask(s))...)
		if other, ok := names[taskTemplate(s)]; ok && other != s {
			out = append(out, Problem{Construct: other.Path(), Type: field.ErrorTypeDuplicate, Field: "id", Value: other.Name(),
				Detail: fmt.Sprintf("the WorkflowTemplate names the template that fans stage %s out %q: choose another id for one of them", s.Path(), taskTemplate(s))})
		}
		if sc, ok := s.(*ScheduledStage); ok {
			out = append(out, g.headProblems(p, sc, head)...)
			if head == nil {
				head = sc
			}
		}
	}
	if s, ok := names[dagTemplate]; ok && inChain(s.base()) {
		out = append(out, Problem{Construct: s.Path(), Type: field.ErrorTypeDuplicate, Field: "id", Value: s.Name(),
			Detail: fmt.Sprintf("the WorkflowTemplate's entrypoint, the DAG of its tasks, is named %q: choose another id for the stage", dagTemplate)})
	}
	if s, ok := names[p.workflows.executorName()]; ok {
		out = append(out, Problem{Construct: s.Path(), Type: field.ErrorTypeDuplicate, Field: "id", Value: s.Name(),
			Detail: fmt.Sprintf("stagecraft names the ServiceAccount, Role and NetworkPolicy of Argo's executor %q (Workflows.Name, plus \"-executor\"): choose another id for the stage, or another Workflows.Name", s.Name())})
	}
	return append(out, g.boundaryWaits(p)...)
}

// headProblems returns the problems of a ScheduledStage of the chain: one
// that comes after a task, or a second one (first is the one before).
func (g *graph) headProblems(p *Pipeline, s *ScheduledStage, first *ScheduledStage) []Problem {
	var out []Problem
	if first != nil {
		out = append(out, Problem{Construct: s.Path(), Type: field.ErrorTypeForbidden, Field: "Schedule", Value: s.spec.Schedule,
			Detail: fmt.Sprintf("pipeline %s runs its BatchStages and ScheduledStages as one Argo Workflows DAG, which one CronWorkflow runs on the schedule of the ScheduledStage that heads it, %s; make this stage a BatchStage of the chain, or move it into a pipeline of its own", p.path, first.Path())})
	}
	for _, u := range g.deps[&s.stage] {
		out = append(out, Problem{Construct: s.Path(), Type: field.ErrorTypeForbidden, Field: "RunsAfter", Value: u.Name(),
			Detail: fmt.Sprintf("a ScheduledStage heads the Argo Workflows chain: its CronWorkflow starts the DAG, so no task (here %s, through RunsAfter or storage it writes) may come before it; make this stage a BatchStage, or drop the edge", u.Path())})
	}
	return out
}

// boundaryWaits returns the problems of stages outside the chain that
// would wait for a task of it.
func (g *graph) boundaryWaits(p *Pipeline) []Problem {
	var out []Problem
	for _, e := range g.edges {
		if !e.wait || !inChain(e.from.base()) || inChain(e.to.base()) {
			continue
		}
		fld, how := "RunsAfter", "drop RunsAfter (the stage still comes after the task in the manifests and sync waves)"
		if e.kind == edgeStorage {
			fld = fmt.Sprintf("Mounts[%d].WaitForWriters", mountIndex(e.to.base(), e.storage))
			how = "set WaitForWriters to false on the mount"
		}
		out = append(out, Problem{Construct: e.to.Path(), Type: field.ErrorTypeForbidden, Field: fld, Value: e.from.Name(),
			Detail: fmt.Sprintf("stage %s is a task of the Argo Workflows DAG %s, which runs it as pods of each Workflow and creates no Job to wait for, and this stage is not in the DAG (only BatchStages and ScheduledStages are); %s and have the stage cope with data that is not there yet",
				e.from.Path(), p.workflows.name, how)})
	}
	return out
}

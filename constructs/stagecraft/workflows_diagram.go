package stagecraft

import (
	"fmt"
	"strings"
)

// drawChain draws the pipeline's Argo chain as Argo runs it: a subgraph
// for the WorkflowTemplate (and its CronWorkflow) holding its tasks.
func drawChain(b *strings.Builder, r *rendering) {
	p, w := r.p, r.p.workflows
	tasks := r.g.chainStages()
	if w == nil || len(tasks) == 0 {
		return
	}
	how := "run by hand: argo submit --from workflowtemplate/" + w.name
	if h := r.g.head(); h != nil {
		how = "CronWorkflow " + w.name + " · " + h.spec.Schedule + " " + h.spec.TimeZone + " · " + h.spec.ConcurrencyPolicy
	}
	fmt.Fprintf(b, "    subgraph %s[\"Argo Workflows · WorkflowTemplate %s · %s\"]\n", nodeID(p, "w", w.name), w.name, how)
	for _, s := range tasks {
		open, close := "[/", "/]"
		if _, ok := s.(*ScheduledStage); ok {
			open, close = "[[", "]]"
		}
		fmt.Fprintf(b, "      %s%s\"%s<br/>%s\"%s\n", nodeID(p, "s", s.Name()), open, s.Name(), taskLabel(s), close)
	}
	b.WriteString("    end\n")
}

// drawDAG draws the dependencies of the chain's DAG: each task starts once
// the tasks before it have succeeded.
func drawDAG(b *strings.Builder, r *rendering) {
	for _, s := range r.g.chainStages() {
		for _, u := range r.taskDeps(s) {
			fmt.Fprintf(b, "  %s == \"then (DAG)\" ==> %s\n", nodeID(r.p, "s", *u), nodeID(r.p, "s", s.Name()))
		}
	}
}

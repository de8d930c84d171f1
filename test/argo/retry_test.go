package argo

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// retryPolicy is what a container template's retryStrategy asks of Argo.
type retryPolicy struct {
	limit    int64
	backoff  time.Duration // before the first retry
	failFast []string      // exit codes the expression does not retry
}

// failFastCodes finds the exit codes in the expression stagecraft writes
// for FailFastExitCodes: `... lastRetry.exitCode not in ["3", ...]`.
var failFastCodes = regexp.MustCompile(`lastRetry\.exitCode not in \[([^\]]*)\]`)

// retryPolicies reads the retryStrategy of each container template of a
// WorkflowTemplate, by template name.
func retryPolicies(t *testing.T, wt *unstructured.Unstructured) map[string]retryPolicy {
	t.Helper()
	raw, _, _ := unstructured.NestedSlice(wt.Object, "spec", "templates")
	out := map[string]retryPolicy{}
	for _, x := range raw {
		m := x.(map[string]any)
		rs, ok := m["retryStrategy"].(map[string]any)
		if !ok {
			continue
		}
		var p retryPolicy
		if l, ok := rs["limit"]; ok {
			p.limit = number(t, l)
		}
		if d, _, _ := unstructured.NestedString(rs, "backoff", "duration"); d != "" {
			var err error
			if p.backoff, err = time.ParseDuration(d); err != nil {
				t.Fatalf("template %v: backoff.duration %q: %v", m["name"], d, err)
			}
		}
		expr, _ := rs["expression"].(string)
		if sub := failFastCodes.FindStringSubmatch(expr); sub != nil {
			for _, c := range strings.Split(sub[1], ",") {
				p.failFast = append(p.failFast, strings.Trim(strings.TrimSpace(c), `"`))
			}
		}
		out[m["name"].(string)] = p
	}
	return out
}

// checkRetries runs a Workflow from the template in which the first pod of
// the first task that may be retried exits 1, and the first pod of the
// first task with fail-fast exit codes exits with one of them. Argo's
// controller must retry the first after its backoff and must not retry
// the second: its task fails, the Workflow fails, and no task after it
// runs.
func checkRetries(ctx context.Context, t *testing.T, c *cluster, s *standIn, a chainApp) {
	t.Helper()
	dag := dagOf(t, a.template)
	policies := retryPolicies(t, a.template)
	var retried, failFast *dagTask
	for i := range dag {
		p := policies[dag[i].container]
		if failFast == nil && len(p.failFast) > 0 {
			failFast = &dag[i]
		} else if retried == nil && p.limit > 0 {
			retried = &dag[i]
		}
	}
	if retried == nil || failFast == nil {
		t.Logf("retries: WorkflowTemplate %s has no task that may be retried (%v) or none with fail-fast exit codes (%v): not checked", a.template.GetName(), retried != nil, failFast != nil)
		return
	}
	code := policies[failFast.container].failFast[0]
	name := a.template.GetName() + "-faults"
	faults := map[string]int32{retried.container: 1, failFast.container: int32(number(t, code))}
	s.setExitCode(func(pod *corev1.Pod) int32 {
		if pod.Labels[labelWorkflow] != name {
			return 0
		}
		tmpl := taskOf(name, pod.Name)
		c, ok := faults[tmpl]
		delete(faults, tmpl) // only its first pod fails
		if ok {
			return c
		}
		return 0
	})
	submit(ctx, t, c, a, name)
	waitWorkflow(ctx, t, c, s, a.namespace, name, "Failed")

	byTask := map[string][]podRun{}
	for _, r := range s.of(name) {
		byTask[taskOf(name, r.name)] = append(byTask[taskOf(name, r.name)], r)
	}
	// The task that may be retried: its first pod failed, one more ran
	// after the backoff.
	pods, backoff := byTask[retried.container], policies[retried.container].backoff
	if len(pods) != retried.pods+1 {
		t.Fatalf("retries: task %s: %d pods, want %d (one retry of the pod that exited 1)", retried.name, len(pods), retried.pods+1)
	}
	first, again := pods[0], pods[len(pods)-1]
	for _, r := range pods {
		if r.exitCode != 0 {
			first = r
		}
	}
	if first.exitCode != 1 || again.seen.Sub(first.finished) < backoff {
		t.Errorf("retries: task %s: pod %s exited %d at %s, retry %s first seen %s: want exit 1 and the retry at least %v later",
			retried.name, first.name, first.exitCode, clock(first.finished), again.name, clock(again.seen), backoff)
	}
	// The task with fail-fast exit codes: no pod more than its shards.
	ff := byTask[failFast.container]
	if len(ff) != failFast.pods {
		t.Errorf("retries: task %s: %d pods, want %d: the pod that exited %s (fail-fast) was retried", failFast.name, len(ff), failFast.pods, code)
	}
	failed := 0
	for _, r := range ff {
		if r.exitCode != 0 {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("retries: task %s: %d pods failed, want 1", failFast.name, failed)
	}
	// Nothing after the failed task.
	for _, task := range dag {
		if dependsOn(dag, task.name, failFast.name) && len(byTask[task.container]) > 0 {
			t.Errorf("retries: task %s ran after %s failed", task.name, failFast.name)
		}
	}
	t.Logf("retries: Workflow %s: task %s's pod %s exited 1 at %s and was retried (pod %s first seen %s, %v later; backoff %v); task %s's pod exited %s (fail-fast) and was not retried (%d pods for %d shards); the Workflow Failed and no task after it ran",
		name, retried.name, first.name, clock(first.finished), again.name, clock(again.seen), again.seen.Sub(first.finished).Round(time.Millisecond), backoff,
		failFast.name, code, len(ff), failFast.pods)
}

// dependsOn reports whether task comes after up in the DAG.
func dependsOn(dag []dagTask, task, up string) bool {
	for _, t := range dag {
		if t.name != task {
			continue
		}
		for _, d := range t.deps {
			if d == up || dependsOn(dag, d, up) {
				return true
			}
		}
	}
	return false
}

package argo

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// dagTask is a task of the WorkflowTemplate's DAG.
type dagTask struct {
	name      string
	container string // the container template its pods run
	pods      int    // how many pods it runs (withSequence count, else 1)
	parallel  int64  // how many at once (the fan-out template's parallelism)
	deps      []string
}

// dagOf reads the DAG of a WorkflowTemplate: its entrypoint's tasks.
func dagOf(t *testing.T, wt *unstructured.Unstructured) []dagTask {
	t.Helper()
	raw, _, _ := unstructured.NestedSlice(wt.Object, "spec", "templates")
	byName := map[string]map[string]any{}
	for _, x := range raw {
		m := x.(map[string]any)
		byName[m["name"].(string)] = m
	}
	entry, _, _ := unstructured.NestedString(wt.Object, "spec", "entrypoint")
	tasks, _, _ := unstructured.NestedSlice(byName[entry], "dag", "tasks")
	var out []dagTask
	for _, x := range tasks {
		m := x.(map[string]any)
		task := dagTask{name: m["name"].(string), container: m["template"].(string), pods: 1, parallel: 1}
		deps, _, _ := unstructured.NestedStringSlice(m, "dependencies")
		task.deps = deps
		if tmpl := byName[task.container]; tmpl["dag"] != nil {
			inner, _, _ := unstructured.NestedSlice(tmpl, "dag", "tasks")
			im := inner[0].(map[string]any)
			task.container = im["template"].(string)
			count, _, _ := unstructured.NestedFieldNoCopy(im, "withSequence", "count")
			parallel, _, _ := unstructured.NestedFieldNoCopy(tmpl, "parallelism")
			task.pods, task.parallel = int(number(t, count)), number(t, parallel)
		}
		out = append(out, task)
	}
	return out
}

// number reads a count of the template: YAML decoded through JSON gives
// float64, and Argo's withSequence.count is an int-or-string.
func number(t *testing.T, v any) int64 {
	t.Helper()
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		if err == nil {
			return i
		}
	}
	t.Fatalf("not a whole number: %#v", v)
	return 0
}

// taskOf returns the container template a pod of workflow wf runs: Argo
// names pods "<workflow>-<template>-<hash>".
func taskOf(wf, pod string) string {
	rest := strings.TrimPrefix(pod, wf+"-")
	if i := strings.LastIndex(rest, "-"); i > 0 {
		return rest[:i]
	}
	return rest
}

// checkOrder checks, from the pods the controller created, that each task
// started only after the tasks it depends on had finished, that a fan-out
// ran all its shards and no more at once than its parallelism, and logs
// the run with its times.
func checkOrder(t *testing.T, a chainApp, runs []podRun, finished time.Time) {
	t.Helper()
	if len(runs) == 0 {
		t.Fatal("the controller created no pods")
	}
	wf := runs[0].workflow
	byTask := map[string][]podRun{}
	for _, r := range runs {
		byTask[taskOf(wf, r.name)] = append(byTask[taskOf(wf, r.name)], r)
	}
	var line []string
	dag := dagOf(t, a.template)
	containerOf := map[string]string{}
	for _, task := range dag {
		containerOf[task.name] = task.container
	}
	for _, task := range dag {
		pods := byTask[task.container]
		if len(pods) != task.pods {
			t.Errorf("task %s: %d pods, want %d", task.name, len(pods), task.pods)
		}
		for _, dep := range task.deps {
			up := byTask[containerOf[dep]]
			for _, p := range pods {
				for _, u := range up {
					if !p.seen.After(u.finished) || p.created.Before(u.finished.Truncate(time.Second)) {
						t.Errorf("task %s: pod %s (created %s, first seen %s) did not wait for pod %s of %s (finished %s)",
							task.name, p.name, clock(p.created), clock(p.seen), u.name, dep, clock(u.finished))
					}
				}
			}
		}
		most := overlap(pods)
		if int64(most) > task.parallel {
			t.Errorf("task %s: %d pods at once, want at most %d", task.name, most, task.parallel)
		}
		if want := min(task.parallel, int64(task.pods)); int64(most) < want {
			t.Errorf("task %s: at most %d pods at once, want %d (its parallelism): the fan-out did not run its shards side by side", task.name, most, want)
		}
		line = append(line, describeTask(task, pods, most))
	}
	t.Logf("dag order (Workflow %s, Succeeded by %s): %s", wf, clock(finished), strings.Join(line, " | "))
}

// describeTask writes a task's pods and times for the log.
func describeTask(task dagTask, pods []podRun, most int) string {
	var ps []string
	for _, p := range pods {
		ps = append(ps, fmt.Sprintf("%s created %s, running %s, finished %s", p.name, clock(p.created), clock(p.running), clock(p.finished)))
	}
	after := ""
	if len(task.deps) > 0 {
		after = " after " + strings.Join(task.deps, ",")
	}
	return fmt.Sprintf("%s%s: %d pod(s), at most %d at once [%s]", task.name, after, len(pods), most, strings.Join(ps, "; "))
}

// overlap returns the most pods alive (first seen, not yet finished) at
// once.
func overlap(pods []podRun) int {
	type ev struct {
		at    time.Time
		delta int
	}
	var evs []ev
	for _, p := range pods {
		evs = append(evs, ev{p.seen, 1}, ev{p.finished, -1})
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at.Equal(evs[j].at) {
			return evs[i].delta < evs[j].delta
		}
		return evs[i].at.Before(evs[j].at)
	})
	n, most := 0, 0
	for _, e := range evs {
		n += e.delta
		if n > most {
			most = n
		}
	}
	return most
}

// checkPods checks the pods the controller created as the API server
// admitted them: under Pod Security "restricted" (enforced by the
// namespace), no token for the stage's container, the executor's token
// only in the executor containers, locked-down executor containers, and
// the template's labels (Kueue's queue among them).
func checkPods(ctx context.Context, t *testing.T, c *cluster, a chainApp, wf string) {
	t.Helper()
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, a.namespace, metav1.GetOptions{})
	if err != nil || ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Fatalf("namespace %s does not enforce Pod Security restricted: %v %v", a.namespace, ns.Labels, err)
	}
	pods, err := c.client.CoreV1().Pods(a.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelWorkflow + "=" + wf})
	if err != nil {
		t.Fatal(err)
	}
	queued := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		for _, problem := range podProblems(p) {
			t.Errorf("pod %s: %s", p.Name, problem)
		}
		if p.Labels["kueue.x-k8s.io/queue-name"] != "" {
			queued++
		}
	}
	t.Logf("pods: %d pods of Workflow %s admitted under Pod Security enforce=restricted; automountServiceAccountToken false; "+
		"the executor's token Secret mounted in init and wait only; executor containers without privilege escalation or capabilities; %d pods with Kueue's queue label",
		len(pods.Items), wf, queued)
}

// tokenPath is where a service account token is mounted.
const tokenPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// podProblems returns what a task's pod must not be.
func podProblems(p *corev1.Pod) []string {
	var out []string
	if a := p.Spec.AutomountServiceAccountToken; a == nil || *a {
		out = append(out, "automountServiceAccountToken is not false")
	}
	secrets := map[string]string{}
	for _, v := range p.Spec.Volumes {
		if v.Secret != nil {
			secrets[v.Name] = v.Secret.SecretName
		}
	}
	all := append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...)
	for _, c := range all {
		token := ""
		for _, m := range c.VolumeMounts {
			if m.MountPath == tokenPath {
				token = secrets[m.Name]
			}
		}
		executor := c.Name == "init" || c.Name == "wait"
		switch {
		case !executor && token != "":
			out = append(out, fmt.Sprintf("container %s mounts a token (Secret %s)", c.Name, token))
		case executor && !strings.HasSuffix(token, "-executor.service-account-token"):
			out = append(out, fmt.Sprintf("executor container %s mounts no executor token (got %q)", c.Name, token))
		}
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			out = append(out, fmt.Sprintf("container %s may escalate privileges or keeps capabilities: %+v", c.Name, sc))
		}
		if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
			out = append(out, fmt.Sprintf("container %s has no requests or limits", c.Name))
		}
	}
	if p.Labels["app.kubernetes.io/name"] == "" {
		out = append(out, "no app.kubernetes.io/name label from the template")
	}
	return out
}

// checkExecutorAccess asks the API server what the executor's account may
// do: exactly what the emissary executor needs.
func checkExecutorAccess(ctx context.Context, t *testing.T, c *cluster, ns, account string) {
	t.Helper()
	user := fmt.Sprintf(serviceAccountUserName, ns, account)
	type q struct {
		group, resource, verb string
		want                  bool
	}
	var got []string
	for _, x := range []q{
		{"argoproj.io", "workflowtaskresults", "create", true}, {"argoproj.io", "workflowtaskresults", "patch", true},
		{"argoproj.io", "workflowtaskresults", "delete", false}, {"argoproj.io", "workflows", "get", false},
		{"argoproj.io", "workflows", "create", false}, {"", "pods", "get", false}, {"", "pods", "patch", false},
		{"", "secrets", "get", false}, {"batch", "jobs", "create", false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Group: x.group, Resource: x.resource, Verb: x.verb}}}
		res, err := c.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status.Allowed != x.want {
			t.Errorf("%s may %s %s.%s: %v, want %v", user, x.verb, x.resource, x.group, res.Status.Allowed, x.want)
		}
		got = append(got, fmt.Sprintf("%s %s=%v", x.verb, x.resource, res.Status.Allowed))
	}
	t.Logf("executor RBAC (SubjectAccessReview as %s): %s", user, strings.Join(got, ", "))
}

// fireCron applies the app's CronWorkflow with a schedule of every minute,
// waits for it to create a Workflow, and for that Workflow to run the DAG
// in order.
func fireCron(ctx context.Context, t *testing.T, c *cluster, ap *applier, s *standIn, a chainApp) {
	t.Helper()
	cron := a.cron.DeepCopy()
	schedules, _, _ := unstructured.NestedStringSlice(cron.Object, "spec", "schedules")
	if err := unstructured.SetNestedStringSlice(cron.Object, []string{"* * * * *"}, "spec", "schedules"); err != nil {
		t.Fatal(err)
	}
	applied := time.Now()
	if err := ap.apply(ctx, cron, appFieldManager); err != nil {
		t.Fatalf("apply CronWorkflow %s with a schedule of every minute: %v", cron.GetName(), err)
	}
	var wf *unstructured.Unstructured
	err := waitFor(150*time.Second, time.Second, c.procs, func() (bool, error) {
		list, err := ap.dyn.Resource(workflows).Namespace(a.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelCronWorkflow + "=" + cron.GetName()})
		if err != nil || len(list.Items) == 0 {
			return false, fmt.Errorf("no Workflow of CronWorkflow %s yet (%v)", cron.GetName(), err)
		}
		wf = &list.Items[0]
		return true, nil
	})
	if err != nil {
		t.Fatalf("the CronWorkflow did not fire: %v", err)
	}
	got, _ := ap.dyn.Resource(cronWorkflows).Namespace(a.namespace).Get(ctx, cron.GetName(), metav1.GetOptions{})
	last, _, _ := unstructured.NestedString(got.Object, "status", "lastScheduledTime")
	finished := waitWorkflow(ctx, t, c, s, a.namespace, wf.GetName(), "Succeeded")
	t.Logf("cron: CronWorkflow %s (schedules %v in dist; * * * * * in the test, applied %s) fired: lastScheduledTime %s, Workflow %s created %s, Succeeded by %s",
		cron.GetName(), schedules, clock(applied), last, wf.GetName(), clock(wf.GetCreationTimestamp().Time), clock(finished))
	checkOrder(t, a, s.of(wf.GetName()), finished)
}

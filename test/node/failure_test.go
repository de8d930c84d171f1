package node

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// failFastGoal is how soon what waits for a Job must fail after the Job
// has failed.
const failFastGoal = 60 * time.Second

// TestUpstreamFailure fails, in each app, the first Job another stage waits
// for, on the real node: its workload exits 1 (the failure run's override,
// see override_test.go). What waits for it must fail within failFastGoal,
// saying why: a held Job gets reason UpstreamFailed and a message naming
// the upstream Job, written by its gate's pod, whose gate program exits 2
// with the same words as its termination message; a wait-upstream init
// container exits 2 with them, and its pod's app container never starts.
func TestUpstreamFailure(t *testing.T) {
	units, err := discoverUnits(distDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(units) == 0 {
		t.Skipf("no app in %s", distDir())
	}
	c, err := requireNode()
	if err != nil {
		t.Fatalf("start the node: %v", err)
	}
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) { c.proveFailure(t, u) })
	}
}

// firstUpstream returns the upstream Job with the lowest sync wave (then
// name) that a gate program of the app waits for.
func firstUpstream(r *run) (ns, name string) {
	waves := map[string]string{}
	for _, tm := range r.tmpls {
		if tm.kind == batchJob {
			waves[tm.ns()+"/"+tm.obj.u.GetName()] = tm.obj.u.GetAnnotations()["argocd.argoproj.io/sync-wave"]
		}
	}
	var cands []string
	for _, tm := range r.tmpls {
		for _, g := range gatesOf(tm) {
			for _, u := range g.cmd.Upstream {
				if _, ok := waves[g.cmd.Namespace+"/"+u]; ok {
					cands = append(cands, g.cmd.Namespace+"/"+u)
				}
			}
		}
	}
	if len(cands) == 0 {
		return "", ""
	}
	sort.Slice(cands, func(i, j int) bool {
		if waves[cands[i]] != waves[cands[j]] {
			return waves[cands[i]] < waves[cands[j]]
		}
		return cands[i] < cands[j]
	})
	ns, name, _ = strings.Cut(cands[0], "/")
	return ns, name
}

func (c *cluster) proveFailure(t *testing.T, u unit) {
	r, err := c.newRun(u)
	if err != nil {
		t.Fatal(err)
	}
	ns, up := firstUpstream(r)
	if up == "" {
		t.Skipf("no stage of %s waits for a Job", u.name)
	}
	r.fail = map[string]bool{up: true}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout()+5*time.Minute)
	defer cancel()
	defer r.cleanup(t)
	var lines []string
	defer func() {
		verdict := "PASS"
		if t.Failed() {
			verdict = "FAIL"
		}
		for _, n := range r.notes {
			fmt.Printf("node-note: %s: %s\n", u.name, n)
		}
		fmt.Printf("node-summary: %s upstream failure (real node): %s: %s\n", verdict, u.name, strings.Join(lines, "; "))
	}()
	r.deploy(ctx, t)
	failedAt, line := r.upstreamFailed(ctx, t, ns, up)
	lines = append(lines, line)
	lines = append(lines, r.followFailure(ctx, t, ns, up, failedAt)...)
}

// upstreamFailed waits until Job ns/name has failed and checks that its
// pod really failed: the workload exited with the failure run's status.
func (r *run) upstreamFailed(ctx context.Context, t *testing.T, ns, name string) (time.Time, string) {
	var job *batchv1.Job
	err := waitFor(3*time.Minute, 100*time.Millisecond, r.c.procs, func() (bool, error) {
		j, err := r.c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		job = j
		if cond(j.Status.Conditions, batchv1.JobComplete) {
			return false, permanent{Err: fmt.Errorf("Job %s/%s completed; the failure run wanted it to fail", ns, name)}
		}
		return cond(j.Status.Conditions, batchv1.JobFailed), fmt.Errorf("Job %s/%s has not failed (%s)", ns, name, r.podProblems(ctx, ns, "batch.kubernetes.io/job-name="+name))
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
	seen := time.Now()
	_, reason, msg := gate.JobPhase(job)
	pods, err := r.c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + name})
	if err != nil {
		t.Fatalf("%v", err)
	}
	var exits []string
	for _, p := range pods.Items {
		for _, s := range p.Status.ContainerStatuses {
			if s.State.Terminated != nil {
				exits = append(exits, fmt.Sprintf("%s exited %d", s.Name, s.State.Terminated.ExitCode))
				if fmt.Sprint(s.State.Terminated.ExitCode) != failExit {
					t.Errorf("Job %s/%s: pod %s container %s exited %d, want %s (the failure run's workload)", ns, name, p.Name, s.Name, s.State.Terminated.ExitCode, failExit)
				}
			}
		}
	}
	if len(exits) == 0 {
		t.Errorf("Job %s/%s failed, but none of its containers ran", ns, name)
	}
	t.Logf("upstream Job %s/%s failed (%s: %s), seen %s; %s", ns, name, reason, msg, seen.UTC().Format(time.TimeOnly+".000"), strings.Join(exits, ", "))
	return seen, fmt.Sprintf("Job %s failed for real (%s; %s)", name, strings.Join(exits, ", "), reason)
}

// dependent is a gate program whose stage must fail.
type dependent struct {
	tm     *template
	g      gateProgram
	cause  string
	since  time.Time
	done   bool
	failed string // for a held Job: its name, which fails in turn
}

// followFailure follows the failure of Job ns/up down the stages: every
// gate program that waits for a failed Job must make its stage fail in
// time and with the right words. It returns one line per stage.
func (r *run) followFailure(ctx context.Context, t *testing.T, ns, up string, failedAt time.Time) []string {
	failed := map[string]time.Time{up: failedAt}
	var deps []*dependent
	for _, tm := range r.tmpls {
		for _, g := range gatesOf(tm) {
			if g.cmd.Namespace == ns {
				deps = append(deps, &dependent{tm: tm, g: g})
			}
		}
	}
	var lines []string
	deadline := time.Now().Add(failFastGoal + 30*time.Second)
	for time.Now().Before(deadline) {
		pending := 0
		for _, d := range deps {
			if d.done {
				continue
			}
			if d.cause == "" {
				for _, u := range d.g.cmd.Upstream {
					if at, ok := failed[u]; ok {
						d.cause, d.since = u, at
					}
				}
			}
			if d.cause == "" {
				continue
			}
			pending++
			line, ok := r.failureReached(ctx, t, d)
			if !ok {
				continue
			}
			d.done = true
			pending--
			lines = append(lines, line)
			if d.failed != "" {
				failed[d.failed] = time.Now()
			}
		}
		if pending == 0 && !anyNewCause(deps, failed) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	reached := 0
	for _, d := range deps {
		switch {
		case d.done:
			reached++
		case d.cause != "":
			t.Errorf("%s: its upstream Job %s failed, but its stage has not failed within %v", d.tm, d.cause, failFastGoal+30*time.Second)
		}
	}
	if reached == 0 {
		t.Errorf("no stage of the app failed after Job %s failed", up)
	}
	return lines
}

func anyNewCause(deps []*dependent, failed map[string]time.Time) bool {
	for _, d := range deps {
		if d.cause != "" || d.done {
			continue
		}
		for _, u := range d.g.cmd.Upstream {
			if _, ok := failed[u]; ok {
				return true
			}
		}
	}
	return false
}

// failureReached checks whether d's stage has failed because of its cause,
// and if so, how; it returns the line for the summary.
func (r *run) failureReached(ctx context.Context, t *testing.T, d *dependent) (string, bool) {
	if d.g.cmd.Mode == "release" {
		return r.heldFailed(ctx, t, d)
	}
	return r.waitFailed(ctx, t, d)
}

// heldFailed: the held Job has failed with UpstreamFailed, by its gate's
// pod, within the goal; the gate program exited 2 saying why; none of the
// held Job's pods ran.
func (r *run) heldFailed(ctx context.Context, t *testing.T, d *dependent) (string, bool) {
	ns, held := d.g.cmd.Namespace, d.g.cmd.Job
	job, err := r.c.client.BatchV1().Jobs(ns).Get(ctx, held, metav1.GetOptions{})
	if err != nil || !cond(job.Status.Conditions, batchv1.JobFailed) {
		return "", false
	}
	took := time.Since(d.since)
	d.failed = held
	var c *batchv1.JobCondition
	for i := range job.Status.Conditions {
		if cc := &job.Status.Conditions[i]; cc.Type == batchv1.JobFailed && cc.Status == corev1.ConditionTrue {
			c = cc
		}
	}
	want := "upstream Job " + d.cause + " failed"
	if c.Reason != gate.ReasonUpstreamFailed || !strings.Contains(c.Message, want) {
		t.Errorf("Job %s/%s failed with %s: %q; want %s and a message naming upstream Job %s", ns, held, c.Reason, c.Message, gate.ReasonUpstreamFailed, d.cause)
	}
	if took > failFastGoal {
		t.Errorf("Job %s/%s failed %v after its upstream Job %s, more than %v", ns, held, took.Round(10*time.Millisecond), d.cause, failFastGoal)
	}
	// The gate's pod ends once it has failed the Job: wait for it.
	var gr *gateRun
	var problems []string
	err = waitFor(30*time.Second, 200*time.Millisecond, r.c.procs, func() (bool, error) {
		pods, err := r.podsOf(ctx, d.tm)
		if err != nil || len(pods) == 0 {
			return false, fmt.Errorf("no pod of the gate Job (%v)", err)
		}
		gr, problems = r.inspectGate(ctx, d.tm, &pods[len(pods)-1], d.g)
		return gr.state != nil, fmt.Errorf("%s has not ended: %s", gr, podProblem(gr.pod))
	})
	if err != nil {
		t.Errorf("%s: %v", d.tm, err)
		return "", true
	}
	for _, p := range problems {
		t.Errorf("%s: %s", d.tm, p)
	}
	st := gr.state
	if st.ExitCode != gate.ExitUpstreamFailed || !strings.Contains(st.Message, want) {
		t.Errorf("%s %s ended with exit status %d and termination message %q, want %d and a message naming upstream Job %s", d.tm, gr, st.ExitCode, st.Message, gate.ExitUpstreamFailed, d.cause)
	}
	if _, ok := firstRequest(gr.audit, "patch", "jobs/status", held); !ok {
		t.Errorf("%s: its pod did not write the failure of Job %s (no patch of jobs/status in the audit log)", d.tm, held)
	}
	if heldTm := r.template(ns, batchJob, held); heldTm != nil {
		pods, _ := r.podsOf(ctx, heldTm)
		for i := range pods {
			for _, s := range pods[i].Status.ContainerStatuses {
				if s.State.Running != nil || s.State.Terminated != nil {
					t.Errorf("Job %s/%s: pod %s container %s ran, although its upstream failed", ns, held, pods[i].Name, s.Name)
				}
			}
		}
	}
	// Its pod failure policy fails the gate Job at exit status 2, rather
	// than run the gate again.
	gateJob := ""
	_ = waitFor(30*time.Second, 200*time.Millisecond, r.c.procs, func() (bool, error) {
		gateJob = r.jobStatus(ctx, ns, d.tm.obj.u.GetName())
		return gateJob != "still running", nil
	})
	if !strings.HasPrefix(gateJob, "failed") {
		t.Errorf("gate Job %s/%s: %s, want failed by its pod failure policy", ns, d.tm.obj.u.GetName(), gateJob)
	}
	return fmt.Sprintf("Job %s failed %.1fs later (%s: %q; written by gate pod %s as ServiceAccount %s), none of its containers ran; the gate program exited %d, termination message %q; gate Job %s %s",
		held, took.Seconds(), c.Reason, c.Message, gr.pod.Name, gr.account, st.ExitCode, strings.TrimSpace(st.Message), d.tm.obj.u.GetName(), gateJob), true
}

// waitFailed: a pod's wait-upstream container exited 2 naming the failed
// upstream, within the goal; its app containers never started; a Job's
// pod failure policy failed the Job.
func (r *run) waitFailed(ctx context.Context, t *testing.T, d *dependent) (string, bool) {
	if d.tm.kind == cronJob && r.fromCron[d.tm] == "" {
		return "", false
	}
	pods, err := r.podsOf(ctx, d.tm)
	if err != nil || len(pods) == 0 {
		return "", false
	}
	p := &pods[0]
	var st *corev1.ContainerStateTerminated
	for _, s := range p.Status.InitContainerStatuses {
		if s.Name == d.g.container && s.State.Terminated != nil {
			st = s.State.Terminated
		} else if s.Name == d.g.container && s.LastTerminationState.Terminated != nil {
			st = s.LastTerminationState.Terminated
		}
	}
	if st == nil {
		return "", false
	}
	took := time.Since(d.since)
	gr, problems := r.inspectGate(ctx, d.tm, p, d.g)
	for _, pr := range problems {
		t.Errorf("%s: %s", d.tm, pr)
	}
	want := "upstream Job " + d.cause + " failed"
	if st.ExitCode != gate.ExitUpstreamFailed || !strings.Contains(st.Message, want) {
		t.Errorf("%s %s ended with exit status %d and termination message %q, want %d and a message naming upstream Job %s", d.tm, gr, st.ExitCode, st.Message, gate.ExitUpstreamFailed, d.cause)
	}
	if took > failFastGoal {
		t.Errorf("%s %s ended %v after its upstream Job %s failed, more than %v", d.tm, gr, took.Round(10*time.Millisecond), d.cause, failFastGoal)
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil {
			t.Errorf("%s pod %s: app container %s started, although its upstream failed", d.tm, p.Name, s.Name)
		}
	}
	what := d.tm.String()
	outcome := ""
	if d.tm.kind == batchJob || d.tm.kind == cronJob {
		name := d.tm.obj.u.GetName()
		if d.tm.kind == cronJob {
			name = r.fromCron[d.tm]
			what = "Job " + name + " (from " + d.tm.String() + ")"
		}
		_ = waitFor(30*time.Second, 200*time.Millisecond, r.c.procs, func() (bool, error) {
			j, err := r.c.client.BatchV1().Jobs(d.tm.ns()).Get(ctx, name, metav1.GetOptions{})
			return err == nil && cond(j.Status.Conditions, batchv1.JobFailed), err
		})
		outcome = "; the Job " + r.jobStatus(ctx, d.tm.ns(), name)
	}
	return fmt.Sprintf("%s: its wait-upstream (the gate's wait as ServiceAccount %s) exited %d %.1fs after the upstream failed, termination message %q; its app container never started%s",
		what, gr.account, st.ExitCode, took.Seconds(), strings.TrimSpace(st.Message), outcome), true
}

// jobStatus says whether a Job completed or failed, and why.
func (r *run) jobStatus(ctx context.Context, ns, name string) string {
	j, err := r.c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	switch phase, reason, _ := gate.JobPhase(j); phase {
	case gate.Failed:
		return "failed (" + reason + ")"
	case gate.Complete:
		return "completed"
	}
	return "still running"
}

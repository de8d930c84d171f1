package e2e

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
	"k8s.io/apimachinery/pkg/types"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// Fail fast. TestUpstreamFailure fails, in each app, the first Job that
// other stages wait for, and measures how long the stages after it take to
// fail, and with what message. The failure is injected as a pod failure
// policy or a controller would: the FailureTarget condition on the Job's
// status, after which the Job controller fails the Job itself. Every gate
// program of the app runs in the harness, as in the pipeline phase.

// failFastGoal is how soon a stage must fail after its upstream Job has.
const failFastGoal = 60 * time.Second

const injectedReason = "InjectedFailure"

func TestUpstreamFailure(t *testing.T) {
	units, err := discoverApps(distDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(units) == 0 {
		t.Skip("no apps to prove")
	}
	for _, u := range units {
		t.Run(u.name(), func(t *testing.T) { proveFailFast(t, u) })
	}
}

// firstUpstream returns the upstream Job with the lowest sync wave (then
// name) that a gate or wait of the app waits for.
func firstUpstream(ap *app, gates []*gateRun) (string, string) {
	waves := map[string]int{}
	for _, m := range ap.manifests {
		if m.obj.GetKind() == "Job" {
			w, _ := syncWave(m.obj)
			waves[nsOrDefault(m.obj.GetNamespace())+"/"+m.obj.GetName()] = w
		}
	}
	var cands []string
	for _, g := range gates {
		for _, u := range g.cmd.Upstream {
			cands = append(cands, g.ns+"/"+u)
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
	ns, name, _ := strings.Cut(cands[0], "/")
	return ns, name
}

func proveFailFast(t *testing.T, u unit) {
	ap, err := loadApp(u.name(), u.dir)
	if err != nil {
		t.Fatal(err)
	}
	gates, err := planGates(ap)
	if err != nil {
		t.Fatal(err)
	}
	ns, up := firstUpstream(ap, gates)
	if up == "" {
		t.Skipf("no stage of %s waits for a Job", u.name())
	}
	c := startControlPlane(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if dirs := crdDirs(); len(dirs) > 0 {
		if _, err := installPrerequisites(ctx, c, dirs); err != nil {
			t.Fatal(err)
		}
	}
	installKueueCRD(t, c)
	a, err := newApplier(c.cfg, appFieldManager)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.applyApp(ctx, ap); err != nil {
		t.Fatalf("apply: %v", err)
	}
	holdForHarness(ctx, t, c, ap, gates)
	// No nodes: no pod runs, so the upstream Job cannot complete before it
	// is failed, and nothing else finishes either.
	c.startPipeline(t)
	// The gates are holding when the upstream Job fails: what is measured
	// includes how often they look.
	for _, g := range gates {
		if err := g.start(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	failedAt := injectFailure(ctx, t, c, ns, up)
	lines := watchFailures(ctx, t, c, gates, ns, up, failedAt)
	for _, l := range lines {
		t.Log(l)
	}
}

// injectFailure fails Job ns/name once the Job controller has started it,
// and returns when the harness saw it Failed.
func injectFailure(ctx context.Context, t *testing.T, c *cluster, ns, name string) time.Time {
	t.Helper()
	var job *batchv1.Job
	err := waitFor(30*time.Second, 100*time.Millisecond, c.procs, func() (bool, error) {
		j, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		job = j
		return err == nil && j.Status.StartTime != nil, err
	})
	if err != nil {
		t.Fatalf("Job %s/%s did not start: %v", ns, name, err)
	}
	now := metav1.Now()
	patch := fmt.Sprintf(`{"status":{"conditions":[{"type":"FailureTarget","status":"True","reason":%q,"message":"failed on purpose by the e2e harness","lastTransitionTime":%q,"lastProbeTime":%q}]}}`,
		injectedReason, now.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	if _, err := c.client.BatchV1().Jobs(ns).Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: harnessFieldManager}, "status"); err != nil {
		t.Fatalf("fail Job %s/%s: %v", ns, name, err)
	}
	var seen time.Time
	err = waitFor(30*time.Second, 50*time.Millisecond, c.procs, func() (bool, error) {
		j, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if _, failed, _ := jobFinished(j); failed {
			seen = time.Now()
			return true, nil
		}
		return false, fmt.Errorf("not failed yet: %+v", j.Status.Conditions)
	})
	if err != nil {
		t.Fatalf("Job %s/%s: the Job controller did not fail it: %v", ns, name, err)
	}
	t.Logf("injected: Job %s/%s (%d pods created, none could run) failed (%s), seen %s", ns, name, job.Status.Active, injectedReason, seen.Format("15:04:05.000"))
	return seen
}

// watchFailures follows the failure down the chain: every gate and wait
// whose upstream fails must end UpstreamFailed, each held Job must fail
// with a message that names its upstream Job, within failFastGoal. It
// returns one line per stage reached.
func watchFailures(ctx context.Context, t *testing.T, c *cluster, gates []*gateRun, ns, up string, failedAt time.Time) []string {
	t.Helper()
	failed := map[string]time.Time{ns + "/" + up: failedAt} // Jobs failed so far, and when
	reached := map[*gateRun]bool{}
	var lines []string
	deadline := time.Now().Add(failFastGoal + 30*time.Second)
	for time.Now().Before(deadline) {
		progress := false
		for _, g := range gates {
			if reached[g] {
				continue
			}
			cause, since := "", time.Time{}
			for _, u := range g.cmd.Upstream {
				if at, ok := failed[g.ns+"/"+u]; ok {
					cause, since = u, at
				}
			}
			if cause == "" {
				continue
			}
			line, failedJob, at, ok := failureReached(ctx, t, c, g, cause, since)
			if !ok {
				continue
			}
			reached[g], progress = true, true
			lines = append(lines, line)
			if failedJob != "" {
				failed[g.ns+"/"+failedJob] = at
			}
		}
		if !progress {
			if pending := pendingFailures(gates, reached, failed); len(pending) == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, g := range pendingFailures(gates, reached, failed) {
		t.Errorf("%s: its upstream Job failed, but it has not failed within %v; its log:\n%s", g, failFastGoal+30*time.Second, g.logText())
	}
	if len(lines) == 0 {
		t.Errorf("no stage waits for Job %s/%s", ns, up)
	}
	return lines
}

// pendingFailures returns the gates whose upstream failed but that have
// not been seen failing.
func pendingFailures(gates []*gateRun, reached map[*gateRun]bool, failed map[string]time.Time) []*gateRun {
	var out []*gateRun
	for _, g := range gates {
		for _, u := range g.cmd.Upstream {
			if _, ok := failed[g.ns+"/"+u]; ok && !reached[g] {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// failureReached checks whether the stage behind g has failed because of
// upstream cause (failed at since): for a release gate, its held Job has
// the Failed condition; for a wait, the wait ended. It returns the line
// for the log, the Job that failed (for the next links) and when.
func failureReached(ctx context.Context, t *testing.T, c *cluster, g *gateRun, cause string, since time.Time) (string, string, time.Time, bool) {
	done, res, ended, err := g.result()
	if g.cmd.Mode == "wait" {
		if !done {
			return "", "", time.Time{}, false
		}
		if err != nil || res.Outcome != gate.UpstreamFailed || !strings.Contains(res.Message, cause) {
			t.Errorf("%s ended with %q (%v), want the failure of %s", g, res.Message, err, cause)
		}
		took := ended.Sub(since)
		checkGoal(t, g.String(), took)
		return fmt.Sprintf("upstream failure: Job %s failed -> the %s ended with exit status %d after %v: %q",
			cause, g, gate.ExitStatus(res.Outcome), took.Round(10*time.Millisecond), res.Message), "", ended, true
	}
	j, getErr := c.client.BatchV1().Jobs(g.ns).Get(ctx, g.cmd.Job, metav1.GetOptions{})
	if getErr != nil {
		return "", "", time.Time{}, false
	}
	var cond *batchv1.JobCondition
	for i := range j.Status.Conditions {
		if cc := &j.Status.Conditions[i]; cc.Type == batchv1.JobFailed && cc.Status == corev1.ConditionTrue {
			cond = cc
		}
	}
	if cond == nil {
		return "", "", time.Time{}, false
	}
	at := time.Now()
	took := at.Sub(since)
	if cond.Reason != gate.ReasonUpstreamFailed || !strings.Contains(cond.Message, "upstream Job "+cause+" failed") {
		t.Errorf("Job %s/%s failed with %s: %q; want %s naming upstream Job %s", g.ns, g.cmd.Job, cond.Reason, cond.Message, gate.ReasonUpstreamFailed, cause)
	}
	checkGoal(t, "Job "+g.ns+"/"+g.cmd.Job, took)
	if done && (err != nil || res.Outcome != gate.UpstreamFailed) {
		t.Errorf("%s ended with %q (%v), want UpstreamFailed", g, res.Message, err)
	}
	return fmt.Sprintf("upstream failure: Job %s failed -> Job %s failed after %v (reason %s): %q",
		cause, g.cmd.Job, took.Round(10*time.Millisecond), cond.Reason, cond.Message), g.cmd.Job, at, true
}

func checkGoal(t *testing.T, what string, took time.Duration) {
	t.Helper()
	if took > failFastGoal {
		t.Errorf("%s failed %v after its upstream Job, more than %v", what, took.Round(10*time.Millisecond), failFastGoal)
	}
}

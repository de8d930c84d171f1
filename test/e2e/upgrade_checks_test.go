package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// jobsOf returns the Job name of each stage of an app.
func jobsOf(ap *app) map[string]string {
	out := map[string]string{}
	for _, m := range ap.manifests {
		// A gate Job runs again exactly when the Job it releases does.
		if m.obj.GetKind() == "Job" && m.obj.GetLabels()[componentLabel] != "gate" {
			out[m.obj.GetLabels()["app.kubernetes.io/name"]] = m.obj.GetName()
		}
	}
	return out
}

// waitSettled waits until the app's Jobs are complete, its Deployments and
// StatefulSets have rolled out, and its claims are bound.
func waitSettled(t *testing.T, c *cluster, ns string, ap *app) {
	t.Helper()
	ctx := context.Background()
	var pending []string
	deadline := time.Now().Add(pipelineTimeout())
	for time.Now().Before(deadline) {
		pending = pending[:0]
		for _, m := range ap.manifests {
			if why := notSettled(ctx, c, ns, m); why != "" {
				pending = append(pending, m.obj.GetKind()+" "+m.obj.GetName()+": "+why)
			}
		}
		if len(pending) == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("app %s did not settle in namespace %s:\n\t%s", ap.dir, ns, strings.Join(pending, "\n\t"))
}

// notSettled says why an object has not settled, "" when it has.
func notSettled(ctx context.Context, c *cluster, ns string, m *manifest) string {
	name := m.obj.GetName()
	switch m.obj.GetKind() {
	case "Job":
		j, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if complete, failed, msg := jobFinished(j); !complete {
			return fmt.Sprintf("not complete (failed %v %s)", failed, msg)
		}
	case "Deployment":
		d, err := c.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		want := *d.Spec.Replicas
		if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas != want || d.Status.AvailableReplicas != want || d.Status.Replicas != want {
			return fmt.Sprintf("rolling out: %+v", d.Status)
		}
	case "StatefulSet":
		s, err := c.client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		want := *s.Spec.Replicas
		if s.Status.ObservedGeneration < s.Generation || s.Status.ReadyReplicas != want || s.Status.UpdatedReplicas != want || s.Status.CurrentRevision != s.Status.UpdateRevision {
			return fmt.Sprintf("rolling out: %+v", s.Status)
		}
	case "PersistentVolumeClaim":
		p, err := c.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if p.Status.Phase != corev1.ClaimBound {
			return "not bound"
		}
	}
	return ""
}

// checkReruns checks that exactly the Jobs whose names changed ran again,
// once each, and that the others were left alone; it returns the stages
// whose Jobs ran again.
func checkReruns(t *testing.T, e matrixEntry, before, after state, v1, v2 *app) []string {
	t.Helper()
	old, next := jobsOf(v1), jobsOf(v2)
	var reruns []string
	for stage, name := range next {
		j, ok := after.jobs[name]
		if !ok {
			t.Errorf("Job %s of stage %s is not on the cluster", name, stage)
			continue
		}
		if old[stage] == name {
			if b := before.jobs[name]; b.UID != j.UID || b.Status.Succeeded != j.Status.Succeeded {
				t.Errorf("Job %s of the unchanged stage %s ran again (uid %s -> %s, succeeded %d -> %d)", name, stage, b.UID, j.UID, b.Status.Succeeded, j.Status.Succeeded)
			}
			continue
		}
		reruns = append(reruns, stage)
		if complete, _, _ := jobFinished(&j); !complete || j.Status.Failed != 0 || j.Status.Succeeded != completions(&j) {
			t.Errorf("Job %s of stage %s did not run once to completion: %+v", name, stage, j.Status)
		}
		if _, stale := after.jobs[old[stage]]; stale && old[stage] != "" {
			t.Errorf("the previous Job %s of stage %s was not pruned", old[stage], stage)
		}
	}
	sort.Strings(reruns)
	want := slices.Clone(e.Reruns)
	sort.Strings(want)
	if !slices.Equal(reruns, want) {
		t.Errorf("the Jobs of %v ran again, want %v", reruns, want)
	}
	return reruns
}

func completions(j *batchv1.Job) int32 {
	if j.Spec.Completions == nil {
		return 1
	}
	return *j.Spec.Completions
}

// checkKeptPods checks that the workloads whose pod templates did not
// change kept their pods; it returns how many pods it compared.
func checkKeptPods(t *testing.T, v1, v2 *app, before, after state) int {
	t.Helper()
	old := map[string]string{}
	for _, m := range v1.manifests {
		if k := m.obj.GetKind(); k == "Deployment" || k == "StatefulSet" {
			old[k+"/"+m.obj.GetName()] = templateOf(m)
		}
	}
	kept := 0
	for _, m := range v2.manifests {
		k := m.obj.GetKind() + "/" + m.obj.GetName()
		tmpl, ok := old[k]
		if !ok || tmpl != templateOf(m) {
			continue
		}
		stage := m.obj.GetLabels()["app.kubernetes.io/name"]
		b, a := before.pods[stage], after.pods[stage]
		if len(b) == 0 || !slices.Equal(b, a) {
			t.Errorf("%s did not change, but its pods did: %v -> %v", k, b, a)
		}
		kept += len(a)
	}
	return kept
}

// checkPruned checks that what the second version no longer has is gone
// from the cluster; it returns how many objects were pruned.
func checkPruned(t *testing.T, c *cluster, v1, v2 *app) int {
	t.Helper()
	ctx := context.Background()
	a, err := newApplier(c.cfg, harnessFieldManager)
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{}
	for _, m := range v2.manifests {
		keep[objectKey(m.obj)] = true
	}
	pruned := 0
	for _, m := range v1.manifests {
		if keep[objectKey(m.obj)] {
			continue
		}
		pruned++
		deadline := time.Now().Add(time.Minute)
		for {
			_, err := a.get(ctx, m.obj)
			if notFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s was not pruned: %v", m, err)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return pruned
}

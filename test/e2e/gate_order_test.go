package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// checkGates proves, for each gate Job of an app, what the held Job and
// the gate may do, and that the held Job ran after its upstream Jobs:
//
//  1. the held Job's pods carry the scheduling gate, no init container that
//     waits, no ServiceAccount of their own and no API token;
//  2. the gate's pod runs as its own ServiceAccount, with the token in the
//     gate container alone; SubjectAccessReviews agree that the account may
//     get exactly the Jobs involved, patch the held Job's status, list and
//     patch pods and create Events, and may not get another Job, change a
//     Job's spec, patch an upstream Job's status, delete pods or read
//     Secrets;
//  3. the held Job's first pod was scheduled (PodScheduled) no earlier than
//     each upstream Job's completionTime (both at 1 s resolution).
func checkGates(ctx context.Context, c *cluster, ap *app, runs map[string]JobRun, objects map[string]*manifest) (string, []error) {
	gates, err := planGates(ap)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	var descs []string
	sars, denied := 0, 0
	for _, g := range gates {
		if g.cmd.Mode != "release" {
			continue
		}
		held := objects["Job/"+g.ns+"/"+g.cmd.Job]
		if held == nil {
			errs = append(errs, fmt.Errorf("%s: the Job it releases is not part of the app", g))
			continue
		}
		errs = append(errs, checkHeldJob(g, held)...)
		errs = append(errs, checkGateToken(g, objects)...)
		n, d, err := checkGateSAR(ctx, c, g, objects)
		sars, denied = sars+n, denied+d
		if err != nil {
			errs = append(errs, err)
		}
		desc, err := checkReleasedAfter(ctx, c, g, runs)
		if err != nil {
			errs = append(errs, err)
		}
		if d, err := checkHeldDeadline(ctx, c, g, held); err != nil {
			errs = append(errs, err)
		} else if d != "" {
			desc += ", " + d
		}
		if hasObject(objects, "ValidatingAdmissionPolicy", "stagecraft-gate."+g.ns+"."+g.account) {
			n, err := checkGateAdmission(ctx, c, g)
			if err != nil {
				errs = append(errs, err)
			}
			desc += fmt.Sprintf(", %d pod changes beyond its gate refused by the admission policy", n)
		}
		descs = append(descs, desc)
	}
	if len(descs) == 0 {
		return "", errs
	}
	return fmt.Sprintf("%d held Job(s) released by their gates (%s); gate RBAC verified by SubjectAccessReview (%d reviews, %d denied as expected)",
		len(descs), strings.Join(descs, "; "), sars, denied), errs
}

// checkHeldJob checks the pod template of the held Job.
func checkHeldJob(g *gateRun, m *manifest) []error {
	var errs []error
	spec, _ := podSpecOf(m.obj)
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{m}, a...)...))
	}
	if !heldByGate(spec) {
		fail("its pods carry no scheduling gate %s, so nothing holds them", gate.SchedulingGate)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		fail("its pods get an API token; only its gate needs one")
	}
	for _, c := range spec.InitContainers {
		if c.Name == waitContainer {
			fail("it also waits in an init container, which would hold its resources")
		}
	}
	for _, v := range spec.Volumes {
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					fail("volume %s projects an API token", v.Name)
				}
			}
		}
	}
	return errs
}

// checkGateToken checks that the gate's pod runs as its own account, with
// the token in the gate container alone.
func checkGateToken(g *gateRun, objects map[string]*manifest) []error {
	var errs []error
	m := objects["Job/"+g.ns+"/"+g.gateJob]
	spec, _ := podSpecOf(m.obj)
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{m}, a...)...))
	}
	sa := objects["ServiceAccount/"+g.ns+"/"+g.account]
	switch {
	case g.account == "" || g.account == "default":
		fail("the gate runs as the namespace's default ServiceAccount")
	case sa == nil:
		fail("ServiceAccount %s is not part of the app", g.account)
	default:
		if v, found, _ := unstructured.NestedBool(sa.obj.Object, "automountServiceAccountToken"); !found || v {
			fail("ServiceAccount %s mounts its token into every pod by default", g.account)
		}
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		fail("automountServiceAccountToken is not false")
	}
	if len(spec.Containers) != 1 || len(spec.InitContainers) != 0 {
		fail("the gate's pod has %d containers and %d init containers; want the gate alone", len(spec.Containers), len(spec.InitContainers))
	}
	return errs
}

// checkGateSAR asks the API server what the gate's ServiceAccount may do.
func checkGateSAR(ctx context.Context, c *cluster, g *gateRun, objects map[string]*manifest) (int, int, error) {
	type q struct {
		verb, group, resource, sub, name string
		allow                            bool
	}
	qs := []q{
		{"get", "batch", "jobs", "", g.cmd.Job, true},
		{"patch", "batch", "jobs", "status", g.cmd.Job, true},
		{"list", "", "pods", "", "", true},
		{"patch", "", "pods", "", "any-pod", true},
		{"create", "", "events", "", "", true},
		// The gate sets a held Job's deadline at release, when it has one.
		{"patch", "batch", "jobs", "", g.cmd.Job, heldDeadline(objects["Job/"+g.ns+"/"+g.cmd.Job]) != ""},
		{"delete", "batch", "jobs", "", g.cmd.Job, false},
		{"list", "batch", "jobs", "", "", false},
		{"delete", "", "pods", "", "any-pod", false},
		{"create", "", "pods", "", "", false},
		{"get", "", "secrets", "", "any-secret", false},
		{"patch", "", "pods", "status", "any-pod", false},
	}
	for _, u := range g.cmd.Upstream {
		qs = append(qs, q{"get", "batch", "jobs", "", u, true}, q{"patch", "batch", "jobs", "status", u, false})
	}
	for key := range objects {
		if kind, rest, _ := strings.Cut(key, "/"); kind == "Job" && strings.HasPrefix(rest, g.ns+"/") {
			name := strings.TrimPrefix(rest, g.ns+"/")
			if name != g.cmd.Job && !contains(g.cmd.Upstream, name) {
				qs = append(qs, q{"get", "batch", "jobs", "", name, false})
				break
			}
		}
	}
	var errs []error
	denied := 0
	for _, x := range qs {
		sar := &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
			User:   "system:serviceaccount:" + g.ns + ":" + g.account,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + g.ns, "system:authenticated"},
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: g.ns, Verb: x.verb, Group: x.group, Resource: x.resource,
				Subresource: x.sub, Name: x.name},
		}}
		got, err := c.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			return 0, 0, fmt.Errorf("%s: SubjectAccessReview: %w", g, err)
		}
		what := strings.TrimSuffix(x.verb+" "+x.resource+"/"+x.sub, "/") + " " + x.name
		switch {
		case got.Status.Allowed && !x.allow:
			errs = append(errs, fmt.Errorf("%s: ServiceAccount %s may %s; the gate should not", g, g.account, what))
		case !got.Status.Allowed && x.allow:
			errs = append(errs, fmt.Errorf("%s: ServiceAccount %s may not %s, which the gate needs (%s)", g, g.account, what, got.Status.Reason))
		case !x.allow:
			denied++
		}
	}
	return len(qs), denied, errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkReleasedAfter proves that the held Job's first pod was scheduled no
// earlier than every upstream Job completed.
func checkReleasedAfter(ctx context.Context, c *cluster, g *gateRun, runs map[string]JobRun) (string, error) {
	key := g.ns + "/" + g.cmd.Job
	if _, ok := runs[key]; !ok {
		return g.cmd.Job + " (did not run here)", nil
	}
	released, pods, err := releasedAt(ctx, c, g.ns, g.cmd.Job)
	if err != nil {
		return "", fmt.Errorf("%s: %w", g, err)
	}
	if released.IsZero() {
		return "", fmt.Errorf("%s: Job %s completed, yet none of its %d pods was scheduled", g, key, pods)
	}
	var errs []error
	var after []string
	for _, u := range g.cmd.Upstream {
		ur, ok := runs[g.ns+"/"+u]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no completed run of upstream Job %s recorded", g, u))
			continue
		}
		if released.Before(ur.Completed) {
			errs = append(errs, fmt.Errorf("%s: a pod of Job %s was scheduled at %s, before upstream Job %s completed (%s)", g, key,
				released.Format(time.TimeOnly), u, ur.Completed.Format(time.TimeOnly)))
		}
		after = append(after, fmt.Sprintf("%s completed %s", u, ur.Completed.Format(time.TimeOnly)))
	}
	return fmt.Sprintf("%s first scheduled %s, after %s", g.cmd.Job, released.Format(time.TimeOnly), strings.Join(after, ", ")), errors.Join(errs...)
}

// checkGateAdmission tries, with the gate's own token, the pod changes its
// Role allows but a gate must not make: the admission policy must refuse
// each. It returns how many were refused.
func checkGateAdmission(ctx context.Context, c *cluster, g *gateRun) (int, error) {
	client, _, err := clientsAs(ctx, c, g.ns, g.account)
	if err != nil {
		return 0, err
	}
	pods, err := c.client.CoreV1().Pods(g.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	stage := strings.TrimSuffix(g.account, "-gate")
	type try struct{ pod, what, patch string }
	var tries []try
	for _, p := range pods.Items {
		own := p.Labels["app.kubernetes.io/name"] == stage
		switch {
		case own && len(tries) < 4:
			tries = append(tries, try{p.Name, "label a pod of its own stage", `[{"op":"add","path":"/metadata/labels/e2e-gate-test","value":"x"}]`},
				try{p.Name, "change the image of a pod of its own stage", `[{"op":"replace","path":"/spec/containers/0/image","value":"registry.example/evil:1"}]`})
		case !own && p.Status.Phase == "Running" && len(tries) < 6:
			tries = append(tries, try{p.Name, "change the image of a running pod of another stage", `[{"op":"replace","path":"/spec/containers/0/image","value":"registry.example/evil:1"}]`})
		}
	}
	var errs []error
	refused := 0
	for _, x := range tries {
		_, err := client.CoreV1().Pods(g.ns).Patch(ctx, x.pod, types.JSONPatchType, []byte(x.patch), metav1.PatchOptions{})
		switch {
		case err == nil:
			errs = append(errs, fmt.Errorf("%s: its ServiceAccount could %s (pod %s)", g, x.what, x.pod))
		case strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'stagecraft-gate."+g.ns+"."+g.account+"'"):
			refused++
		default:
			errs = append(errs, fmt.Errorf("%s: trying to %s (pod %s) failed, but not by the gates' admission policy: %v", g, x.what, x.pod, err))
		}
	}
	if len(tries) == 0 {
		errs = append(errs, fmt.Errorf("%s: no pod to try the admission policy on", g))
	}
	n, err := checkGateRelease(ctx, c, g, client)
	return refused + n, errors.Join(append(errs, err)...)
}

// checkGateRelease creates, as the cluster's admin, a gated pod from the
// held Job's template, and tries as the gate to release it while changing
// something else of it: the admission policy must refuse each; then to
// release it alone, which it must allow. It returns how many were refused.
func checkGateRelease(ctx context.Context, c *cluster, g *gateRun, client kubernetes.Interface) (int, error) {
	job, err := c.client.BatchV1().Jobs(g.ns).Get(ctx, g.cmd.Job, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	probe := &corev1.Pod{ObjectMeta: *job.Spec.Template.ObjectMeta.DeepCopy(), Spec: *job.Spec.Template.Spec.DeepCopy()}
	probe.Name = "e2e-gate-probe-" + g.cmd.Job
	probe.Labels = maps.Clone(probe.Labels)
	delete(probe.Labels, "batch.kubernetes.io/controller-uid")
	delete(probe.Labels, "controller-uid")
	probe.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: gate.SchedulingGate}}
	if _, err := c.client.CoreV1().Pods(g.ns).Create(ctx, probe, metav1.CreateOptions{}); err != nil {
		return 0, fmt.Errorf("%s: creating a gated probe pod: %w", g, err)
	}
	defer c.client.CoreV1().Pods(g.ns).Delete(context.WithoutCancel(ctx), probe.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	release := `{"op":"remove","path":"/spec/schedulingGates"}`
	refused, errs := 0, []error(nil)
	for _, x := range []struct{ what, also string }{
		{"add a finalizer", `{"op":"add","path":"/metadata/finalizers","value":["e2e.example/keep"]}`},
		{"add an owner", `{"op":"add","path":"/metadata/ownerReferences","value":[{"apiVersion":"v1","kind":"ConfigMap","name":"x","uid":"00000000-0000-0000-0000-000000000001"}]}`},
		{"add an annotation", `{"op":"add","path":"/metadata/annotations","value":{"e2e":"x"}}`},
	} {
		_, err := client.CoreV1().Pods(g.ns).Patch(ctx, probe.Name, types.JSONPatchType, []byte("["+release+","+x.also+"]"), metav1.PatchOptions{})
		switch {
		case err == nil:
			return refused, fmt.Errorf("%s: its ServiceAccount could release a pod and %s at once", g, x.what)
		case strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'stagecraft-gate."+g.ns+"."+g.account+"'"):
			refused++
		default:
			errs = append(errs, fmt.Errorf("%s: trying to release a pod and %s failed, but not by the gates' admission policy: %v", g, x.what, err))
		}
	}
	if _, err := client.CoreV1().Pods(g.ns).Patch(ctx, probe.Name, types.JSONPatchType, []byte("["+release+"]"), metav1.PatchOptions{}); err != nil {
		errs = append(errs, fmt.Errorf("%s: its ServiceAccount could not release a gated pod of its stage: %v", g, err))
	}
	return refused, errors.Join(errs...)
}

// hasObject reports whether the app has an object of kind and name (in
// any namespace: cluster-scoped objects are keyed under "default").
func hasObject(objects map[string]*manifest, kind, name string) bool {
	for _, m := range objects {
		if m.obj.GetKind() == kind && m.obj.GetName() == name {
			return true
		}
	}
	return false
}

// heldDeadline returns the deadline annotation of a held Job's manifest,
// or "".
func heldDeadline(m *manifest) string {
	if m == nil {
		return ""
	}
	return m.obj.GetAnnotations()[gate.DeadlineAnnotation]
}

// checkHeldDeadline proves that a held Job with a deadline ships none in
// its spec (the Job controller would count it while the pods are held) and
// that its gate set it at release, through its Role and admission policy,
// to at least the deadline. It says what it found, or "" for a Job
// without a deadline.
func checkHeldDeadline(ctx context.Context, c *cluster, g *gateRun, m *manifest) (string, error) {
	want := heldDeadline(m)
	if _, found, _ := unstructured.NestedFieldNoCopy(m.obj.Object, "spec", "activeDeadlineSeconds"); found {
		return "", fmt.Errorf("%s: the held Job ships spec.activeDeadlineSeconds, which counts while its pods are held", m)
	}
	if want == "" {
		return "", nil
	}
	job, err := c.client.BatchV1().Jobs(g.ns).Get(ctx, g.cmd.Job, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("%s: %w", g, err)
	}
	d, _ := strconv.ParseInt(want, 10, 64)
	if s := job.Spec.ActiveDeadlineSeconds; s == nil || *s < d {
		return "", fmt.Errorf("%s: after the release the held Job's activeDeadlineSeconds is %v, want at least its deadline %d", g, s, d)
	}
	// A GitOps tool re-applies dist/ (server-side apply, the app's field
	// manager): the field it does not set keeps the gate's value.
	set := *job.Spec.ActiveDeadlineSeconds
	a, err := newApplier(c.cfg, appFieldManager)
	if err != nil {
		return "", err
	}
	if _, err := a.apply(ctx, m.obj.DeepCopy()); err != nil {
		return "", fmt.Errorf("%s: re-applying the held Job: %w", g, err)
	}
	if job, err = c.client.BatchV1().Jobs(g.ns).Get(ctx, g.cmd.Job, metav1.GetOptions{}); err != nil {
		return "", fmt.Errorf("%s: %w", g, err)
	}
	if s := job.Spec.ActiveDeadlineSeconds; s == nil || *s != set {
		return "", fmt.Errorf("%s: re-applying the held Job's manifest changed the deadline its gate set (%d) to %v", g, set, s)
	}
	return fmt.Sprintf("deadline set at release to %ds (%ss from then on), kept by a re-apply", set, want), nil
}

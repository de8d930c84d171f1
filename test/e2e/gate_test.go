package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// Gates. A BatchStage that waits for upstream Jobs is held by a scheduling
// gate and released by a gate Job running stagecraft's gate program; other
// stages wait in an init container running its wait mode. kwok runs no
// container, so the harness runs the same program (package gate, the code
// the image is built from) in-process, with the arguments dist/ gives it and
// a token of the ServiceAccount its pod would run as (TokenRequest), against
// the real API server: RBAC, the Job controller and the scheduler act on
// what it does. The gate Jobs themselves are held suspended, so that kwok
// does not "complete" a pod that ran nothing.

const (
	componentLabel = "app.kubernetes.io/component"
	// gateHoldManager owns spec.suspend of the gate Jobs the harness runs
	// in-process instead.
	gateHoldManager = "stagecraft-e2e-gates"
	// kueueManager owns spec.suspend of Jobs queued with Kueue, which the
	// stand-in for Kueue holds and admits.
	kueueManager    = "stagecraft-e2e-kueue"
	queueAnnotation = "stagecraft.dev/queue"
)

var localQueues = schema.GroupVersionResource{Group: "kueue.x-k8s.io", Version: "v1beta2", Resource: "localqueues"}

// gateRun is one gate program the harness runs in place of a pod.
type gateRun struct {
	where   string // the object whose pod would run it
	ns      string
	account string
	cmd     gate.Command
	gateJob string // the gate Job (release mode), held suspended here

	mu      sync.Mutex
	log     strings.Builder
	started time.Time
	ended   time.Time
	res     gate.Result
	err     error
	done    bool
}

func (g *gateRun) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.log.Write(p)
}

// result returns the gate's result once it has ended.
func (g *gateRun) result() (done bool, res gate.Result, ended time.Time, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.done, g.res, g.ended, g.err
}

func (g *gateRun) String() string {
	if g.cmd.Mode == "release" {
		return fmt.Sprintf("gate %s (releases Job %s/%s after %s)", g.where, g.ns, g.cmd.Job, strings.Join(g.cmd.Upstream, ", "))
	}
	return fmt.Sprintf("wait of %s (after %s)", g.where, strings.Join(g.cmd.Upstream, ", "))
}

// planGates finds the gate programs of an app: the gate container of each
// gate Job and the wait-upstream init container of each other template.
func planGates(ap *app) ([]*gateRun, error) {
	var out []*gateRun
	var errs []error
	for _, m := range ap.manifests {
		o := m.obj
		spec, ok := podSpecOf(o)
		if !ok {
			continue
		}
		ns := nsOrDefault(o.GetNamespace())
		for _, c := range append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...) {
			isGate := c.Name == "gate" && o.GetKind() == "Job" && o.GetLabels()[componentLabel] == "gate"
			if !isGate && c.Name != waitContainer {
				continue
			}
			cmd, err := gate.ParseArgs(c.Args)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: container %s: %w", m, c.Name, err))
				continue
			}
			if cmd.Namespace != ns {
				errs = append(errs, fmt.Errorf("%s: container %s acts in namespace %s, not its own", m, c.Name, cmd.Namespace))
			}
			g := &gateRun{where: o.GetKind() + " " + ns + "/" + o.GetName(), ns: ns, account: spec.ServiceAccountName, cmd: cmd}
			if isGate {
				g.gateJob = o.GetName()
			}
			out = append(out, g)
		}
	}
	return out, errors.Join(errs...)
}

// holdGateJobs suspends the gate Jobs before the controllers start.
func holdGateJobs(ctx context.Context, c *cluster, gates []*gateRun) error {
	for _, g := range gates {
		if g.gateJob == "" {
			continue
		}
		cfg := batchv1ac.Job(g.gateJob, g.ns).WithSpec(batchv1ac.JobSpec().WithSuspend(true))
		if _, err := c.client.BatchV1().Jobs(g.ns).Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: gateHoldManager}); err != nil {
			return fmt.Errorf("hold gate Job %s/%s: %w", g.ns, g.gateJob, err)
		}
	}
	return nil
}

// clientsAs returns clients that act as a ServiceAccount, with a token the
// API server issues for it.
func clientsAs(ctx context.Context, c *cluster, ns, account string) (kubernetes.Interface, dynamic.Interface, error) {
	tok, err := c.client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, account,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("a token for ServiceAccount %s/%s: %w", ns, account, err)
	}
	cfg := &rest.Config{Host: c.cfg.Host, BearerToken: tok.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAFile: c.caFile}, UserAgent: "stagecraft-gate (e2e)"}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	return client, dyn, err
}

// start runs the gate program as its ServiceAccount until it ends or ctx
// is done.
func (g *gateRun) start(ctx context.Context, c *cluster) error {
	if g.account == "" {
		return fmt.Errorf("%s: its pod names no ServiceAccount", g)
	}
	client, dyn, err := clientsAs(ctx, c, g.ns, g.account)
	if err != nil {
		return fmt.Errorf("%s: %w", g, err)
	}
	g.mu.Lock()
	g.started = time.Now()
	g.mu.Unlock()
	go func() {
		res, err := g.cmd.RunSafely(ctx, client, gate.Queues{Client: dyn}, g)
		g.mu.Lock()
		defer g.mu.Unlock()
		g.res, g.err, g.ended, g.done = res, err, time.Now(), true
	}()
	return nil
}

// gateEnds expects a gate program to end with want.
func gateEnds(g *gateRun, want gate.Outcome) expectation {
	return expectation{what: g.String() + " ends", check: func(context.Context) (bool, string, error) {
		done, res, ended, err := g.result()
		switch {
		case !done:
			return false, "running", nil
		case err != nil:
			return false, "", permanent{Err: fmt.Errorf("%s: %v; its log:\n%s", g, err, g.logText())}
		case res.Outcome != want:
			return false, "", permanent{Err: fmt.Errorf("%s ended with %q (exit status %d); its log:\n%s", g, res.Message, gate.ExitStatus(res.Outcome), g.logText())}
		}
		return true, fmt.Sprintf("%q, %v after it started", res.Message, ended.Sub(g.started).Round(10*time.Millisecond)), nil
	}}
}

func (g *gateRun) logText() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.log.String()
}

// queuedJob is a Job of the app queued with Kueue.
type queuedJob struct {
	ns, name string
	queue    string // its kueue.x-k8s.io/queue-name label: the LocalQueue it waits for
	chosen   string // the LocalQueue the user chose (stagecraft.dev/queue), for a held run
	admitted time.Time
}

// kueueStandIn stands in for Kueue, within what the harness can show: it
// suspends each queued Job before the controllers start, as Kueue's
// webhook suspends it on creation, and admits it (resumes it) once the
// LocalQueue its label names exists and its sync wave is released. Kueue's
// quota, ClusterQueues and Workloads are not modelled: NOT PROVEN against
// Kueue itself.
type kueueStandIn struct {
	jobs []*queuedJob
}

// planKueue finds the queued Jobs of an app and creates the LocalQueues the
// user chose (the target cluster must have them).
func planKueue(ctx context.Context, t *testing.T, c *cluster, ap *app) (*kueueStandIn, error) {
	k := &kueueStandIn{}
	made := map[string]bool{}
	for _, m := range ap.manifests {
		o := m.obj
		q := o.GetLabels()[kueueQueueLabel]
		if o.GetKind() != "Job" || q == "" {
			continue
		}
		j := &queuedJob{ns: nsOrDefault(o.GetNamespace()), name: o.GetName(), queue: q, chosen: o.GetAnnotations()[queueAnnotation]}
		k.jobs = append(k.jobs, j)
		chosen := j.chosen
		if chosen == "" {
			chosen = q
		}
		if made[j.ns+"/"+chosen] {
			continue
		}
		made[j.ns+"/"+chosen] = true
		lq := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "LocalQueue",
			"metadata": map[string]any{"name": chosen, "namespace": j.ns},
			"spec":     map[string]any{"clusterQueue": "e2e-cluster-queue"},
		}}
		dyn, err := dynamic.NewForConfig(c.cfg)
		if err != nil {
			return nil, err
		}
		if _, err := dyn.Resource(localQueues).Namespace(j.ns).Create(ctx, lq, metav1.CreateOptions{FieldManager: harnessFieldManager}); err != nil {
			return nil, fmt.Errorf("create LocalQueue %s/%s: %w", j.ns, chosen, err)
		}
		t.Logf("ASSUMED: Kueue LocalQueue %s/%s is used but not shipped by the app, so the target cluster must provide it; created here (ClusterQueue e2e-cluster-queue)", j.ns, chosen)
	}
	return k, nil
}

// hold suspends the queued Jobs, as Kueue's webhook does when they are
// created.
func (k *kueueStandIn) hold(ctx context.Context, c *cluster) error {
	for _, j := range k.jobs {
		cfg := batchv1ac.Job(j.name, j.ns).WithSpec(batchv1ac.JobSpec().WithSuspend(true))
		if _, err := c.client.BatchV1().Jobs(j.ns).Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: kueueManager}); err != nil {
			return fmt.Errorf("suspend queued Job %s/%s (as Kueue's webhook would): %w", j.ns, j.name, err)
		}
	}
	return nil
}

// expectation admits each queued Job once its LocalQueue exists and its
// wave (if the harness releases it by wave) is released.
func (k *kueueStandIn) expectation(t *testing.T, c *cluster, waves *waveRelease) expectation {
	dyn, _ := dynamic.NewForConfig(c.cfg)
	return expectation{what: "Jobs queued with Kueue admitted by the stand-in for Kueue", check: func(ctx context.Context) (bool, string, error) {
		var waiting []string
		for _, j := range k.jobs {
			if !j.admitted.IsZero() {
				continue
			}
			if !waves.releasedKey(j.ns + "/" + j.name) {
				waiting = append(waiting, j.name+" (sync wave not released)")
				continue
			}
			lq, err := dyn.Resource(localQueues).Namespace(j.ns).Get(ctx, j.queue, metav1.GetOptions{})
			if err != nil {
				waiting = append(waiting, fmt.Sprintf("%s (LocalQueue %s: %v)", j.name, j.queue, err))
				continue
			}
			cfg := batchv1ac.Job(j.name, j.ns).WithSpec(batchv1ac.JobSpec().WithSuspend(false))
			if _, err := c.client.BatchV1().Jobs(j.ns).Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: kueueManager}); err != nil {
				return false, "", permanent{Err: fmt.Errorf("admit Job %s/%s: %w", j.ns, j.name, err)}
			}
			j.admitted = time.Now()
			cq, _, _ := unstructured.NestedString(lq.Object, "spec", "clusterQueue")
			t.Logf("stand-in for Kueue: admitted Job %s/%s: its LocalQueue %s exists (ClusterQueue %s, created by %s)", j.ns, j.name, j.queue, cq, managerOf(lq))
		}
		if len(waiting) > 0 {
			return false, "waiting: " + strings.Join(waiting, ", "), nil
		}
		return true, fmt.Sprintf("%d Job(s) admitted", len(k.jobs)), nil
	}}
}

// managerOf names who created an object: its first field manager.
func managerOf(o *unstructured.Unstructured) string {
	if mf := o.GetManagedFields(); len(mf) > 0 {
		return mf[0].Manager
	}
	return "unknown"
}

// acceleratorSampler samples the app's pods while they run and records the
// largest number of accelerators held by pods that wait for upstream Jobs:
// pods on a node whose wait-upstream init container has not finished. Pods
// held by a scheduling gate are on no node and hold nothing; they are
// counted apart.
type acceleratorSampler struct {
	mu          sync.Mutex
	samples     int
	maxHeld     int64
	heldBy      string
	maxGated    int
	maxGatedAcc int64
}

func (s *acceleratorSampler) run(ctx context.Context, c *cluster, namespaces []string) {
	for ctx.Err() == nil {
		var held, gatedAcc int64
		var gatedPods int
		var who []string
		for _, ns := range namespaces {
			pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, p := range pods.Items {
				acc := podAccelerators(&p)
				switch {
				case len(p.Spec.SchedulingGates) > 0:
					gatedPods++
					gatedAcc += acc
					if p.Spec.NodeName != "" {
						held += acc // cannot happen: a gated pod is not scheduled
						who = append(who, p.Name+" (gated, yet on a node)")
					}
				case p.Spec.NodeName != "" && acc > 0 && waitingInInit(&p):
					held += acc
					who = append(who, p.Name)
				}
			}
		}
		s.mu.Lock()
		s.samples++
		if held > s.maxHeld {
			s.maxHeld, s.heldBy = held, strings.Join(who, ", ")
		}
		if gatedPods > s.maxGated {
			s.maxGated = gatedPods
		}
		if gatedAcc > s.maxGatedAcc {
			s.maxGatedAcc = gatedAcc
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *acceleratorSampler) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := fmt.Sprintf("accelerators held by waiting pods: max %d over %d samples", s.maxHeld, s.samples)
	if s.heldBy != "" {
		out += " (" + s.heldBy + ")"
	}
	return out + fmt.Sprintf("; up to %d pods held by a scheduling gate at once, requesting %d accelerators, on no node", s.maxGated, s.maxGatedAcc)
}

// podAccelerators sums the extended resources (anything but CPU, memory,
// ephemeral storage and huge pages) the pod's containers request.
func podAccelerators(p *corev1.Pod) int64 {
	var n int64
	for _, c := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
		for name, q := range c.Resources.Limits {
			s := string(name)
			if s != "cpu" && s != "memory" && s != "ephemeral-storage" && !strings.HasPrefix(s, "hugepages-") {
				n += q.Value()
			}
		}
	}
	return n
}

// waitingInInit reports whether the pod's wait-upstream init container has
// not terminated successfully yet.
func waitingInInit(p *corev1.Pod) bool {
	has := false
	for _, c := range p.Spec.InitContainers {
		has = has || c.Name == waitContainer
	}
	if !has {
		return false
	}
	for _, st := range p.Status.InitContainerStatuses {
		if st.Name == waitContainer && st.State.Terminated != nil && st.State.Terminated.ExitCode == 0 {
			return false
		}
	}
	return true
}

// releasedAt returns when the first pod of a Job was scheduled (its
// PodScheduled condition became true), or zero if none was.
func releasedAt(ctx context.Context, c *cluster, ns, job string) (time.Time, int, error) {
	j, err := c.client.BatchV1().Jobs(ns).Get(ctx, job, metav1.GetOptions{})
	if err != nil {
		return time.Time{}, 0, err
	}
	pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: gate.ControllerUIDLabel + "=" + string(j.UID)})
	if err != nil {
		return time.Time{}, 0, err
	}
	var first time.Time
	for _, p := range pods.Items {
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionTrue && (first.IsZero() || cond.LastTransitionTime.Time.Before(first)) {
				first = cond.LastTransitionTime.Time
			}
		}
	}
	return first, len(pods.Items), nil
}

// runGates starts, in the harness, the release gates of an app that has
// been applied, and returns a function that stops them and reports a gate
// that ended other than Done.
func runGates(t *testing.T, c *cluster, ap *app) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	gates, err := planGates(ap)
	if err != nil {
		t.Fatal(err)
	}
	var started []*gateRun
	for _, g := range gates {
		if g.cmd.Mode != "release" {
			continue
		}
		if err := g.start(ctx, c); err != nil {
			cancel()
			t.Fatal(err)
		}
		started = append(started, g)
	}
	return func() {
		// Read the results before stopping the gates: a gate stopped while
		// it still waits for its held Job ends with context.Canceled, which
		// is the harness's doing, not the gate's.
		defer cancel()
		for _, g := range started {
			if done, res, _, err := g.result(); done && (err != nil || res.Outcome != gate.Done) {
				t.Errorf("%s ended with %q, %v; its log:\n%s", g, res.Message, err, g.logText())
			}
		}
	}
}

// installKueueCRD installs Kueue's LocalQueue definition, which gates use
// to queue a held run (testdata/kueue, from the Kueue module).
func installKueueCRD(t *testing.T, c *cluster) {
	t.Helper()
	if _, err := installPrerequisites(context.Background(), c, []string{"testdata/kueue"}); err != nil {
		t.Fatalf("install Kueue's LocalQueue CRD: %v", err)
	}
}

// holdForHarness holds, before the controllers start, what the harness
// releases itself: the gate Jobs (their program runs in the harness) and
// the Jobs queued with Kueue (for the stand-in for Kueue).
func holdForHarness(ctx context.Context, t *testing.T, c *cluster, ap *app, gates []*gateRun) *kueueStandIn {
	t.Helper()
	if err := holdGateJobs(ctx, c, gates); err != nil {
		t.Fatal(err)
	}
	kueue, err := planKueue(ctx, t, c, ap)
	if err != nil {
		t.Fatal(err)
	}
	if err := kueue.hold(ctx, c); err != nil {
		t.Fatal(err)
	}
	return kueue
}

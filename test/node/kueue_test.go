package node

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// Kueue does not run on this node. Where an app queues a Job with Kueue,
// the suite stands in for the two things of Kueue the pipeline relies on,
// and says so (NOT PROVEN: Kueue's own admission, quota, ClusterQueues and
// Workloads):
//
//   - Kueue's webhook suspends a Job labelled kueue.x-k8s.io/queue-name when
//     it is created. Here a MutatingAdmissionPolicy of the API server does
//     that, at creation (test/e2e suspends such Jobs with a patch before its
//     controllers start; here the Job controller runs already, and a patch
//     after the create would race it);
//   - Kueue admits (resumes) a suspended Job once the LocalQueue its label
//     names exists (with quota to spare). Here the suite resumes it as soon
//     as that LocalQueue exists, as test/e2e's stand-in does.
//
// Kueue's LocalQueue definition (test/e2e/testdata/kueue, copied from the
// Kueue module) is installed, so that the gate creates a run's LocalQueue
// for real, with its own ServiceAccount; the LocalQueue the user chose (the
// Job's stagecraft.dev/queue annotation) is created by the suite, as the
// target cluster must provide it (ASSUMED).

const (
	kueueCRDs          = "../e2e/testdata/kueue"
	kueueManager       = "stagecraft-node-kueue"
	kueuePolicy        = "stagecraft-node-kueue-suspend"
	kueueClusterQueue  = "stagecraft-node-cluster-queue"
	kueueAdmitInterval = 250 * time.Millisecond
)

var localQueues = schema.GroupVersionResource{Group: "kueue.x-k8s.io", Version: "v1beta2", Resource: "localqueues"}

// installKueueStandIn installs the policy that suspends queued Jobs at
// creation and checks that it acts (the API server loads policies a moment
// after they are created).
func (c *cluster) installKueueStandIn(ctx context.Context) error {
	fail, never := admissionv1.Fail, admissionv1.NeverReinvocationPolicy
	policy := &admissionv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: kueuePolicy},
		Spec: admissionv1.MutatingAdmissionPolicySpec{
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create},
					Rule:       admissionv1.Rule{APIGroups: []string{"batch"}, APIVersions: []string{"v1"}, Resources: []string{"jobs"}},
				},
			}}},
			MatchConditions: []admissionv1.MatchCondition{{
				Name:       "queued",
				Expression: fmt.Sprintf("has(object.metadata.labels) && %q in object.metadata.labels", gate.QueueLabel),
			}},
			FailurePolicy:      &fail,
			ReinvocationPolicy: never,
			Mutations: []admissionv1.Mutation{{
				PatchType:          admissionv1.PatchTypeApplyConfiguration,
				ApplyConfiguration: &admissionv1.ApplyConfiguration{Expression: "Object{spec: Object.spec{suspend: true}}"},
			}},
		},
	}
	cs := c.client.AdmissionregistrationV1()
	if err := ensure(create(cs.MutatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}))); err != nil {
		return err
	}
	binding := &admissionv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: kueuePolicy},
		Spec:       admissionv1.MutatingAdmissionPolicyBindingSpec{PolicyName: kueuePolicy},
	}
	if err := ensure(create(cs.MutatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}))); err != nil {
		return err
	}
	probe := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "kueue-stand-in-probe", Namespace: "default", Labels: map[string]string{gate.QueueLabel: "probe"}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "probe", Image: sentinelImage}},
		}}},
	}
	return waitFor(30*time.Second, 200*time.Millisecond, c.procs, func() (bool, error) {
		got, err := c.client.BatchV1().Jobs("default").Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return false, err
		}
		return got.Spec.Suspend != nil && *got.Spec.Suspend, fmt.Errorf("a queued Job is not suspended at creation yet")
	})
}

// queuedJob is a Job of the run queued with Kueue.
type queuedJob struct {
	ns, name string
	queue    string // the LocalQueue its label names
	chosen   string // the LocalQueue the user chose (annotation), or queue
	// suspended: the Job was suspended when the stand-in first saw it.
	suspended bool
	admitted  time.Time
	// queueCreated: when that LocalQueue was created, and by whom.
	queueCreated time.Time
	queueBy      string
}

// kueueStandIn admits the queued Jobs of one run.
type kueueStandIn struct {
	mu   sync.Mutex
	jobs []*queuedJob
	stop func()
}

// planKueue finds the Jobs of the run queued with Kueue.
func (r *run) planKueue() {
	r.kueue = &kueueStandIn{}
	for _, tm := range r.tmpls {
		q := tm.obj.u.GetLabels()[gate.QueueLabel]
		if tm.kind != batchJob || q == "" {
			continue
		}
		chosen := tm.obj.u.GetAnnotations()[gate.QueueAnnotation]
		if chosen == "" {
			chosen = q
		}
		r.kueue.jobs = append(r.kueue.jobs, &queuedJob{ns: tm.ns(), name: tm.obj.u.GetName(), queue: q, chosen: chosen})
	}
}

// createChosenQueues creates the LocalQueues the users chose, which the
// target cluster must provide.
func (r *run) createChosenQueues(ctx context.Context) error {
	made := map[string]bool{}
	for _, j := range r.kueue.jobs {
		if made[j.ns+"/"+j.chosen] {
			continue
		}
		made[j.ns+"/"+j.chosen] = true
		lq := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "LocalQueue",
			"metadata": map[string]any{"name": j.chosen, "namespace": j.ns},
			"spec":     map[string]any{"clusterQueue": kueueClusterQueue},
		}}
		if _, err := r.c.dynamic.Resource(localQueues).Namespace(j.ns).Create(ctx, lq, metav1.CreateOptions{FieldManager: fieldManager}); ensure(err) != nil {
			return fmt.Errorf("create LocalQueue %s/%s: %w", j.ns, j.chosen, err)
		}
		r.note("ASSUMED: Kueue LocalQueue %s/%s is used but not shipped: the target cluster must provide it (created here, on ClusterQueue %s)", j.ns, j.chosen, kueueClusterQueue)
	}
	return nil
}

// startKueue starts admitting the queued Jobs: each suspended one is
// resumed once the LocalQueue its label names exists.
func (r *run) startKueue(ctx context.Context) {
	k := r.kueue
	if len(k.jobs) == 0 {
		k.stop = func() {}
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	k.stop = func() { cancel(); wg.Wait() }
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for _, j := range k.jobs {
				r.admit(ctx, j)
			}
			select {
			case <-ctx.Done():
			case <-time.After(kueueAdmitInterval):
			}
		}
	}()
}

// admit resumes j if it is suspended and its LocalQueue exists.
func (r *run) admit(ctx context.Context, j *queuedJob) {
	k := r.kueue
	k.mu.Lock()
	done := !j.admitted.IsZero()
	k.mu.Unlock()
	if done {
		return
	}
	job, err := r.c.client.BatchV1().Jobs(j.ns).Get(ctx, j.name, metav1.GetOptions{})
	if err != nil {
		return
	}
	if finished, _ := gate.Finished(job); finished {
		return
	}
	k.mu.Lock()
	if job.Spec.Suspend != nil && *job.Spec.Suspend {
		j.suspended = true
	}
	k.mu.Unlock()
	lq, err := r.c.dynamic.Resource(localQueues).Namespace(j.ns).Get(ctx, j.queue, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || err != nil {
		return
	}
	patch := mustJSON(map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": j.name, "namespace": j.ns}, "spec": map[string]any{"suspend": false}})
	force := true
	if _, err := r.c.client.BatchV1().Jobs(j.ns).Patch(ctx, j.name, types.ApplyPatchType, patch, metav1.PatchOptions{FieldManager: kueueManager, Force: &force}); err != nil {
		fmt.Printf("node: stand-in for Kueue: resume Job %s/%s: %v\n", j.ns, j.name, err)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	j.admitted = time.Now()
	j.queueCreated = lq.GetCreationTimestamp().Time
	if mf := lq.GetManagedFields(); len(mf) > 0 {
		j.queueBy = mf[0].Manager
	}
}

// queued returns a copy of what the stand-in knows of Job ns/name, or nil.
func (r *run) queued(ns, name string) *queuedJob {
	if r.kueue == nil {
		return nil
	}
	r.kueue.mu.Lock()
	defer r.kueue.mu.Unlock()
	for _, j := range r.kueue.jobs {
		if j.ns == ns && j.name == name {
			c := *j
			return &c
		}
	}
	return nil
}

// kueueNotes says what the stand-in did, and that Kueue itself is NOT
// PROVEN.
func (r *run) kueueNotes() {
	if r.kueue == nil {
		return
	}
	var names []string
	for _, j := range r.kueue.jobs {
		names = append(names, j.ns+"/"+j.name)
	}
	sort.Strings(names)
	for _, n := range names {
		r.note("NOT PROVEN (not a failure): Kueue admission of Job %s (quota, ClusterQueue, Workload): no Kueue runs on this node; stand-ins suspended it at creation (a MutatingAdmissionPolicy, as Kueue's webhook) and resumed it once the LocalQueue its kueue.x-k8s.io/queue-name label names existed (as Kueue admits)", n)
	}
}

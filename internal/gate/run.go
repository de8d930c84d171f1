package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Outcome is how a gate ended.
type Outcome int

const (
	// Done: the upstream Jobs completed (and, for Release, the gated Job
	// has finished).
	Done Outcome = iota
	// UpstreamFailed: an upstream Job failed; Release has failed the gated
	// Job.
	UpstreamFailed
	// TimedOut: the upstream Jobs did not complete in time; Release has
	// failed the gated Job.
	TimedOut
)

// Result is how a gate ended, and a message that says why, for the
// container's termination message.
type Result struct {
	Outcome Outcome
	Message string
}

// Upstream is what both modes share: the Jobs a stage runs after and how
// to watch them.
type Upstream struct {
	Client    kubernetes.Interface
	Namespace string
	// Jobs are the names of the upstream Jobs.
	Jobs []string
	// Interval between two looks at the Jobs. Default: 5 seconds.
	Interval time.Duration
	// Timeout fails the stage when the upstream Jobs have not all completed
	// this long after the gate started. Zero: no timeout.
	Timeout time.Duration
	// Log receives one line per change of state. Default: discarded.
	Log io.Writer
	// now is the clock; time.Now by default.
	now func() time.Time
}

func (u *Upstream) defaults() {
	if u.Interval <= 0 {
		u.Interval = 5 * time.Second
	}
	if u.Log == nil {
		u.Log = io.Discard
	}
	if u.now == nil {
		u.now = time.Now
	}
}

// decide reads the upstream Jobs and decides. An error other than a Job
// not found is returned: the caller looks again later.
func (u *Upstream) decide(ctx context.Context) (Verdict, error) {
	jobs := map[string]*batchv1.Job{}
	for _, name := range u.Jobs {
		j, err := u.Client.BatchV1().Jobs(u.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return Verdict{}, fmt.Errorf("read Job %s/%s: %w", u.Namespace, name, err)
		}
		jobs[name] = j
	}
	return Decide(u.Jobs, jobs), nil
}

// logger writes a line when it differs from the last one.
type logger struct {
	w    io.Writer
	last string
}

func (l *logger) say(format string, args ...any) {
	if s := fmt.Sprintf(format, args...); s != l.last {
		fmt.Fprintln(l.w, s)
		l.last = s
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Wait returns once every upstream Job has completed (Done), or as soon as
// one has failed (UpstreamFailed) or the timeout has passed (TimedOut). It
// is the init container of a long-running stage that was asked to wait.
// Errors reading the Jobs are logged and retried; the error returned is
// the context's.
func Wait(ctx context.Context, u Upstream) (Result, error) {
	u.defaults()
	log := &logger{w: u.Log}
	start := u.now()
	for {
		v, err := u.decide(ctx)
		switch {
		case err != nil:
			log.say("%v (retrying)", err)
		case v.Action == Release:
			log.say("%s", v.Message)
			return Result{Done, v.Message}, nil
		case v.Action == Fail:
			return Result{UpstreamFailed, v.Message}, nil
		default:
			log.say("%s", v.Message)
			if u.Timeout > 0 && u.now().Sub(start) >= u.Timeout {
				return Result{TimedOut, fmt.Sprintf("timed out after %v %s", u.Timeout, v.Message)}, nil
			}
		}
		if err := sleep(ctx, u.Interval); err != nil {
			return Result{}, err
		}
	}
}

// ErrNotGated is returned by Release when the Job it releases has no
// scheduling gate on its pod template: the gate and the Job do not belong
// together.
var ErrNotGated = errors.New("the Job's pod template has no scheduling gate " + SchedulingGate)

// Releaser releases one Job that carries SchedulingGate.
type Releaser struct {
	Upstream
	// Job is the name of the gated Job.
	Job string
	// Queues creates the LocalQueue of a run queued with Kueue. Default:
	// through the API, with Client's configuration (see NewQueues).
	Queues QueueCreator
}

// QueueCreator creates, for a Job queued with Kueue, the LocalQueue its
// queue-name label names.
type QueueCreator interface {
	// Ensure creates LocalQueue name in namespace, on the ClusterQueue of
	// LocalQueue like, owned by the Job owner. It returns nil if the queue
	// exists already.
	Ensure(ctx context.Context, namespace, name, like string, owner *batchv1.Job) error
}

// Run holds the Job until the upstream Jobs have completed, then removes
// the scheduling gate from its pods until it has finished (pods created
// later, by retries or parallelism, carry the gate too). When an upstream
// Job fails, or the timeout passes first, it fails the Job with a
// condition and an Event saying why. Errors of the API are logged and
// retried; the error returned is the context's, or ErrNotGated.
func (r *Releaser) Run(ctx context.Context) (Result, error) {
	r.defaults()
	log := &logger{w: r.Log}
	released := false
	for {
		job, err := r.Client.BatchV1().Jobs(r.Namespace).Get(ctx, r.Job, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			log.say("waiting for Job %s to be created", r.Job)
		case err != nil:
			log.say("read Job %s: %v (retrying)", r.Job, err)
		default:
			if done, msg := Finished(job); done {
				return Result{Done, msg}, nil
			}
			if gateIndex(&corev1.Pod{Spec: job.Spec.Template.Spec}) < 0 {
				return Result{}, fmt.Errorf("release %s/%s: %w", r.Namespace, r.Job, ErrNotGated)
			}
			if !released {
				switch st, res := r.hold(ctx, job, log); st {
				case failed:
					return res, nil
				case releasedNow:
					released = true
				}
			}
			if released {
				if err := r.ungate(ctx, job, log); err != nil {
					log.say("%v (retrying)", err)
				}
			}
		}
		if err := sleep(ctx, r.Interval); err != nil {
			return Result{}, err
		}
	}
}

// holdStep is where a held Job stands after one look at its upstream.
type holdStep int

const (
	held        holdStep = iota // still held
	releasedNow                 // released: ungate its pods from now on
	failed                      // failed: the gate's work is over
)

// hold decides about the Job while it is held, and carries the decision
// out. A failed step comes with the result of the gate.
// The timeout counts from the Job's creation, so that a restarted gate
// does not start it again.
func (r *Releaser) hold(ctx context.Context, job *batchv1.Job, log *logger) (holdStep, Result) {
	v, err := r.decide(ctx)
	if err != nil {
		log.say("%v (retrying)", err)
		return held, Result{}
	}
	switch v.Action {
	case Fail:
		return r.fail(ctx, job, ReasonUpstreamFailed, v.Message, UpstreamFailed)
	case Hold:
		log.say("%s", v.Message)
		if r.Timeout > 0 && r.now().Sub(job.CreationTimestamp.Time) >= r.Timeout {
			msg := fmt.Sprintf("timed out after %v %s", r.Timeout, v.Message)
			return r.fail(ctx, job, ReasonUpstreamTimeout, msg, TimedOut)
		}
		return held, Result{}
	}
	if like := job.Annotations[QueueAnnotation]; like != "" {
		name := job.Labels[QueueLabel]
		if err := r.queues().Ensure(ctx, r.Namespace, name, like, job); err != nil {
			log.say("%s, but LocalQueue %s cannot be created: %v (retrying)", v.Message, name, err)
			return held, Result{}
		}
		v.Message += fmt.Sprintf("; queued in LocalQueue %s (on the ClusterQueue of %s)", name, like)
	}
	log.say("%s: releasing Job %s", v.Message, r.Job)
	r.event(ctx, job, corev1.EventTypeNormal, ReasonReleased, v.Message+": pods released")
	return releasedNow, Result{}
}

// fail fails the Job with reason and message. A failure to write the
// status is retried on the next look.
func (r *Releaser) fail(ctx context.Context, job *batchv1.Job, reason, msg string, o Outcome) (holdStep, Result) {
	patch := FailurePatch(job, reason, msg, metav1.NewTime(r.now()))
	if _, err := r.Client.BatchV1().Jobs(r.Namespace).Patch(ctx, job.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		fmt.Fprintf(r.Log, "%s, but failing Job %s failed: %v (retrying)\n", msg, job.Name, err)
		return held, Result{}
	}
	r.event(ctx, job, corev1.EventTypeWarning, reason, msg)
	fmt.Fprintf(r.Log, "failed Job %s: %s\n", job.Name, msg)
	return failed, Result{o, msg}
}

// ungate removes the scheduling gate from the Job's pods.
func (r *Releaser) ungate(ctx context.Context, job *batchv1.Job, log *logger) error {
	pods, err := r.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: ControllerUIDLabel + "=" + string(job.UID)})
	if err != nil {
		return fmt.Errorf("list the pods of Job %s: %w", job.Name, err)
	}
	var errs []error
	for i := range pods.Items {
		p := &pods.Items[i]
		patch := UngatePatch(p)
		if patch == nil || p.DeletionTimestamp != nil {
			continue
		}
		_, err := r.Client.CoreV1().Pods(r.Namespace).Patch(ctx, p.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("release pod %s: %w", p.Name, err))
			continue
		}
		log.say("released pod %s", p.Name)
	}
	return errors.Join(errs...)
}

// event records an Event on the Job; a failure is logged only.
func (r *Releaser) event(ctx context.Context, job *batchv1.Job, typ, reason, msg string) {
	now := metav1.NewTime(r.now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: job.Name + ".", Namespace: r.Namespace},
		InvolvedObject: corev1.ObjectReference{APIVersion: "batch/v1", Kind: "Job", Namespace: r.Namespace,
			Name: job.Name, UID: job.UID, ResourceVersion: job.ResourceVersion},
		Reason: reason, Message: truncate(msg, 1024), Type: typ,
		Source:         corev1.EventSource{Component: "stagecraft-gate"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := r.Client.CoreV1().Events(r.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		fmt.Fprintf(r.Log, "record event %s on Job %s: %v\n", reason, job.Name, err)
	}
}

func (r *Releaser) queues() QueueCreator {
	if r.Queues == nil {
		r.Queues = unavailableQueues{}
	}
	return r.Queues
}

// unavailableQueues is the QueueCreator of a Releaser built without one.
type unavailableQueues struct{}

func (unavailableQueues) Ensure(context.Context, string, string, string, *batchv1.Job) error {
	return errors.New("no Kueue client configured")
}

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

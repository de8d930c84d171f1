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
	// Misconfigured: the gate cannot do its work (the API refuses it, its
	// arguments or the held Job's annotations are wrong); Release has
	// failed the gated Job with ReasonGateFailed.
	Misconfigured
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
	// Grace is how long the gate retries answers of the API that say it is
	// misconfigured (forbidden, unauthorized, an object or field that does
	// not exist) before it gives up: Release fails the held Job with
	// ReasonGateFailed, Wait returns Misconfigured. Default: 2 minutes
	// (RBAC objects applied in the same sync may come a little later).
	Grace time.Duration
	// now is the clock; time.Now by default.
	now func() time.Time
	// denied is when the current run of such answers began; zero: none.
	denied time.Time
}

// defaultGrace is Upstream.Grace's default.
const defaultGrace = 2 * time.Minute

// misconfigured tells an answer of the API that retrying will not change
// (the gate's permissions, a name or a value) from a passing one.
func misconfigured(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) ||
		apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsMethodNotSupported(err)
}

// givingUp records err, the trouble of one look, and reports whether
// answers that say the gate is misconfigured have now lasted Grace. A nil
// or passing err ends such a run.
func (u *Upstream) givingUp(err error) bool {
	if err == nil || !misconfigured(err) {
		u.denied = time.Time{}
		return false
	}
	now := u.now()
	if u.denied.IsZero() {
		u.denied = now
	}
	return now.Sub(u.denied) >= u.Grace
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
	if u.Grace <= 0 {
		u.Grace = defaultGrace
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
			if u.givingUp(err) {
				return Result{Misconfigured, fmt.Sprintf("the gate is misconfigured: %v", err)}, nil
			}
			v.Message = err.Error()
		case v.Action == Release:
			log.say("%s", v.Message)
			return Result{Done, v.Message}, nil
		case v.Action == Fail:
			return Result{UpstreamFailed, v.Message}, nil
		default:
			u.givingUp(nil)
			log.say("%s", v.Message)
		}
		if u.Timeout > 0 && u.now().Sub(start) >= u.Timeout {
			return Result{TimedOut, fmt.Sprintf("timed out after %v %s", u.Timeout, v.Message)}, nil
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
// Job fails, or the timeout passes first (whatever holds the Job), it
// fails the Job with a condition and an Event saying why; so it does when
// the API has refused its work for Grace (ReasonGateFailed). Other errors
// of the API are logged and retried; the error returned is the context's,
// ErrNotGated, or one saying that the gate could not fail the Job either.
func (r *Releaser) Run(ctx context.Context) (Result, error) {
	r.defaults()
	log := &logger{w: r.Log}
	released := false
	start := r.now()
	for {
		job, err := r.Client.BatchV1().Jobs(r.Namespace).Get(ctx, r.Job, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			log.say("waiting for Job %s to be created", r.Job)
			if r.Timeout > 0 && r.now().Sub(start) >= r.Timeout {
				return Result{}, fmt.Errorf("no Job %s/%s was created within %v: the gate names no Job of this namespace", r.Namespace, r.Job, r.Timeout)
			}
		case err != nil:
			if res, done, ferr := r.retry(ctx, log, nil, fmt.Errorf("read Job %s: %w", r.Job, err)); done {
				return res, ferr
			}
		default:
			if res, done, err := r.look(ctx, job, log, &released); done {
				return res, err
			}
		}
		if err := sleep(ctx, r.Interval); err != nil {
			return Result{}, err
		}
	}
}

// look decides about the held Job once and carries the decision out; done
// tells that the gate's work is over.
func (r *Releaser) look(ctx context.Context, job *batchv1.Job, log *logger, released *bool) (res Result, done bool, err error) {
	if fin, msg := Finished(job); fin {
		return Result{Done, msg}, true, nil
	}
	if gateIndex(&corev1.Pod{Spec: job.Spec.Template.Spec}) < 0 {
		return Result{}, true, fmt.Errorf("release %s/%s: %w", r.Namespace, r.Job, ErrNotGated)
	}
	if !*released {
		st, res, err := r.hold(ctx, job, log)
		switch {
		case st == failed:
			return res, true, nil
		case err != nil:
			return r.retry(ctx, log, job, err)
		case st == releasedNow:
			*released = true
		}
	}
	if *released {
		if err := r.ungate(ctx, job, log); err != nil {
			return r.retry(ctx, log, job, err)
		}
	}
	r.givingUp(nil)
	return Result{}, false, nil
}

// retry logs err, the trouble of one look. Once answers that say the gate
// is misconfigured have lasted Grace, it fails the held Job (job, or the
// Job by name when it cannot be read) with ReasonGateFailed, and the
// gate's work is over.
func (r *Releaser) retry(ctx context.Context, log *logger, job *batchv1.Job, err error) (Result, bool, error) {
	log.say("%v (retrying)", err)
	if !r.givingUp(err) {
		return Result{}, false, nil
	}
	if job == nil {
		job = &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: r.Job, Namespace: r.Namespace}}
	}
	msg := fmt.Sprintf("the gate is misconfigured: %v", err)
	if st, res := r.fail(ctx, job, ReasonGateFailed, msg, Misconfigured); st == failed {
		return res, true, nil
	}
	return Result{}, true, fmt.Errorf("%s; the gate could not fail Job %s either", msg, r.Job)
}

// holdStep is where a held Job stands after one look at its upstream.
type holdStep int

const (
	held        holdStep = iota // still held
	releasedNow                 // released: ungate its pods from now on
	failed                      // failed: the gate's work is over
)

// hold decides about the Job while it is held, and carries the decision
// out. A failed step comes with the result of the gate; an error is the
// API's, which the caller retries. The timeout counts from the Job's
// creation, so that a restarted gate does not start it again, and ends
// the hold whatever holds the Job (its upstream Jobs or an error).
func (r *Releaser) hold(ctx context.Context, job *batchv1.Job, log *logger) (holdStep, Result, error) {
	st, res, why, err := r.tryRelease(ctx, job, log)
	if st == held && r.Timeout > 0 && r.now().Sub(job.CreationTimestamp.Time) >= r.Timeout {
		st, res = r.fail(ctx, job, ReasonUpstreamTimeout, fmt.Sprintf("timed out after %v %s", r.Timeout, why), TimedOut)
		return st, res, nil
	}
	return st, res, err
}

// tryRelease releases the Job if its upstream Jobs have completed: it
// creates its LocalQueue (with Kueue) and sets its deadline (when it has
// one), or fails it if an upstream Job failed. why says what still holds
// it.
func (r *Releaser) tryRelease(ctx context.Context, job *batchv1.Job, log *logger) (st holdStep, res Result, why string, err error) {
	v, err := r.decide(ctx)
	if err != nil {
		return held, Result{}, err.Error(), err
	}
	switch v.Action {
	case Fail:
		st, res := r.fail(ctx, job, ReasonUpstreamFailed, v.Message, UpstreamFailed)
		return st, res, v.Message, nil
	case Hold:
		log.say("%s", v.Message)
		return held, Result{}, v.Message, nil
	}
	if like := job.Annotations[QueueAnnotation]; like != "" {
		name := job.Labels[QueueLabel]
		if err := r.queues().Ensure(ctx, r.Namespace, name, like, job); err != nil {
			err = fmt.Errorf("%s, but LocalQueue %s cannot be created: %w", v.Message, name, err)
			return held, Result{}, err.Error(), err
		}
		v.Message += fmt.Sprintf("; queued in LocalQueue %s (on the ClusterQueue of %s)", name, like)
	}
	if st, res, err := r.setDeadline(ctx, job, v.Message); st != releasedNow || err != nil {
		return st, res, v.Message, err
	}
	log.say("%s: releasing Job %s", v.Message, r.Job)
	r.event(ctx, job, corev1.EventTypeNormal, ReasonReleased, v.Message+": pods released")
	return releasedNow, Result{}, "", nil
}

// setDeadline sets the held Job's activeDeadlineSeconds from its
// DeadlineAnnotation, as it is released (see DeadlinePatch); a wrong
// annotation fails the Job.
func (r *Releaser) setDeadline(ctx context.Context, job *batchv1.Job, why string) (holdStep, Result, error) {
	patch, err := DeadlinePatch(job, r.now())
	if err != nil {
		st, res := r.fail(ctx, job, ReasonGateFailed, "the gate is misconfigured: "+err.Error(), Misconfigured)
		return st, res, nil
	}
	if patch == nil {
		return releasedNow, Result{}, nil
	}
	if _, err := r.Client.BatchV1().Jobs(r.Namespace).Patch(ctx, job.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return held, Result{}, fmt.Errorf("%s, but the deadline of Job %s cannot be set: %w", why, job.Name, err)
	}
	return releasedNow, Result{}, nil
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

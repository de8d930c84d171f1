package gate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// A held Job's deadline, and a gate that cannot do its work: each case
// ends with the held Job failed and the reason on it, never held.

// clock0 is where releaser's clock starts.
var clock0 = time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)

func TestDeadlinePatch(t *testing.T) {
	now := clock0.Add(10*time.Minute + 300*time.Millisecond)
	held := func(mod func(j *batchv1.Job)) *batchv1.Job {
		j := gated("d")
		j.CreationTimestamp = metav1.NewTime(clock0)
		j.Annotations = map[string]string{DeadlineAnnotation: "3600"}
		if mod != nil {
			mod(j)
		}
		return j
	}
	for _, tc := range []struct {
		name, want, err string
		job             *batchv1.Job
	}{
		{name: "from the creation, rounded up", job: held(nil), want: `{"spec":{"activeDeadlineSeconds":4201}}`},
		{name: "from the start time", job: held(func(j *batchv1.Job) { st := metav1.NewTime(clock0.Add(5 * time.Minute)); j.Status.StartTime = &st }),
			want: `{"spec":{"activeDeadlineSeconds":3901}}`},
		{name: "suspended: counts from its resume", job: held(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }), want: `{"spec":{"activeDeadlineSeconds":3600}}`},
		{name: "set already (a restarted gate)", job: held(func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](4000) })},
		{name: "no deadline", job: gated("d")},
		{name: "not a number", job: held(func(j *batchv1.Job) { j.Annotations[DeadlineAnnotation] = "1h" }),
			err: `annotation stagecraft.dev/active-deadline-seconds of Job d is "1h", not a positive whole number of seconds`},
		{name: "zero", job: held(func(j *batchv1.Job) { j.Annotations[DeadlineAnnotation] = "0" }), err: `is "0", not a positive`},
		{name: "too large to add the wait to", job: held(func(j *batchv1.Job) { j.Annotations[DeadlineAnnotation] = "9223372036854775807" }),
			err: `is "9223372036854775807", not a positive whole number of seconds up to 2147483647`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DeadlinePatch(tc.job, now)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("patch %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// TestReleaseSetsDeadline: the gate sets the held Job's
// activeDeadlineSeconds before it releases the first pod, so that the
// pods get the whole deadline from their release on.
func TestReleaseSetsDeadline(t *testing.T) {
	d := gated("d")
	d.CreationTimestamp = metav1.NewTime(clock0)
	d.Annotations = map[string]string{DeadlineAnnotation: "600"}
	r, c := releaser(inNS(job("a", "Complete=Completed:")), d, gatedPod("d-1"))
	var deadlineAtUngate *int64
	c.PrependReactor("patch", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		j, _ := c.Tracker().Get(schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, ns, "d")
		if deadlineAtUngate == nil {
			deadlineAtUngate = ptr.To[int64](-1)
			if s := j.(*batchv1.Job).Spec.ActiveDeadlineSeconds; s != nil {
				deadlineAtUngate = s
			}
		}
		return false, nil, nil
	})
	run(t, r, func() bool {
		pods, _ := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		return len(GatedPods(pods.Items)) == 0
	})
	got, _ := c.BatchV1().Jobs(ns).Get(context.Background(), "d", metav1.GetOptions{})
	s := got.Spec.ActiveDeadlineSeconds
	// The clock advances a minute per look: the release came a few
	// minutes after the creation.
	if s == nil || *s <= 600+60 || *s > 600+10*60 {
		t.Fatalf("activeDeadlineSeconds %v, want 600 plus the minutes the Job was held", s)
	}
	if deadlineAtUngate == nil || *deadlineAtUngate != *s {
		t.Errorf("deadline when the first pod was released: %v, want %d", deadlineAtUngate, *s)
	}
}

// forbid makes every verb on resource answer Forbidden.
func forbid(c *fake.Clientset, verb, resource string) {
	c.PrependReactor(verb, resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "batch", Resource: resource}, "x", errors.New("RBAC: access denied"))
	})
}

func failedBy(t *testing.T, c *fake.Clientset, reason, says string) {
	t.Helper()
	d, _ := c.BatchV1().Jobs(ns).Get(context.Background(), "d", metav1.GetOptions{})
	if phase, r, msg := JobPhase(d); phase != Failed || r != reason || !strings.Contains(msg, says) {
		t.Errorf("Job d: %v %s %q; want failed, %s, saying %q", phase, r, msg, reason, says)
	}
}

func TestReleaseFailsWhenItMayNotReadUpstream(t *testing.T) {
	r, c := releaser(inNS(job("a")), gated("d"), gatedPod("d-1"))
	r.Grace = 3 * time.Minute
	c.PrependReactor("get", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.GetAction).GetName() == "a" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "batch", Resource: "jobs"}, "a", errors.New("RBAC: access denied"))
		}
		return false, nil, nil
	})
	res, err := r.Run(context.Background())
	if err != nil || res.Outcome != Misconfigured || ExitStatus(res.Outcome) != 1 {
		t.Fatalf("result %+v, %v", res, err)
	}
	failedBy(t, c, ReasonGateFailed, `the gate is misconfigured: read Job p/a: jobs.batch "a" is forbidden: RBAC: access denied`)
}

func TestReleaseCannotFailEither(t *testing.T) {
	r, c := releaser(inNS(job("a")), gated("d"))
	r.Grace = time.Minute
	forbid(c, "get", "jobs")
	forbid(c, "patch", "jobs")
	_, err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the gate could not fail Job d either") {
		t.Errorf("err = %v", err)
	}
}

func TestReleaseFailsWhenItMayNotReleasePods(t *testing.T) {
	r, c := releaser(inNS(job("a", "Complete=Completed:")), gated("d"), gatedPod("d-1"))
	r.Grace = 3 * time.Minute
	forbid(c, "patch", "pods")
	res, err := r.Run(context.Background())
	if err != nil || res.Outcome != Misconfigured {
		t.Fatalf("result %+v, %v", res, err)
	}
	failedBy(t, c, ReasonGateFailed, "release pod d-1")
}

// TestReleaseTimesOutWhateverHolds: a LocalQueue that cannot be created
// holds the Job no longer than the timeout.
func TestReleaseTimesOutWhateverHolds(t *testing.T) {
	d := gated("d")
	d.CreationTimestamp = metav1.NewTime(clock0)
	d.Labels = map[string]string{QueueLabel: "d-1234abcd"}
	d.Annotations = map[string]string{QueueAnnotation: "gpu"}
	r, c := releaser(inNS(job("a", "Complete=Completed:")), d)
	r.Timeout, r.Queues = 10*time.Minute, brokenQueues{}
	res, err := r.Run(context.Background())
	if err != nil || res.Outcome != TimedOut {
		t.Fatalf("result %+v, %v", res, err)
	}
	failedBy(t, c, ReasonUpstreamTimeout, "LocalQueue d-1234abcd cannot be created: the queue is busy")
}

func TestReleaseFailsOnBadDeadline(t *testing.T) {
	d := gated("d")
	d.Annotations = map[string]string{DeadlineAnnotation: "soon"}
	r, c := releaser(inNS(job("a", "Complete=Completed:")), d, gatedPod("d-1"))
	res, err := r.Run(context.Background())
	if err != nil || res.Outcome != Misconfigured {
		t.Fatalf("result %+v, %v", res, err)
	}
	failedBy(t, c, ReasonGateFailed, `"soon", not a positive whole number of seconds`)
	pods, _ := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if len(GatedPods(pods.Items)) != 1 {
		t.Error("a pod was released")
	}
}

type brokenQueues struct{ panics bool }

func (b brokenQueues) Ensure(context.Context, string, string, string, *batchv1.Job) error {
	if b.panics {
		panic("index out of range [3] with length 3")
	}
	return errors.New("the queue is busy")
}

func TestRunSafelyFailsTheJobOnACrash(t *testing.T) {
	d := gated("d")
	d.Labels = map[string]string{QueueLabel: "d-1234abcd"}
	d.Annotations = map[string]string{QueueAnnotation: "gpu"}
	c := fake.NewClientset(inNS(job("a", "Complete=Completed:")), d)
	cmd, err := ParseArgs([]string{"release", "--namespace=p", "--job=d", "--upstream=a", "--interval=1ms"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := cmd.RunSafely(context.Background(), c, brokenQueues{panics: true}, nil)
	if err != nil || res.Outcome != Misconfigured || !strings.HasPrefix(res.Message, "the gate crashed: index out of range") {
		t.Fatalf("result %+v, %v", res, err)
	}
	failedBy(t, c, ReasonGateFailed, "the gate crashed: index out of range [3] with length 3")
}

func TestFailHeldOnWrongArguments(t *testing.T) {
	c := fake.NewClientset(inNS(job("a")), gated("d"), inNS(job("other")))
	cmd, err := ParseArgs([]string{"release", "--namespace=p", "--job=d", "--upstream=a", "--timeout=forever"})
	if err == nil {
		t.Fatal("wrong --timeout accepted")
	}
	if ferr := cmd.FailHeld(context.Background(), c, "the gate's arguments are wrong: "+err.Error(), nil); ferr != nil {
		t.Fatal(ferr)
	}
	failedBy(t, c, ReasonGateFailed, `the gate's arguments are wrong: invalid value "forever" for flag -timeout`)
	// A Job that carries no scheduling gate is not the gate's to fail.
	cmd.Job = "other"
	if err := cmd.FailHeld(context.Background(), c, "x", nil); err != nil {
		t.Fatal(err)
	}
	if o, _ := c.BatchV1().Jobs(ns).Get(context.Background(), "other", metav1.GetOptions{}); len(o.Status.Conditions) != 0 {
		t.Errorf("an ungated Job was failed: %+v", o.Status.Conditions)
	}
	if err := (Command{Mode: "release"}).FailHeld(context.Background(), c, "x", nil); err == nil {
		t.Error("a command that names no Job failed something")
	}
}

func TestWaitEndsWhenMisconfigured(t *testing.T) {
	c := fake.NewClientset()
	forbid(c, "get", "jobs")
	u := Upstream{Client: c, Namespace: ns, Jobs: []string{"a"}, Interval: time.Millisecond, Grace: 20 * time.Millisecond}
	res, err := Wait(context.Background(), u)
	if err != nil || res.Outcome != Misconfigured || !strings.Contains(res.Message, "forbidden") || ExitStatus(res.Outcome) != 1 {
		t.Errorf("result %+v, %v", res, err)
	}
}

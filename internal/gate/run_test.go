package gate

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// The Releaser against client-go's fake clientset: the decisions in
// order. test/e2e runs the same code against a real API server, with the
// gate's own service account.

const ns = "p"

func gated(name string) *batchv1.Job {
	j := job(name)
	j.Namespace, j.UID = ns, "uid-d"
	j.Spec.Template.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: SchedulingGate}}
	return j
}

func gatedPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{ControllerUIDLabel: "uid-d"}},
		Spec:       corev1.PodSpec{SchedulingGates: []corev1.PodSchedulingGate{{Name: SchedulingGate}}},
	}
}

func inNS(j *batchv1.Job) *batchv1.Job { j.Namespace = ns; return j }

// releaser returns a Releaser of Job d after upstream a, whose clock
// advances a minute per look.
func releaser(objs ...runtime.Object) (*Releaser, *fake.Clientset) {
	c := fake.NewClientset(objs...)
	t := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	r := &Releaser{Upstream: Upstream{Client: c, Namespace: ns, Jobs: []string{"a"}, Interval: time.Millisecond,
		now: func() time.Time { t = t.Add(time.Minute); return t }}, Job: "d"}
	return r, c
}

func run(t *testing.T, r *Releaser, stop func() bool) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if stop() {
				cancel()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res, err := r.Run(ctx)
	if err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
	return res
}

func TestReleaseUngatesOnceUpstreamCompleted(t *testing.T) {
	r, c := releaser(inNS(job("a", "Complete=Completed:")), gated("d"), gatedPod("d-1"), gatedPod("d-2"))
	run(t, r, func() bool {
		pods, _ := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		return len(GatedPods(pods.Items)) == 0
	})
	pods, _ := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if g := GatedPods(pods.Items); len(g) != 0 {
		t.Errorf("still gated: %v", g)
	}
	events, _ := c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if len(events.Items) != 1 || events.Items[0].Reason != ReasonReleased {
		t.Errorf("events %+v, want one %s", events.Items, ReasonReleased)
	}
}

func TestReleaseHoldsWhileUpstreamRuns(t *testing.T) {
	r, c := releaser(inNS(job("a")), gated("d"), gatedPod("d-1"))
	looks := 0
	run(t, r, func() bool { looks++; return looks > 20 })
	pods, _ := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if g := GatedPods(pods.Items); len(g) != 1 {
		t.Errorf("gated pods %v, want d-1 still gated", g)
	}
}

func TestReleaseFailsOnUpstreamFailure(t *testing.T) {
	r, c := releaser(inNS(job("a", "Failed=BackoffLimitExceeded:Job has reached the specified backoff limit")), gated("d"), gatedPod("d-1"))
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := "upstream Job a failed (BackoffLimitExceeded): Job has reached the specified backoff limit"
	if res.Outcome != UpstreamFailed || res.Message != want {
		t.Errorf("result %+v, want UpstreamFailed %q", res, want)
	}
	d, _ := c.BatchV1().Jobs(ns).Get(context.Background(), "d", metav1.GetOptions{})
	if phase, reason, msg := JobPhase(d); phase != Failed || reason != ReasonUpstreamFailed || msg != want {
		t.Errorf("Job d: %v %s %q, want failed by the gate", phase, reason, msg)
	}
	events, _ := c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if len(events.Items) != 1 || events.Items[0].Type != corev1.EventTypeWarning || events.Items[0].Message != want {
		t.Errorf("events %+v", events.Items)
	}
}

func TestReleaseTimesOut(t *testing.T) {
	r, c := releaser(gated("d"))
	r.Timeout = 10 * time.Minute // the clock advances a minute per look
	res, err := r.Run(context.Background())
	if err != nil || res.Outcome != TimedOut || !strings.Contains(res.Message, "waiting for Job a (not created yet)") {
		t.Fatalf("result %+v, %v", res, err)
	}
	d, _ := c.BatchV1().Jobs(ns).Get(context.Background(), "d", metav1.GetOptions{})
	if phase, reason, _ := JobPhase(d); phase != Failed || reason != ReasonUpstreamTimeout {
		t.Errorf("Job d: %v %s", phase, reason)
	}
}

func TestReleaseEndsWhenJobFinished(t *testing.T) {
	r, _ := releaser(inNS(job("a", "Complete=Completed:")), func() *batchv1.Job {
		d := gated("d")
		d.Status.Conditions = job("d", "Complete=Completed:").Status.Conditions
		return d
	}())
	res, err := r.Run(context.Background())
	if err != nil || res.Outcome != Done || res.Message != "Job d completed" {
		t.Errorf("result %+v, %v", res, err)
	}
}

func TestReleaseRefusesUngatedJob(t *testing.T) {
	d := inNS(job("d"))
	r, _ := releaser(inNS(job("a")), d)
	if _, err := r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no scheduling gate") {
		t.Errorf("err = %v, want ErrNotGated", err)
	}
}

// fakeQueues records the LocalQueues it is asked for.
type fakeQueues struct{ made []string }

func (f *fakeQueues) Ensure(_ context.Context, namespace, name, like string, owner *batchv1.Job) error {
	f.made = append(f.made, namespace+"/"+name+" like "+like+" owned by "+owner.Name)
	return nil
}

func TestReleaseQueuesWithKueue(t *testing.T) {
	d := gated("d")
	d.Labels = map[string]string{QueueLabel: "d-1234abcd"}
	d.Annotations = map[string]string{QueueAnnotation: "gpu"}
	d.Spec.Suspend = ptr.To(true)
	r, _ := releaser(inNS(job("a", "Complete=Completed:")), d)
	q := &fakeQueues{}
	r.Queues = q
	looks := 0
	run(t, r, func() bool { looks++; return len(q.made) > 0 && looks > 5 })
	if len(q.made) != 1 || q.made[0] != "p/d-1234abcd like gpu owned by d" {
		t.Errorf("queues made: %v", q.made)
	}
}

func TestWait(t *testing.T) {
	c := fake.NewClientset(inNS(job("a", "Complete=Completed:")), inNS(job("b", "Failed=DeadlineExceeded:Job was active longer than specified deadline")))
	res, err := Wait(context.Background(), Upstream{Client: c, Namespace: ns, Jobs: []string{"a"}, Interval: time.Millisecond})
	if err != nil || res.Outcome != Done {
		t.Errorf("complete upstream: %+v %v", res, err)
	}
	res, err = Wait(context.Background(), Upstream{Client: c, Namespace: ns, Jobs: []string{"a", "b"}, Interval: time.Millisecond})
	if err != nil || res.Outcome != UpstreamFailed || res.Message != "upstream Job b failed (DeadlineExceeded): Job was active longer than specified deadline" {
		t.Errorf("failed upstream: %+v %v", res, err)
	}
	if ExitStatus(res.Outcome) != ExitUpstreamFailed {
		t.Errorf("exit status %d", ExitStatus(res.Outcome))
	}
}

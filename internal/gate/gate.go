// Package gate holds a stagecraft stage until the Jobs it depends on have
// completed, and fails it as soon as one of them fails.
//
// stagecraft writes a run-to-completion stage that runs after other Jobs
// with a scheduling gate on its pod template (SchedulingGate): its pods
// exist but the scheduler places none of them, so they hold no node, no
// accelerator and no Kueue quota. A small gate Job runs "gate release":
// once every upstream Job has completed it removes the scheduling gate from
// the stage's pods (and, for a stage queued with Kueue, creates the
// LocalQueue the run is labelled with, so that the run reaches its queue
// only now); when an upstream Job fails, or does not complete in time, it
// fails the stage's Job at once, with a condition whose reason is
// ReasonUpstreamFailed or ReasonUpstreamTimeout and whose message names the
// upstream Job and why it failed. A gate that cannot do its work (the API
// refuses it, its arguments are wrong, it crashed) fails the stage's Job
// too, with ReasonGateFailed, rather than leave it held. At release it
// sets the Job's activeDeadlineSeconds from DeadlineAnnotation, so that
// the deadline counts from then on. Long-running stages that were asked
// to wait run "gate wait" in an init container instead.
//
// The functions of this file decide; Release and Wait (run.go) carry the
// decisions out through the Kubernetes API.
package gate

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// SchedulingGate is the name of the scheduling gate (spec.schedulingGates)
	// on the pods of a stage that waits for upstream Jobs.
	SchedulingGate = "stagecraft.dev/upstream"
	// ReasonUpstreamFailed is the reason of the FailureTarget and Failed
	// conditions of a Job whose upstream Job failed.
	ReasonUpstreamFailed = "UpstreamFailed"
	// ReasonUpstreamTimeout is the reason of those conditions when the
	// upstream Jobs did not complete within the timeout.
	ReasonUpstreamTimeout = "UpstreamTimeout"
	// ReasonGateFailed is the reason of those conditions when the gate is
	// misconfigured: the API refuses its work (its Role, its binding), or
	// its arguments or the Job's annotations are wrong, or it crashed.
	ReasonGateFailed = "GateFailed"
	// DeadlineAnnotation, on a held Job, is its ActiveDeadline in whole
	// seconds. The Job controller counts spec.activeDeadlineSeconds from
	// the Job's start, while its pods are still held; so stagecraft leaves
	// that field out and the gate sets it as it releases the Job (see
	// DeadlinePatch). A GitOps tool that re-applies the manifests does not
	// manage the field, so it keeps the gate's value.
	DeadlineAnnotation = "stagecraft.dev/active-deadline-seconds"
	// ReasonReleased is the reason of the Event recorded on a Job when its
	// upstream Jobs have completed and its pods are released.
	ReasonReleased = "UpstreamCompleted"
	// QueueAnnotation, on a Job queued with Kueue, names the LocalQueue the
	// user chose. The Job's kueue.x-k8s.io/queue-name label names a
	// LocalQueue of its own run instead, which does not exist until the gate
	// creates it, on the ClusterQueue of the chosen one, when the run is
	// released.
	QueueAnnotation = "stagecraft.dev/queue"
	// QueueLabel is Kueue's label that names a Job's LocalQueue.
	QueueLabel = "kueue.x-k8s.io/queue-name"
	// ControllerUIDLabel is the label the Job controller puts on a Job's pods.
	ControllerUIDLabel = "batch.kubernetes.io/controller-uid"
)

// Exit statuses of the gate command.
const (
	// ExitUpstreamFailed: an upstream Job failed; the gated Job was failed.
	ExitUpstreamFailed = 2
	// ExitTimeout: the upstream Jobs did not complete within the timeout.
	ExitTimeout = 3
	// ExitMisconfigured: a usage or configuration error; the gated Job
	// was failed when the gate could.
	ExitMisconfigured = 1
)

// Phase is where a Job stands, as far as the stages after it are concerned.
type Phase int

const (
	// Missing: the Job does not exist (yet: the deploy tool may apply it
	// later).
	Missing Phase = iota
	// Running: the Job exists and has not finished.
	Running
	// Complete: the Job has the Complete condition.
	Complete
	// Failed: the Job has the Failed condition, or FailureTarget (the Job
	// controller has decided it fails and is terminating its pods).
	Failed
)

// JobPhase returns where job stands, and for a failed Job the reason and
// message of its failure. A nil job is Missing.
func JobPhase(job *batchv1.Job) (phase Phase, reason, message string) {
	if job == nil {
		return Missing, "", ""
	}
	for _, t := range []batchv1.JobConditionType{batchv1.JobFailed, batchv1.JobFailureTarget} {
		if c := condition(job, t); c != nil {
			return Failed, c.Reason, c.Message
		}
	}
	if condition(job, batchv1.JobComplete) != nil {
		return Complete, "", ""
	}
	return Running, "", ""
}

func condition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if c := &job.Status.Conditions[i]; c.Type == t && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// Action is what to do about a stage, given its upstream Jobs.
type Action int

const (
	// Hold: some upstream Job has not completed yet.
	Hold Action = iota
	// Release: every upstream Job has completed.
	Release
	// Fail: an upstream Job failed.
	Fail
)

// Verdict is the decision about a stage.
type Verdict struct {
	Action Action
	// Message says why: for Fail, which upstream Jobs failed and why; for
	// Hold, which have not completed.
	Message string
}

// Decide returns what to do about a stage that runs after the Jobs named
// upstream, found in jobs (a name absent from jobs is Missing). A failure
// wins over everything else: the stage fails as soon as one upstream Job
// has failed, even while others still run.
func Decide(upstream []string, jobs map[string]*batchv1.Job) Verdict {
	var failed, pending []string
	for _, name := range upstream {
		switch phase, reason, msg := JobPhase(jobs[name]); phase {
		case Failed:
			failed = append(failed, describeFailure(name, reason, msg))
		case Missing:
			pending = append(pending, name+" (not created yet)")
		case Running:
			pending = append(pending, name)
		}
	}
	switch {
	case len(failed) > 0:
		return Verdict{Fail, strings.Join(failed, "; ")}
	case len(pending) > 0:
		return Verdict{Hold, "waiting for Job " + strings.Join(pending, ", ")}
	}
	return Verdict{Release, "Job " + strings.Join(upstream, ", ") + " completed"}
}

// describeFailure says which upstream Job failed and why.
func describeFailure(name, reason, msg string) string {
	s := "upstream Job " + name + " failed"
	if reason != "" {
		s += " (" + reason + ")"
	}
	if msg != "" {
		s += ": " + msg
	}
	return s
}

// Finished reports whether the gated Job has finished, and how.
func Finished(job *batchv1.Job) (bool, string) {
	switch phase, reason, msg := JobPhase(job); phase {
	case Complete:
		return true, "Job " + job.Name + " completed"
	case Failed:
		return true, strings.TrimSuffix("Job "+job.Name+" failed ("+reason+"): "+msg, ": ")
	}
	return false, ""
}

// GatedPods returns the names of the pods that still carry SchedulingGate,
// sorted.
func GatedPods(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		if gateIndex(&p) >= 0 && p.DeletionTimestamp == nil {
			out = append(out, p.Name)
		}
	}
	sort.Strings(out)
	return out
}

func gateIndex(p *corev1.Pod) int {
	for i, g := range p.Spec.SchedulingGates {
		if g.Name == SchedulingGate {
			return i
		}
	}
	return -1
}

// UngatePatch returns the JSON patch that removes SchedulingGate from pod,
// or nil if it has none. The patch tests the gate's position first, so
// that it fails rather than remove another gate if the list has changed.
func UngatePatch(pod *corev1.Pod) []byte {
	i := gateIndex(pod)
	if i < 0 {
		return nil
	}
	path := fmt.Sprintf("/spec/schedulingGates/%d", i)
	b, _ := json.Marshal([]map[string]string{
		{"op": "test", "path": path + "/name", "value": SchedulingGate},
		{"op": "remove", "path": path},
	})
	return b
}

// FailurePatch returns the strategic merge patch of the status of job that
// fails it with reason and message. A running Job gets the FailureTarget
// condition: the Job controller then terminates its pods and adds Failed
// itself. The Job controller does not act on a suspended Job (one Kueue
// has not admitted), so that one gets Failed too, and the start time a
// finished Job must have.
func FailurePatch(job *batchv1.Job, reason, message string, now metav1.Time) []byte {
	c := func(t batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message,
			LastProbeTime: now, LastTransitionTime: now}
	}
	status := batchv1.JobStatus{Conditions: []batchv1.JobCondition{c(batchv1.JobFailureTarget)}}
	if job.Spec.Suspend != nil && *job.Spec.Suspend {
		status.Conditions = append(status.Conditions, c(batchv1.JobFailed))
		if job.Status.StartTime == nil {
			status.StartTime = &now
		}
	}
	b, _ := json.Marshal(map[string]any{"status": status})
	return b
}

// DeadlinePatch returns the JSON merge patch that sets the held job's
// spec.activeDeadlineSeconds as it is released at now, so that its pods
// get DeadlineAnnotation's seconds from now on: the Job controller counts
// from status.startTime (the creation time if unset), so the value is the
// whole seconds elapsed since, rounded up, plus the deadline; a suspended
// Job (queued with Kueue) gets a new start time when it resumes, so it
// gets the deadline alone. It returns nil without the annotation, or when
// the field is set already (by an earlier run of the gate). A value that
// is not a positive whole number of seconds is an error.
func DeadlinePatch(job *batchv1.Job, now time.Time) ([]byte, error) {
	v, ok := job.Annotations[DeadlineAnnotation]
	if !ok || job.Spec.ActiveDeadlineSeconds != nil {
		return nil, nil
	}
	d, err := strconv.ParseInt(v, 10, 64)
	if err != nil || d <= 0 || d > math.MaxInt32 {
		return nil, fmt.Errorf("annotation %s of Job %s is %q, not a positive whole number of seconds up to %d", DeadlineAnnotation, job.Name, v, math.MaxInt32)
	}
	if job.Spec.Suspend == nil || !*job.Spec.Suspend {
		start := job.CreationTimestamp.Time
		if job.Status.StartTime != nil {
			start = job.Status.StartTime.Time
		}
		if elapsed := now.Sub(start).Seconds(); elapsed > 0 {
			d += int64(math.Ceil(elapsed))
		}
	}
	b, _ := json.Marshal(map[string]any{"spec": map[string]any{"activeDeadlineSeconds": d}})
	return b, nil
}

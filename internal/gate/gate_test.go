package gate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// job returns a Job with the given conditions (type=reason:message).
func job(name string, conds ...string) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, c := range conds {
		typ, rest, _ := strings.Cut(c, "=")
		reason, msg, _ := strings.Cut(rest, ":")
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{
			Type: batchv1.JobConditionType(typ), Status: corev1.ConditionTrue, Reason: reason, Message: msg})
	}
	return j
}

func TestDecide(t *testing.T) {
	complete := job("a", "Complete=Completed:")
	tests := []struct {
		name     string
		upstream []string
		jobs     []*batchv1.Job
		action   Action
		message  string
	}{
		{"all complete", []string{"a"}, []*batchv1.Job{complete}, Release, "Job a completed"},
		{"two complete", []string{"a", "b"}, []*batchv1.Job{complete, job("b", "Complete=Completed:")}, Release, "Job a, b completed"},
		{"missing", []string{"a", "b"}, []*batchv1.Job{complete}, Hold, "waiting for Job b (not created yet)"},
		{"running", []string{"a"}, []*batchv1.Job{job("a")}, Hold, "waiting for Job a"},
		{"suspended", []string{"a"}, []*batchv1.Job{job("a", "Suspended=JobSuspended:Job suspended")}, Hold, "waiting for Job a"},
		{"success criteria met is not complete yet", []string{"a"}, []*batchv1.Job{job("a", "SuccessCriteriaMet=SuccessPolicy:")}, Hold, "waiting for Job a"},
		{"failed", []string{"a"}, []*batchv1.Job{job("a", "Failed=BackoffLimitExceeded:Job has reached the specified backoff limit")},
			Fail, "upstream Job a failed (BackoffLimitExceeded): Job has reached the specified backoff limit"},
		{"failure target counts as failed", []string{"a"}, []*batchv1.Job{job("a", "FailureTarget=PodFailurePolicy:Container main for pod x failed with exit code 3")},
			Fail, "upstream Job a failed (PodFailurePolicy): Container main for pod x failed with exit code 3"},
		{"failure wins over a running upstream", []string{"a", "b"}, []*batchv1.Job{job("a"), job("b", "Failed=DeadlineExceeded:")},
			Fail, "upstream Job b failed (DeadlineExceeded)"},
		{"failure wins over a missing upstream", []string{"a", "b"}, []*batchv1.Job{job("b", "Failed=UpstreamFailed:upstream Job z failed (BackoffLimitExceeded)")},
			Fail, "upstream Job b failed (UpstreamFailed): upstream Job z failed (BackoffLimitExceeded)"},
		{"every failure is named", []string{"a", "b"}, []*batchv1.Job{job("a", "Failed=X:"), job("b", "Failed=Y:")},
			Fail, "upstream Job a failed (X); upstream Job b failed (Y)"},
		{"a condition that is not true does not count", []string{"a"}, []*batchv1.Job{{ObjectMeta: metav1.ObjectMeta{Name: "a"},
			Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionFalse}}}}}, Hold, "waiting for Job a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs := map[string]*batchv1.Job{}
			for _, j := range tt.jobs {
				jobs[j.Name] = j
			}
			v := Decide(tt.upstream, jobs)
			if v.Action != tt.action || v.Message != tt.message {
				t.Errorf("Decide = %v %q, want %v %q", v.Action, v.Message, tt.action, tt.message)
			}
		})
	}
}

func TestFinished(t *testing.T) {
	for _, tt := range []struct {
		job  *batchv1.Job
		done bool
		msg  string
	}{
		{job("d"), false, ""},
		{job("d", "Complete=Completed:"), true, "Job d completed"},
		{job("d", "Failed=UpstreamFailed:upstream Job a failed"), true, "Job d failed (UpstreamFailed): upstream Job a failed"},
		{job("d", "Failed=BackoffLimitExceeded:"), true, "Job d failed (BackoffLimitExceeded)"},
	} {
		done, msg := Finished(tt.job)
		if done != tt.done || msg != tt.msg {
			t.Errorf("Finished(%v) = %v %q, want %v %q", tt.job.Status.Conditions, done, msg, tt.done, tt.msg)
		}
	}
}

func TestUngatePatch(t *testing.T) {
	pod := func(gates ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
		for _, g := range gates {
			p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: g})
		}
		return p
	}
	if got := UngatePatch(pod()); got != nil {
		t.Errorf("no gates: patch %s, want none", got)
	}
	if got := UngatePatch(pod("example.com/other")); got != nil {
		t.Errorf("another gate only: patch %s, want none", got)
	}
	want := `[{"op":"test","path":"/spec/schedulingGates/1/name","value":"stagecraft.dev/upstream"},{"op":"remove","path":"/spec/schedulingGates/1"}]`
	if got := string(UngatePatch(pod("example.com/other", SchedulingGate))); got != want {
		t.Errorf("patch = %s, want %s", got, want)
	}
	deleting := pod(SchedulingGate)
	deleting.DeletionTimestamp = &metav1.Time{}
	if got := GatedPods([]corev1.Pod{*pod(SchedulingGate), *pod("example.com/other"), *deleting}); len(got) != 1 {
		t.Errorf("GatedPods = %v, want one", got)
	}
}

func TestFailurePatch(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	decode := func(b []byte) batchv1.JobStatus {
		var v struct{ Status batchv1.JobStatus }
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v.Status
	}
	running := decode(FailurePatch(job("d"), ReasonUpstreamFailed, "upstream Job a failed", now))
	if len(running.Conditions) != 1 || running.Conditions[0].Type != batchv1.JobFailureTarget || running.StartTime != nil {
		t.Errorf("running Job: %+v, want FailureTarget only (the Job controller adds Failed)", running)
	}
	c := running.Conditions[0]
	if c.Reason != ReasonUpstreamFailed || c.Message != "upstream Job a failed" || c.Status != corev1.ConditionTrue {
		t.Errorf("condition %+v", c)
	}
	suspended := job("d")
	suspended.Spec.Suspend = ptr.To(true)
	s := decode(FailurePatch(suspended, ReasonUpstreamTimeout, "timed out", now))
	if len(s.Conditions) != 2 || s.Conditions[1].Type != batchv1.JobFailed || s.StartTime == nil || !s.StartTime.Equal(&now) {
		t.Errorf("suspended Job: %+v, want FailureTarget, Failed and a start time", s)
	}
}

func TestParseArgs(t *testing.T) {
	c, err := ParseArgs([]string{"release", "--namespace=ns", "--job=d-1234abcd", "--upstream=a-1", "--upstream=b-2", "--timeout=24h"})
	if err != nil || c.Mode != "release" || c.Job != "d-1234abcd" || len(c.Upstream) != 2 || c.Timeout != 24*time.Hour || c.Interval != 5*time.Second || c.Grace != 2*time.Minute {
		t.Errorf("ParseArgs = %+v, %v", c, err)
	}
	for _, bad := range [][]string{
		nil,
		{"stop"},
		{"release", "--namespace=ns", "--upstream=a"},         // no --job
		{"wait", "--namespace=ns"},                            // no --upstream
		{"wait", "--namespace=NS", "--upstream=a"},            // invalid name
		{"wait", "--namespace=ns", "--upstream=a", "--job=d"}, // --job is release's
		{"wait", "--namespace=ns", "--upstream=a", "extra"},   // stray argument
		{"wait", "--namespace=ns", "--upstream=a", "--interval=0"},
		{"wait", "--namespace=ns", "--upstream=a", "--grace=0s"},
	} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("ParseArgs(%q) accepted", bad)
		}
	}
}

package argo

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The simulated nodes (kwok) run no containers, so nothing runs Argo's
// executor in a task's pod. standIn does, from outside, what the pod would
// do once kwok has it Running: the wait container, as the executor's
// ServiceAccount (impersonated, so that its Role is what allows it),
// creates the task's WorkflowTaskResult and marks it complete, as the
// emissary executor does (workflow/executor/taskresult.go); then the pod
// ends, as the kubelet would report it: every container terminated, the
// main container with the exit code exitCode chooses.

var (
	taskResults   = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflowtaskresults"}
	workflows     = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}
	cronWorkflows = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "cronworkflows"}
)

const (
	labelWorkflow          = "workflows.argoproj.io/workflow"
	labelOutputsCompleted  = "workflows.argoproj.io/report-outputs-completed"
	annotationNodeID       = "workflows.argoproj.io/node-id"
	annotationNodeName     = "workflows.argoproj.io/node-name"
	labelCronWorkflow      = "workflows.argoproj.io/cron-workflow"
	labelWorkflowTemplate  = "workflows.argoproj.io/workflow-template"
	serviceAccountUserName = "system:serviceaccount:%s:%s"
)

// podRun is what the harness saw of one pod of a task.
type podRun struct {
	name, workflow, node string
	created              time.Time // metadata.creationTimestamp (1 s resolution)
	seen                 time.Time // when the harness first listed it
	running              time.Time // when the harness saw kwok report it Running
	finished             time.Time // when the harness ended it
	exitCode             int32
}

// standIn plays the executor and the kubelet for the pods of workflows in
// one namespace.
type standIn struct {
	ns       string
	kube     kubernetes.Interface
	admin    dynamic.Interface
	executor dynamic.Interface // as the executor's ServiceAccount
	exitCode func(pod *corev1.Pod) int32
	// hold is how long a pod runs before it ends: long enough that the
	// pods of a fan-out overlap, so that its parallelism shows.
	hold time.Duration

	mu   sync.Mutex
	runs map[string]*podRun
	errs []error
}

func newStandIn(cfg *rest.Config, ns, executorAccount string) (*standIn, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	admin, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ecfg := rest.CopyConfig(cfg)
	ecfg.Impersonate = rest.ImpersonationConfig{UserName: fmt.Sprintf(serviceAccountUserName, ns, executorAccount)}
	exec, err := dynamic.NewForConfig(ecfg)
	if err != nil {
		return nil, err
	}
	return &standIn{ns: ns, kube: kube, admin: admin, executor: exec, runs: map[string]*podRun{}, hold: 3 * time.Second,
		exitCode: func(*corev1.Pod) int32 { return 0 }}, nil
}

// run polls the namespace's workflow pods until ctx ends.
func (s *standIn) run(ctx context.Context) {
	for ctx.Err() == nil {
		pods, err := s.kube.CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{LabelSelector: labelWorkflow})
		if err == nil {
			for i := range pods.Items {
				s.step(ctx, &pods.Items[i])
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// step records a pod and ends it once kwok has run it for s.hold.
func (s *standIn) step(ctx context.Context, pod *corev1.Pod) {
	now := time.Now()
	s.mu.Lock()
	r, ok := s.runs[pod.Name]
	if !ok {
		r = &podRun{name: pod.Name, workflow: pod.Labels[labelWorkflow], node: pod.Annotations[annotationNodeName],
			created: pod.CreationTimestamp.Time, seen: now}
		s.runs[pod.Name] = r
	}
	if r.running.IsZero() && pod.Status.Phase == corev1.PodRunning {
		r.running = now
	}
	done, running := !r.finished.IsZero(), r.running
	s.mu.Unlock()
	if done || running.IsZero() || now.Sub(running) < s.hold {
		return
	}
	if err := s.finish(ctx, pod); err != nil {
		s.mu.Lock()
		s.errs = append(s.errs, fmt.Errorf("pod %s: %w", pod.Name, err))
		s.mu.Unlock()
	}
}

// setExitCode chooses the exit code of the main container of each pod
// that ends from now on.
func (s *standIn) setExitCode(f func(pod *corev1.Pod) int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exitCode = f
}

// finish reports the task's result as the executor, then ends the pod.
func (s *standIn) finish(ctx context.Context, pod *corev1.Pod) error {
	s.mu.Lock()
	code := s.exitCode(pod)
	s.mu.Unlock()
	if err := s.reportResult(ctx, pod); err != nil {
		return fmt.Errorf("as the executor's ServiceAccount: %w", err)
	}
	end := metav1.NewTime(time.Now())
	st := pod.Status.DeepCopy()
	st.Phase = corev1.PodSucceeded
	if code != 0 {
		st.Phase = corev1.PodFailed
	}
	terminate := func(cs []corev1.ContainerStatus, main bool) {
		for i := range cs {
			c, reason := int32(0), "Completed"
			if main && cs[i].Name == "main" && code != 0 {
				c, reason = code, "Error" // as the kubelet reports a non-zero exit
			}
			cs[i].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: c, Reason: reason, StartedAt: pod.CreationTimestamp, FinishedAt: end}}
			cs[i].Ready = false
		}
	}
	terminate(st.InitContainerStatuses, false)
	terminate(st.ContainerStatuses, true)
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.PodReady || st.Conditions[i].Type == corev1.ContainersReady {
			st.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	p := pod.DeepCopy()
	p.Status = *st
	if _, err := s.kube.CoreV1().Pods(s.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("end the pod: %w", err)
	}
	s.mu.Lock()
	r := s.runs[pod.Name]
	r.finished, r.exitCode = end.Time, code
	s.mu.Unlock()
	return nil
}

// reportResult creates the pod's WorkflowTaskResult, not yet complete,
// then marks it complete, as the emissary executor's wait container does.
func (s *standIn) reportResult(ctx context.Context, pod *corev1.Pod) error {
	owner, err := s.admin.Resource(workflows).Namespace(s.ns).Get(ctx, pod.Labels[labelWorkflow], metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read the Workflow (as the harness): %w", err)
	}
	node := pod.Annotations[annotationNodeID]
	result := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTaskResult",
		"metadata": map[string]any{
			"name":            node,
			"labels":          map[string]any{labelWorkflow: owner.GetName(), labelOutputsCompleted: "false"},
			"ownerReferences": []any{map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": owner.GetName(), "uid": string(owner.GetUID())}},
		},
	}}
	if _, err := s.executor.Resource(taskResults).Namespace(s.ns).Create(ctx, result, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create WorkflowTaskResult %s: %w", node, err)
	}
	patch := []byte(`{"metadata":{"labels":{"` + labelOutputsCompleted + `":"true"}}}`)
	if _, err := s.executor.Resource(taskResults).Namespace(s.ns).Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patch WorkflowTaskResult %s: %w", node, err)
	}
	return nil
}

// of returns the runs of one workflow, by creation.
func (s *standIn) of(workflow string) []podRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []podRun
	for _, r := range s.runs {
		if r.workflow == workflow {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seen.Before(out[j].seen) })
	return out
}

// failures returns what went wrong while standing in.
func (s *standIn) failures() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

package stagecraft

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/stagecraft-dev/stagecraft/imports/argoprojio"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// A task's pods are the pods its stage's Job would have: stagecraft builds
// the same pod template and writes it as an Argo container template. The
// fields a template has (container, volumes, node selector, tolerations,
// affinity, security context, service account, priority class) go there;
// every other field of the pod spec, and the security context and
// resources of Argo's executor containers, go into the template's
// podSpecPatch, which Argo merges into each pod it creates.

// mainContainer is the name Argo gives a container template's container.
const mainContainer = "main"

// taskTemplates returns the templates of a chain task: its container
// template, after the template that fans it out into shards, if it has
// shards.
func (r *rendering) taskTemplates(s Stage) []*argoprojio.WorkflowTemplateSpecTemplates {
	b, j := s.base(), jobSettingsOf(s)
	pod := r.taskPod(s, podTemplate(r, b, podOptions{restart: corev1.RestartPolicyNever}))
	labels := pod.Labels
	if j.Queue != "" {
		// Kueue manages Argo's pods through its pod integration.
		labels[queueLabel] = j.Queue
	}
	var inputs *argoprojio.WorkflowTemplateSpecTemplatesInputs
	if fanOut(j) && j.Indexed {
		c := &pod.Spec.Containers[0]
		c.Env = append(c.Env, corev1.EnvVar{Name: completionIndexEnv, Value: "{{inputs.parameters." + indexParameter + "}}"})
		inputs = &argoprojio.WorkflowTemplateSpecTemplatesInputs{Parameters: &[]*argoprojio.WorkflowTemplateSpecTemplatesInputsParameters{{Name: jsii.String(indexParameter)}}}
	}
	t := containerTemplate(pod.Spec, r.p.workflows.executor)
	t.Name, t.Inputs = jsii.String(s.Name()), inputs
	t.Metadata = &argoprojio.WorkflowTemplateSpecTemplatesMetadata{Labels: stringPtrs(labels)}
	if len(pod.Annotations) > 0 {
		t.Metadata.Annotations = stringPtrs(pod.Annotations)
	}
	t.RetryStrategy = retryStrategy(j)
	if j.ActiveDeadline > 0 {
		t.ActiveDeadlineSeconds = jsii.Number(float64(j.ActiveDeadline / time.Second))
	}
	if !fanOut(j) {
		return []*argoprojio.WorkflowTemplateSpecTemplates{t}
	}
	return []*argoprojio.WorkflowTemplateSpecTemplates{shardsTemplate(s, j), t}
}

// shardsTemplate fans a stage out into Completions shards, Parallelism at
// once (1 by default, as a Job). With BackoffLimitPerIndex every shard runs
// whatever the others do, as in an Indexed Job; otherwise a failed shard
// stops new ones from starting (the DAG's failFast).
func shardsTemplate(s Stage, j JobSettings) *argoprojio.WorkflowTemplateSpecTemplates {
	task := &argoprojio.WorkflowTemplateSpecTemplatesDagTasks{
		Name:         jsii.String("shard"),
		Template:     jsii.String(s.Name()),
		WithSequence: &argoprojio.WorkflowTemplateSpecTemplatesDagTasksWithSequence{Count: jsii.Number(float64(*j.Completions))},
	}
	if j.Indexed {
		task.Arguments = &argoprojio.WorkflowTemplateSpecTemplatesDagTasksArguments{Parameters: &[]*argoprojio.WorkflowTemplateSpecTemplatesDagTasksArgumentsParameters{
			{Name: jsii.String(indexParameter), Value: jsii.String("{{item}}")},
		}}
	}
	dag := &argoprojio.WorkflowTemplateSpecTemplatesDag{Tasks: &[]*argoprojio.WorkflowTemplateSpecTemplatesDagTasks{task}}
	if j.BackoffLimitPerIndex != nil {
		dag.FailFast = jsii.Bool(false)
	}
	return &argoprojio.WorkflowTemplateSpecTemplates{
		Name:        jsii.String(taskTemplate(s)),
		Parallelism: jsii.Number(float64(maxJobPods(j))),
		Dag:         dag,
	}
}

// containerTemplate writes a pod spec as an Argo container template: the
// fields a template has as such, the rest (and Argo's executor containers,
// whose requests and limits are exec) as its podSpecPatch.
func containerTemplate(spec corev1.PodSpec, exec Resources) *argoprojio.WorkflowTemplateSpecTemplates {
	c := spec.Containers[0]
	c.Name = mainContainer
	t := &argoprojio.WorkflowTemplateSpecTemplates{
		Container:                    c,
		SecurityContext:              spec.SecurityContext,
		AutomountServiceAccountToken: spec.AutomountServiceAccountToken,
	}
	if len(spec.Volumes) > 0 {
		t.Volumes = anySlice(spec.Volumes)
	}
	if len(spec.NodeSelector) > 0 {
		t.NodeSelector = stringPtrs(spec.NodeSelector)
	}
	if len(spec.Tolerations) > 0 {
		t.Tolerations = anySlice(spec.Tolerations)
	}
	if spec.Affinity != nil {
		t.Affinity = spec.Affinity
	}
	if spec.ServiceAccountName != "" {
		t.ServiceAccountName = jsii.String(spec.ServiceAccountName)
	}
	if spec.PriorityClassName != "" {
		t.PriorityClassName = jsii.String(spec.PriorityClassName)
	}
	rest := spec
	rest.Containers, rest.Volumes, rest.NodeSelector, rest.Tolerations, rest.Affinity = nil, nil, nil, nil, nil
	rest.SecurityContext, rest.AutomountServiceAccountToken = nil, nil
	rest.ServiceAccountName, rest.PriorityClassName = "", ""
	rest.RestartPolicy = "" // Argo's pods never restart
	t.PodSpecPatch = jsii.String(podSpecPatch(rest, exec))
	return t
}

// podSpecPatch returns the strategic merge patch of a task's pods: the
// pod spec fields of rest that are set, and the security context and
// resources of Argo's executor containers, merged by their names.
func podSpecPatch(rest corev1.PodSpec, exec Resources) string {
	raw, err := json.Marshal(rest)
	if err != nil {
		panic(err) // a typed PodSpec always marshals
	}
	patch := map[string]any{}
	if err := json.Unmarshal(raw, &patch); err != nil {
		panic(err)
	}
	for k, v := range patch {
		if empty(v) {
			delete(patch, k)
		}
	}
	executor := func(name string) corev1.Container {
		return corev1.Container{Name: name, SecurityContext: executorSecurity(), Resources: exec.requirements()}
	}
	patch["initContainers"] = []corev1.Container{executor(executorInit)}
	patch["containers"] = []corev1.Container{executor(executorWait)}
	out, err := json.Marshal(patch)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// executorSecurity is the security context of Argo's executor
// containers: no privilege escalation, no capabilities, not root (the
// pod's user). Their root filesystem stays writable, as Argo keeps it for
// them (argoproj/argo-workflows#10787).
func executorSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// empty reports whether a JSON value is null, "" or an empty object or
// list: a field of a pod spec that is not set.
func empty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

// stringPtrs converts a map for jsii's bindings.
func stringPtrs(m map[string]string) *map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = jsii.String(v)
	}
	return &out
}

// anySlice converts a slice for the open fields of jsii's bindings.
func anySlice[T any](s []T) *[]any {
	out := make([]any, len(s))
	for i := range s {
		out[i] = s[i]
	}
	return &out
}

// taskLabel describes a chain task in the diagram.
func taskLabel(s Stage) string {
	j := jobSettingsOf(s)
	text := "task"
	if fanOut(j) {
		text += " · " + strconv.Itoa(int(*j.Completions)) + " shards, " + strconv.Itoa(int(maxJobPods(j))) + " at once"
	}
	if j.Queue != "" {
		text += " · queue " + j.Queue
	}
	return text + accelLabel(s.base().work.accelerators)
}

package stagecraft

import (
	"encoding/json"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A stage that runs as a task of the pipeline's Argo chain has no Job or
// CronJob: its overrides run on the Job (or CronJob) it would have had,
// whose pod template is the task's pod. What they change of the pod
// template becomes the task's pod; what the task has no place for (the
// rest of the Job, a second container, an init container, the restart
// policy) is a problem, never dropped.

// taskPod returns the pod of chain task s after the stage's overrides,
// which have run (and been checked) on the Job or CronJob s would have had
// with pod as its pod template.
func (r *rendering) taskPod(s Stage, pod corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	src := r.sourceOf(s)
	if len(src.overrides) == 0 {
		return pod
	}
	for _, o := range s.objects(r) {
		tmpl, _ := podTemplateOf(o)
		if tmpl == nil {
			continue
		}
		*tmpl = *pod.DeepCopy()
		src.task = r.p.workflows.name + "/" + s.Name()
		r.checkOverridesAndAccess(o, src)
		tmpl, _ = podTemplateOf(o)
		return *tmpl
	}
	return pod
}

// checkOverrides runs the overrides of src on o and keeps their problems.
func (r *rendering) checkOverrides(o runtime.Object, src source) {
	src.widen = r.p.props.AllowWideningOverride
	r.problems = append(r.problems, overridden(o, src)...)
}

// taskDropped returns what an override changed of a Job or CronJob that a
// chain task replaces, and that the task's pod does not carry.
func taskDropped(rendered, o runtime.Object, task string) field.ErrorList {
	tb, path := podTemplateOf(rendered)
	ta, _ := podTemplateOf(o)
	if tb == nil || ta == nil {
		return nil
	}
	why := "the stage runs as the Argo task " + task + " (PipelineProps.Workflows), which has no Job: only the pod template (" + path.String() + ") becomes the task's pod"
	var errs field.ErrorList
	for _, c := range changedOutside(rendered, o, path.String()) {
		errs = append(errs, forbidden(field.NewPath(c.path), c.value, why+"; change the task with the Pipeline's Override of the WorkflowTemplate"))
	}
	spec := path.Child("spec")
	if len(ta.Spec.Containers) > 1 {
		errs = append(errs, forbidden(spec.Child("containers").Index(1), ta.Spec.Containers[1].Name, why+", and a task's pod runs one container of the stage's"))
	}
	if !equality.Semantic.DeepEqual(tb.Spec.InitContainers, ta.Spec.InitContainers) {
		errs = append(errs, forbidden(spec.Child("initContainers"), len(ta.Spec.InitContainers), why+", whose init containers are Argo's executor's"))
	}
	if tb.Spec.RestartPolicy != ta.Spec.RestartPolicy {
		errs = append(errs, forbidden(spec.Child("restartPolicy"), ta.Spec.RestartPolicy, why+", whose pods never restart (retries are the task's retryStrategy)"))
	}
	return errs
}

// change is a field of an object that differs, as a dotted path, with its
// new value (nil when it was removed).
type change struct {
	path  string
	value any
}

// changedOutside returns the fields that differ between a and b, but for
// those under skip, sorted by path.
func changedOutside(a, b runtime.Object, skip string) []change {
	ma, mb := asMap(a), asMap(b)
	var out []change
	var walk func(prefix string, x, y any)
	walk = func(prefix string, x, y any) {
		if prefix == skip {
			return
		}
		xm, xok := x.(map[string]any)
		ym, yok := y.(map[string]any)
		if !xok || !yok {
			if !equality.Semantic.DeepEqual(x, y) {
				out = append(out, change{prefix, y})
			}
			return
		}
		keys := map[string]bool{}
		for k := range xm {
			keys[k] = true
		}
		for k := range ym {
			keys[k] = true
		}
		for k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			walk(p, xm[k], ym[k])
		}
	}
	walk("", ma, mb)
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// asMap returns o as JSON fields.
func asMap(o runtime.Object) map[string]any {
	raw, err := json.Marshal(o)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

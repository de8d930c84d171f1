package stagecraft

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// overridden runs the overrides of src on o and checks o after each: an
// override that panics, or after which o breaks Pod Security "restricted"
// or a rule of its kind that it did not break before, or grants more than
// o as rendered (see widening), is a problem that names the construct and
// the override. Only what still holds after the last override is reported.
func overridden(o runtime.Object, src source) []Problem {
	var out []Problem
	blame := map[string]int{}
	kept := machineryOf(o, src.waitedFor)
	rendered := o.DeepCopyObject()
	renderedArgo := argoSpecOf(o) // a custom object's copy shares its spec
	violations := func() map[string]any {
		v := objectViolations(o, src.privileged)
		kept.check(o, v)
		if renderedArgo != nil {
			addErrors(v, workflowViolations(renderedArgo, o, src.privilegedTasks, src.widen))
		}
		if src.task != "" {
			addErrors(v, taskDropped(rendered, o, src.task))
		}
		addErrors(v, acceleratorSurge(rendered, o))
		if !src.widen {
			addErrors(v, widening(rendered, o))
			if !src.privileged {
				addErrors(v, enforcementLowered(rendered, o))
			}
		}
		return v
	}
	before := violations()
	for i, ov := range src.overrides {
		if ov == nil {
			continue // reported with the construct's props
		}
		if err := catch(func() { ov(o) }); err != nil {
			out = append(out, Problem{Construct: src.path, Object: describe(o), Type: field.ErrorTypeInvalid,
				Field: fmt.Sprintf("Override[%d]", i), Detail: "the override panicked: " + err.Error()})
			continue
		}
		after := violations()
		for k := range after {
			if _, had := before[k]; !had {
				blame[k] = i
			}
		}
		before = after
	}
	keys := make([]string, 0, len(before))
	for k := range before {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i, ok := blame[k]
		if !ok {
			continue // broken before any override: not an override's doing
		}
		out = append(out, Problem{Construct: src.path, Object: describe(o), Type: field.ErrorTypeForbidden,
			Field: fmt.Sprintf("Override[%d]", i), Value: before[k], Detail: "after the override, " + k})
	}
	return out
}

// describe names an object in problems: "Deployment ns/name".
func describe(o runtime.Object) string {
	kind := o.GetObjectKind().GroupVersionKind().Kind
	m, err := meta.Accessor(o)
	if err != nil {
		return kind
	}
	if m.GetNamespace() == "" {
		return kind + " " + m.GetName()
	}
	return kind + " " + m.GetNamespace() + "/" + m.GetName()
}

// objectViolations returns what o breaks, each as its message (the
// object's field and what is wrong) with the bad value.
func objectViolations(o runtime.Object, privileged bool) map[string]any {
	out := map[string]any{}
	add := func(errs field.ErrorList) { addErrors(out, errs) }
	if m, err := meta.Accessor(o); err == nil {
		add(validateObjectMeta(o.GetObjectKind().GroupVersionKind().Kind, m))
	}
	add(validateCounts(o))
	add(validateKindRules(o))
	if tmpl, path := podTemplateOf(o); tmpl != nil {
		add(metavalidation.ValidateLabels(tmpl.Labels, path.Child("metadata", "labels")))
		add(apivalidation.ValidateAnnotations(tmpl.Annotations, path.Child("metadata", "annotations")))
		add(validatePodRules(path, &tmpl.Spec))
		add(validatePodReferences(path, &tmpl.Spec, claimNames(o)))
		add(validatePodFields(path, &tmpl.Spec, restartPolicies(o)...))
		add(validatePodExtras(path, &tmpl.Spec))
		for i := range tmpl.Spec.InitContainers {
			add(validateContainerFields(path.Child("spec", "initContainers").Index(i), &tmpl.Spec.InitContainers[i]))
		}
		for i := range tmpl.Spec.Containers {
			add(validateContainerFields(path.Child("spec", "containers").Index(i), &tmpl.Spec.Containers[i]))
		}
		if !privileged {
			add(restrictedViolations(path, tmpl))
		}
	}
	return out
}

// addErrors adds errs to out, each as its message (the field and what is
// wrong) with the bad value.
func addErrors(out map[string]any, errs field.ErrorList) {
	for _, e := range errs {
		out[e.Field+": "+e.Detail] = e.BadValue
	}
}

// podTemplateOf returns the pod template of an object that runs pods, and
// its path in the object.
func podTemplateOf(o runtime.Object) (*corev1.PodTemplateSpec, *field.Path) {
	spec := field.NewPath("spec")
	switch t := o.(type) {
	case *appsv1.Deployment:
		return &t.Spec.Template, spec.Child("template")
	case *appsv1.StatefulSet:
		return &t.Spec.Template, spec.Child("template")
	case *appsv1.DaemonSet:
		return &t.Spec.Template, spec.Child("template")
	case *batchv1.Job:
		return &t.Spec.Template, spec.Child("template")
	case *batchv1.CronJob:
		return &t.Spec.JobTemplate.Spec.Template, spec.Child("jobTemplate", "spec", "template")
	}
	return nil, nil
}

// restrictedViolations evaluates a pod template against Pod Security
// "restricted" at the latest version.
func restrictedViolations(path *field.Path, tmpl *corev1.PodTemplateSpec) field.ErrorList {
	var errs field.ErrorList
	for _, v := range evaluateRestricted(&tmpl.ObjectMeta, &tmpl.Spec) {
		errs = append(errs, forbidden(path, v.reason, "violates Pod Security \"restricted\": "+strings.TrimSpace(v.reason+" ("+v.detail+")")+
			"; set Security.AllowPrivilegedOverride for a deliberately privileged workload"))
	}
	return errs
}

// machinery is what stagecraft put into a stage's object for its waits,
// which an override must leave as it is: the init containers that wait
// for upstream Jobs, the scheduling gate that holds a Job until its gate
// releases it, and no TTL on a Job that other stages wait for (a deploy
// tool would re-create a deleted Job and run it again).
type machinery struct {
	waits     []corev1.Container
	before    []corev1.Container // the init containers before the first wait
	gated     bool
	waitedFor bool
}

// machineryOf returns the machinery of o as rendered; waitedFor is set for
// the object of a stage that others wait for.
func machineryOf(o runtime.Object, waitedFor bool) machinery {
	m := machinery{waitedFor: waitedFor}
	if tmpl, _ := podTemplateOf(o); tmpl != nil {
		for i, c := range tmpl.Spec.InitContainers {
			if c.Name == waitContainer {
				if m.waits == nil {
					m.before = tmpl.Spec.InitContainers[:i:i]
				}
				m.waits = append(m.waits, *c.DeepCopy())
			}
		}
		m.gated = hasSchedulingGate(&tmpl.Spec)
	}
	return m
}

// check adds to out what o no longer keeps of m.
func (m machinery) check(o runtime.Object, out map[string]any) {
	tmpl, path := podTemplateOf(o)
	if tmpl == nil {
		return
	}
	spec := path.Child("spec")
	if m.gated && !hasSchedulingGate(&tmpl.Spec) {
		out[spec.Child("schedulingGates").String()+": the Job must keep the scheduling gate "+schedulingGate+
			" that holds its pods until its upstream Jobs complete (its gate Job removes it); to run without waiting, drop the wait instead (RunsAfter, Mount.WaitForWriters)"] = schedulingGate
	}
	for _, want := range m.waits {
		if !containsContainer(tmpl.Spec.InitContainers, &want) {
			out[spec.Child("initContainers").Key(want.Name).String()+": the init container that waits for the upstream Jobs must stay as stagecraft wrote it; "+
				"set its image with PipelineProps.GateImage, or drop the wait (RunsAfter, Mount.WaitForWriters)"] = want.Name
		}
	}
	m.checkOrder(spec, tmpl.Spec.InitContainers, out)
	if j, ok := o.(*batchv1.Job); ok {
		if m.gated {
			checkHeldQueue(j, out)
		}
		if m.waitedFor {
			m.checkWaitedFor(j, out)
		} else if j.Spec.TTLSecondsAfterFinished != nil {
			out[field.NewPath("spec", "ttlSecondsAfterFinished").String()+": "+batchTTLDetail] = *j.Spec.TTLSecondsAfterFinished
		}
	}
}

// checkOrder adds to out an init container that runs before the first
// wait and did not: it would run before the upstream Jobs completed.
func (m machinery) checkOrder(spec *field.Path, init []corev1.Container, out map[string]any) {
	if len(m.waits) == 0 {
		return
	}
	for i := range init {
		if init[i].Name == waitContainer {
			return
		}
		if i >= len(m.before) || !equality.Semantic.DeepEqual(&init[i], &m.before[i]) {
			out[spec.Child("initContainers").Index(i).String()+": an init container added before "+waitContainer+
				" runs before the upstream Jobs complete; add it after "+waitContainer+", or drop the wait (RunsAfter, Mount.WaitForWriters)"] = init[i].Name
			return
		}
	}
}

// checkWaitedFor adds to out what keeps the stages that wait for Job j
// from ever starting, or starts them again.
func (m machinery) checkWaitedFor(j *batchv1.Job, out map[string]any) {
	spec := field.NewPath("spec")
	const others = ": other stages wait for this Job"
	if j.Spec.TTLSecondsAfterFinished != nil {
		out[spec.Child("ttlSecondsAfterFinished").String()+others+", which must be kept after it finishes (a deploy tool would re-create a deleted Job and run it again)"] = *j.Spec.TTLSecondsAfterFinished
	}
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		out[spec.Child("suspend").String()+others+", which must run: a suspended Job never completes, and they wait until WaitTimeout; to hold it, set its Queue (Kueue suspends and admits it), or drop the waits on it (RunsAfter, Mount.WaitForWriters)"] = true
	}
	if j.Spec.Parallelism != nil && *j.Spec.Parallelism == 0 {
		out[spec.Child("parallelism").String()+others+", which must run: with parallelism 0 it starts no pod and never completes; drop the waits on it instead (RunsAfter, Mount.WaitForWriters)"] = int32(0)
	}
}

// hasSchedulingGate reports whether spec holds its pods with stagecraft's
// scheduling gate.
func hasSchedulingGate(spec *corev1.PodSpec) bool {
	for _, g := range spec.SchedulingGates {
		if g.Name == schedulingGate {
			return true
		}
	}
	return false
}

// containsContainer reports whether cs holds a container equal to c.
func containsContainer(cs []corev1.Container, c *corev1.Container) bool {
	for i := range cs {
		if equality.Semantic.DeepEqual(&cs[i], c) {
			return true
		}
	}
	return false
}

// claimNames returns the names of a StatefulSet's claim templates, which
// its pods mount as volumes.
func claimNames(o runtime.Object) []string {
	s, ok := o.(*appsv1.StatefulSet)
	if !ok {
		return nil
	}
	var out []string
	for _, c := range s.Spec.VolumeClaimTemplates {
		out = append(out, c.Name)
	}
	return out
}

// restartPolicies returns the restart policies the pods of o's kind may
// have.
func restartPolicies(o runtime.Object) []corev1.RestartPolicy {
	switch o.(type) {
	case *batchv1.Job:
		return []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	case *batchv1.CronJob:
		return []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever} // the API server checks the job template too
	}
	return []corev1.RestartPolicy{corev1.RestartPolicyAlways}
}

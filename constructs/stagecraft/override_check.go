package stagecraft

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// overridden runs the overrides of src on o and checks o after each: an
// override that panics, or after which o breaks Pod Security "restricted"
// or a rule of its kind that it did not break before, is a problem that
// names the construct and the override. Only what still holds after the
// last override is reported.
func overridden(o runtime.Object, src source) []Problem {
	var out []Problem
	blame := map[string]int{}
	kept := machineryOf(o, src.waitedFor)
	violations := func() map[string]any {
		v := objectViolations(o, src.privileged)
		kept.check(o, v)
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
	add := func(errs field.ErrorList) {
		for _, e := range errs {
			out[e.Field+": "+e.Detail] = e.BadValue
		}
	}
	if m, err := meta.Accessor(o); err == nil {
		add(validateObjectMeta(o.GetObjectKind().GroupVersionKind().Kind, m))
	}
	add(validateCounts(o))
	if tmpl, path := podTemplateOf(o); tmpl != nil {
		add(validatePodRules(path, &tmpl.Spec))
		if !privileged {
			add(restrictedViolations(path, tmpl))
		}
	}
	return out
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

// validateCounts checks the counts of the kinds stagecraft writes: none
// may be negative, and an autoscaler's bounds must be in order.
func validateCounts(o runtime.Object) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	nonNegative := func(fld *field.Path, v *int32) {
		if v != nil && *v < 0 {
			errs = append(errs, invalid(fld, *v, "must be greater than or equal to 0"))
		}
	}
	switch t := o.(type) {
	case *appsv1.Deployment:
		nonNegative(spec.Child("replicas"), t.Spec.Replicas)
	case *appsv1.StatefulSet:
		nonNegative(spec.Child("replicas"), t.Spec.Replicas)
	case *batchv1.Job:
		nonNegative(spec.Child("parallelism"), t.Spec.Parallelism)
		nonNegative(spec.Child("completions"), t.Spec.Completions)
		nonNegative(spec.Child("backoffLimit"), t.Spec.BackoffLimit)
	case *autoscalingv2.HorizontalPodAutoscaler:
		if m := t.Spec.MinReplicas; m != nil && (*m < 0 || *m > t.Spec.MaxReplicas) {
			errs = append(errs, invalid(spec.Child("minReplicas"), *m, "must be between 0 and maxReplicas"))
		}
		if t.Spec.MaxReplicas < 1 {
			errs = append(errs, invalid(spec.Child("maxReplicas"), t.Spec.MaxReplicas, "must be greater than or equal to 1"))
		}
	}
	return errs
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
	gated     bool
	waitedFor bool
}

// machineryOf returns the machinery of o as rendered; waitedFor is set for
// the object of a stage that others wait for.
func machineryOf(o runtime.Object, waitedFor bool) machinery {
	m := machinery{waitedFor: waitedFor}
	if tmpl, _ := podTemplateOf(o); tmpl != nil {
		for _, c := range tmpl.Spec.InitContainers {
			if c.Name == waitContainer {
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
	if j, ok := o.(*batchv1.Job); ok && m.waitedFor && j.Spec.TTLSecondsAfterFinished != nil {
		out[field.NewPath("spec", "ttlSecondsAfterFinished").String()+": other stages wait for this Job, which must be kept after it finishes (a deploy tool would re-create a deleted Job and run it again)"] = *j.Spec.TTLSecondsAfterFinished
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

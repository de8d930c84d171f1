package stagecraft

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// What an override may not do to how a stage runs: queue a held Job with
// Kueue's label, or let a Deployment whose pods hold accelerators surge.

// heldQueueDetail says why a held Job may not carry Kueue's queue label.
const heldQueueDetail = ": the Job is held by its gate until its upstream Jobs complete, and Kueue would admit it and let it hold its quota while it waits " +
	"(its gate could queue behind it); queue it with JobSettings.Queue, which its gate reaches when it releases the Job"

// checkHeldQueue adds to out Kueue's queue label (or its older annotation)
// on held Job j or its pod template: stagecraft writes the label of a held
// Job's run only when the overrides have run (see nameRun).
func checkHeldQueue(j *batchv1.Job, out map[string]any) {
	for _, m := range []struct {
		fld  *field.Path
		vals map[string]string
	}{
		{field.NewPath("metadata", "labels"), j.Labels},
		{field.NewPath("metadata", "annotations"), j.Annotations},
		{field.NewPath("spec", "template", "metadata", "labels"), j.Spec.Template.Labels},
	} {
		if v, ok := m.vals[queueLabel]; ok {
			out[m.fld.Key(queueLabel).String()+heldQueueDetail] = v
		}
	}
}

// acceleratorSurge returns the problem of a Deployment whose pods request
// an extended resource (an accelerator: nvidia.com/gpu, amd.com/gpu, any
// vendor's) and whose rolling update may surge: a surge pod waits for a
// spare accelerator, and without one the rollout never ends. As with the
// props, where stage Accelerators roll without surge unless Rollout says
// otherwise, a strategy that the overrides set (it differs from rendered,
// the Deployment as stagecraft wrote it) is the user's choice.
func acceleratorSurge(rendered, o runtime.Object) field.ErrorList {
	d, ok := o.(*appsv1.Deployment)
	if !ok || d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return nil
	}
	if !equality.Semantic.DeepEqual(rendered.(*appsv1.Deployment).Spec.Strategy, d.Spec.Strategy) {
		return nil
	}
	res := extendedResource(&d.Spec.Template.Spec)
	if res == "" {
		return nil
	}
	fld := field.NewPath("spec", "strategy", "rollingUpdate", "maxSurge")
	var surge any = "25% (the default)"
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
		if isZero(ru.MaxSurge) {
			return nil
		}
		surge = ru.MaxSurge.String() // a Rollout of the props
	}
	return field.ErrorList{invalid(fld, surge, "the pods request "+res+", so a pod that surges waits for a spare one and the rollout may never end; "+
		"give the stage Accelerators (which roll without surge) rather than an override of its resources, or set its rollout: ProcessorStageProps.Rollout, "+
		"or an override of spec.strategy (maxSurge 0 and maxUnavailable 1, or a surge where spare accelerators exist)")}
}

// extendedResource returns the first extended resource that a container
// of spec requests or limits (a resource name outside kubernetes.io, as
// the API server tells them apart); "" for none.
func extendedResource(spec *corev1.PodSpec) string {
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			for _, rl := range []corev1.ResourceList{c.Resources.Limits, c.Resources.Requests} {
				for r, q := range rl {
					if isExtendedResource(string(r)) && !q.IsZero() {
						return string(r)
					}
				}
			}
		}
	}
	return ""
}

// isExtendedResource reports whether a resource name is an extended
// resource: domain-prefixed outside kubernetes.io, and not a quota's
// "requests." name.
func isExtendedResource(name string) bool {
	if !strings.Contains(name, "/") || strings.Contains(name, "kubernetes.io/") || strings.HasPrefix(name, "requests.") {
		return false
	}
	return len(validation.IsQualifiedName("requests."+name)) == 0
}

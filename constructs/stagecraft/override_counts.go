package stagecraft

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// counts collects the problems of counts that may not be negative.
type counts struct{ errs field.ErrorList }

func (c *counts) nonNegative(fld *field.Path, v *int64) {
	if v != nil && *v < 0 {
		c.errs = append(c.errs, invalid(fld, *v, "must be greater than or equal to 0"))
	}
}

func (c *counts) nonNegative32(fld *field.Path, v *int32) {
	if v != nil {
		c.nonNegative(fld, ptr.To(int64(*v)))
	}
}

// validateCounts checks the counts of the kinds stagecraft writes: none
// may be negative, and an autoscaler's bounds must be in order.
func validateCounts(o runtime.Object) field.ErrorList {
	spec := field.NewPath("spec")
	var c counts
	switch t := o.(type) {
	case *appsv1.Deployment:
		c.nonNegative32(spec.Child("replicas"), t.Spec.Replicas)
		c.nonNegative32(spec.Child("revisionHistoryLimit"), t.Spec.RevisionHistoryLimit)
		c.nonNegative32(spec.Child("minReadySeconds"), &t.Spec.MinReadySeconds)
		if d := t.Spec.ProgressDeadlineSeconds; d != nil && *d <= t.Spec.MinReadySeconds {
			c.errs = append(c.errs, invalid(spec.Child("progressDeadlineSeconds"), *d, "must be greater than minReadySeconds"))
		}
	case *appsv1.StatefulSet:
		c.nonNegative32(spec.Child("replicas"), t.Spec.Replicas)
		c.nonNegative32(spec.Child("revisionHistoryLimit"), t.Spec.RevisionHistoryLimit)
		c.nonNegative32(spec.Child("minReadySeconds"), &t.Spec.MinReadySeconds)
	case *batchv1.Job:
		c.job(spec, &t.Spec)
	case *batchv1.CronJob:
		c.nonNegative(spec.Child("startingDeadlineSeconds"), t.Spec.StartingDeadlineSeconds)
		c.nonNegative32(spec.Child("successfulJobsHistoryLimit"), t.Spec.SuccessfulJobsHistoryLimit)
		c.nonNegative32(spec.Child("failedJobsHistoryLimit"), t.Spec.FailedJobsHistoryLimit)
		c.job(spec.Child("jobTemplate", "spec"), &t.Spec.JobTemplate.Spec)
	case *policyv1.PodDisruptionBudget:
		for fld, v := range map[string]*intstr.IntOrString{"minAvailable": t.Spec.MinAvailable, "maxUnavailable": t.Spec.MaxUnavailable} {
			if v != nil && v.Type == intstr.Int {
				c.nonNegative32(spec.Child(fld), &v.IntVal)
			}
		}
	case *autoscalingv2.HorizontalPodAutoscaler:
		c.errs = append(c.errs, validateHPA(spec, &t.Spec)...)
	}
	return c.errs
}

// validateHPA checks an autoscaler: its bounds (minReplicas at least 1,
// the API server's default without the alpha HPAScaleToZero, and at most
// maxReplicas), its target, and that each metric has the source of its
// type.
func validateHPA(spec *field.Path, s *autoscalingv2.HorizontalPodAutoscalerSpec) field.ErrorList {
	var errs field.ErrorList
	if m := s.MinReplicas; m != nil && (*m < 1 || *m > s.MaxReplicas) {
		errs = append(errs, invalid(spec.Child("minReplicas"), *m, "must be greater than or equal to 1 and at most maxReplicas"))
	}
	if s.MaxReplicas < 1 {
		errs = append(errs, invalid(spec.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to 1"))
	}
	ref := spec.Child("scaleTargetRef")
	if s.ScaleTargetRef.Kind == "" {
		errs = append(errs, required(ref.Child("kind"), "the kind of the scaled object"))
	}
	if s.ScaleTargetRef.Name == "" {
		errs = append(errs, required(ref.Child("name"), "the name of the scaled object"))
	}
	for i, m := range s.Metrics {
		mf := spec.Child("metrics").Index(i)
		source := map[autoscalingv2.MetricSourceType]bool{autoscalingv2.ObjectMetricSourceType: m.Object != nil, autoscalingv2.PodsMetricSourceType: m.Pods != nil,
			autoscalingv2.ResourceMetricSourceType: m.Resource != nil, autoscalingv2.ContainerResourceMetricSourceType: m.ContainerResource != nil, autoscalingv2.ExternalMetricSourceType: m.External != nil}
		set, ok := source[m.Type]
		switch {
		case !ok:
			errs = append(errs, notSupported(mf.Child("type"), m.Type, "must be one of \"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\""))
		case !set:
			errs = append(errs, required(mf, "must populate information for the given metric source (type "+string(m.Type)+")"))
		}
		if r := m.Resource; r != nil && r.Target.Type == autoscalingv2.UtilizationMetricType && (r.Target.AverageUtilization == nil || *r.Target.AverageUtilization < 1) {
			errs = append(errs, invalid(mf.Child("resource", "target", "averageUtilization"), r.Target.AverageUtilization, "must be greater than 0 for a Utilization target"))
		}
	}
	return errs
}

// job checks the counts of a Job's spec.
func (c *counts) job(spec *field.Path, s *batchv1.JobSpec) {
	c.nonNegative32(spec.Child("parallelism"), s.Parallelism)
	c.nonNegative32(spec.Child("completions"), s.Completions)
	c.nonNegative32(spec.Child("backoffLimit"), s.BackoffLimit)
	c.nonNegative32(spec.Child("backoffLimitPerIndex"), s.BackoffLimitPerIndex)
	c.nonNegative32(spec.Child("maxFailedIndexes"), s.MaxFailedIndexes)
	c.nonNegative32(spec.Child("ttlSecondsAfterFinished"), s.TTLSecondsAfterFinished)
	c.nonNegative(spec.Child("activeDeadlineSeconds"), s.ActiveDeadlineSeconds)
}

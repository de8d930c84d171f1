package stagecraft

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Autoscaling scales a ProcessorStage with a HorizontalPodAutoscaler
// (autoscaling/v2) on CPU and memory utilization.
type Autoscaling struct {
	// MinReplicas is the fewest pods (minReplicas). Default: 1.
	MinReplicas int32
	// MaxReplicas is the most pods (maxReplicas), at least MinReplicas.
	// Required.
	MaxReplicas int32
	// CPUUtilization is the target average CPU use, in percent of the
	// request, 1 to 1000 (a cpu entry of metrics, target
	// averageUtilization). Default: 80 when MemoryUtilization is not set
	// either.
	CPUUtilization int32
	// MemoryUtilization is the target average memory use, in percent of the
	// request, 1 to 1000 (a memory entry of metrics). Default: none.
	MemoryUtilization int32
	// ScaleDownStabilization is how long the autoscaler waits, after load
	// drops, before it removes pods (behavior.scaleDown
	// .stabilizationWindowSeconds), whole seconds up to 1h. Default: 5m.
	ScaleDownStabilization time.Duration
}

// DisruptionBudget limits voluntary evictions (node drains, upgrades) of a
// ProcessorStage's pods through a PodDisruptionBudget. Set at most one of
// MaxUnavailable and MinAvailable; a budget that would block every
// eviction is a problem.
type DisruptionBudget struct {
	// MaxUnavailable is how many pods ("1") or what share ("25%") may be
	// evicted at once (spec.maxUnavailable). Default: "1", unless
	// MinAvailable is set.
	MaxUnavailable string
	// MinAvailable is how many pods or what share must stay
	// (spec.minAvailable). Default: none.
	MinAvailable string
	// Disabled creates no PodDisruptionBudget. Default: false.
	Disabled bool
}

// Spread places a ProcessorStage's pods across nodes and zones, through
// topologySpreadConstraints with maxSkew 1.
type Spread struct {
	// Required refuses to schedule a pod that would unbalance the spread
	// (whenUnsatisfiable: DoNotSchedule). Default: false, the scheduler
	// prefers a balanced spread but still schedules (ScheduleAnyway).
	Required bool
	// Disabled adds no spread constraints. Default: false.
	Disabled bool
}

const (
	hostnameTopologyKey     = "kubernetes.io/hostname"
	zoneTopologyKey         = "topology.kubernetes.io/zone"
	deploymentTemplateLabel = "pod-template-hash"
)

// The resolved forms below are what any kind of stage can render: a
// HorizontalPodAutoscaler, a PodDisruptionBudget and spread constraints
// for the pods of a scalable workload.

// autoscalingSpec is a resolved Autoscaling.
type autoscalingSpec struct {
	min, max       int32
	cpu, memory    int32 // target utilization in percent; 0 for none
	scaleDownAfter time.Duration
}

func resolveAutoscaling(a *Autoscaling) *autoscalingSpec {
	if a == nil {
		return nil
	}
	r := &autoscalingSpec{min: a.MinReplicas, max: a.MaxReplicas, cpu: a.CPUUtilization,
		memory: a.MemoryUtilization, scaleDownAfter: a.ScaleDownStabilization}
	if r.min == 0 {
		r.min = 1
	}
	if r.cpu == 0 && r.memory == 0 {
		r.cpu = defaultCPUUtilization
	}
	if r.scaleDownAfter == 0 {
		r.scaleDownAfter = defaultScaleDownWindow
	}
	return r
}

// budgetSpec is a resolved DisruptionBudget: exactly one field is set.
type budgetSpec struct {
	maxUnavailable, minAvailable string
}

// resolveBudget returns the budget of a stage that runs up to maxPods
// pods, or nil when none is made: by default one is made when the stage
// may run more than one pod, or when an autoscaler owns its replica count.
func resolveBudget(b *DisruptionBudget, maxPods int32, scaled bool) *budgetSpec {
	switch {
	case b != nil && b.Disabled:
		return nil
	case b == nil && maxPods <= 1 && !scaled:
		return nil
	case b == nil || (b.MaxUnavailable == "" && b.MinAvailable == ""):
		return &budgetSpec{maxUnavailable: defaultMaxUnavailable}
	}
	return &budgetSpec{maxUnavailable: b.MaxUnavailable, minAvailable: b.MinAvailable}
}

// spreadSpec is a resolved Spread.
type spreadSpec struct {
	when corev1.UnsatisfiableConstraintAction
}

// resolveSpread returns the spread of a stage that runs up to maxPods
// pods, or nil when there is nothing to spread.
func resolveSpread(sp *Spread, maxPods int32) *spreadSpec {
	if maxPods <= 1 || (sp != nil && sp.Disabled) {
		return nil
	}
	if sp != nil && sp.Required {
		return &spreadSpec{when: corev1.DoNotSchedule}
	}
	return &spreadSpec{when: corev1.ScheduleAnyway}
}

func validateAutoscaling(a *Autoscaling, replicas *int32) field.ErrorList {
	if a == nil {
		return nil
	}
	fld := field.NewPath("Autoscaling")
	var errs field.ErrorList
	if replicas != nil {
		errs = append(errs, forbidden(field.NewPath("Replicas"), *replicas, "set Replicas or Autoscaling, not both: the autoscaler owns the replica count"))
	}
	errs = append(errs, validateReplicaRange(fld, a.MinReplicas, a.MaxReplicas, "must be at least 1 (0 means the default, 1)")...)
	for _, u := range []struct {
		name string
		v    int32
	}{{"CPUUtilization", a.CPUUtilization}, {"MemoryUtilization", a.MemoryUtilization}} {
		if u.v < 0 || u.v > 1000 {
			errs = append(errs, invalid(fld.Child(u.name), u.v, "must be a percentage of the request from 1 to 1000"))
		}
	}
	if w := a.ScaleDownStabilization; w < 0 || w%time.Second != 0 || w > time.Hour {
		errs = append(errs, invalid(fld.Child("ScaleDownStabilization"), w.String(), "must be a whole number of seconds up to 1h"))
	}
	return errs
}

// validateReplicaRange checks an autoscaler's bounds: a minimum of zero or
// more (minDetail says what zero means) and a maximum of at least one and
// at least the minimum.
func validateReplicaRange(fld *field.Path, min, max int32, minDetail string) field.ErrorList {
	var errs field.ErrorList
	if min < 0 {
		errs = append(errs, invalid(fld.Child("MinReplicas"), min, minDetail))
	}
	if max < 1 {
		errs = append(errs, invalid(fld.Child("MaxReplicas"), max, "must be at least 1"))
	} else if min > max {
		errs = append(errs, invalid(fld.Child("MinReplicas"), min, fmt.Sprintf("must not be above MaxReplicas (%d)", max)))
	}
	return errs
}

// parseIntOrPercent parses "3" or "25%".
func parseIntOrPercent(s string) (n int, percent, ok bool) {
	if v, found := strings.CutSuffix(s, "%"); found {
		n, err := strconv.Atoi(v)
		return n, true, err == nil && n >= 0 && n <= 100
	}
	// A count is an int32 in the object (intstr.IntOrString): a larger one
	// would wrap around.
	v, err := strconv.ParseInt(s, 10, 32)
	return int(v), false, err == nil && v >= 0
}

// validateBudget checks a budget for a stage that runs at least minPods
// pods.
func validateBudget(b *DisruptionBudget, minPods int32) field.ErrorList {
	if b == nil || b.Disabled {
		return nil
	}
	fld := field.NewPath("DisruptionBudget")
	if b.MaxUnavailable != "" && b.MinAvailable != "" {
		return field.ErrorList{forbidden(fld, b.MaxUnavailable+" and "+b.MinAvailable, "set MaxUnavailable or MinAvailable, not both")}
	}
	blocks := "would block every eviction, so nodes running the stage could never be drained"
	if v := b.MaxUnavailable; v != "" {
		n, _, ok := parseIntOrPercent(v)
		switch {
		case !ok:
			return field.ErrorList{invalid(fld.Child("MaxUnavailable"), v, "must be a count from 1 to 2147483647 (\"1\") or a percentage (\"25%\")")}
		case n == 0:
			return field.ErrorList{invalid(fld.Child("MaxUnavailable"), v, blocks)}
		}
	}
	if v := b.MinAvailable; v != "" {
		n, percent, ok := parseIntOrPercent(v)
		switch {
		case !ok:
			return field.ErrorList{invalid(fld.Child("MinAvailable"), v, "must be a count from 0 to 2147483647 (\"1\") or a percentage (\"75%\")")}
		case percent && n == 100:
			return field.ErrorList{invalid(fld.Child("MinAvailable"), v, blocks)}
		case !percent && int32(n) >= minPods && minPods > 0:
			return field.ErrorList{invalid(fld.Child("MinAvailable"), v, fmt.Sprintf("%s: the stage may run only %d pod(s)", blocks, minPods))}
		}
	}
	return nil
}

func intOrPercent(s string) *intstr.IntOrString {
	if strings.HasSuffix(s, "%") {
		v := intstr.FromString(s)
		return &v
	}
	n, _ := strconv.Atoi(s)
	v := intstr.FromInt32(int32(n))
	return &v
}

// scaleTarget names the workload an autoscaler scales.
type scaleTarget struct {
	kind, name string // of an apps/v1 workload
}

// autoscaler returns the HorizontalPodAutoscaler of m's workload.
func autoscaler(m *member, target scaleTarget, a *autoscalingSpec) *autoscalingv2.HorizontalPodAutoscaler {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: m.meta(),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: target.kind, Name: target.name},
			MinReplicas:    ptr.To(a.min),
			MaxReplicas:    a.max,
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To(int32(a.scaleDownAfter / time.Second))},
			},
		},
	}
	for _, t := range []struct {
		name corev1.ResourceName
		v    int32
	}{{corev1.ResourceCPU, a.cpu}, {corev1.ResourceMemory, a.memory}} {
		if t.v == 0 {
			continue
		}
		hpa.Spec.Metrics = append(hpa.Spec.Metrics, autoscalingv2.MetricSpec{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{Name: t.name, Target: autoscalingv2.MetricTarget{
				Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(t.v),
			}},
		})
	}
	return hpa
}

// disruptionBudget returns the PodDisruptionBudget of m's pods.
func disruptionBudget(m *member, b *budgetSpec) *policyv1.PodDisruptionBudget {
	pdb := &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: m.meta(),
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector: m.selector(),
			// Pods that never became ready may be evicted: they serve
			// nothing, and keeping them would block drains.
			UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
		},
	}
	if b.maxUnavailable != "" {
		pdb.Spec.MaxUnavailable = intOrPercent(b.maxUnavailable)
	} else {
		pdb.Spec.MinAvailable = intOrPercent(b.minAvailable)
	}
	return pdb
}

// spreadConstraints returns the topology spread constraints of m's pods:
// across nodes and across zones. perRevision counts the pods of each
// ReplicaSet of a Deployment apart, so that a rolling update does not skew
// the spread of the new pods.
func spreadConstraints(m *member, sp *spreadSpec, perRevision bool) []corev1.TopologySpreadConstraint {
	if sp == nil {
		return nil
	}
	var keys []string
	if perRevision {
		keys = []string{deploymentTemplateLabel}
	}
	var out []corev1.TopologySpreadConstraint
	for _, key := range []string{hostnameTopologyKey, zoneTopologyKey} {
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: sp.when,
			LabelSelector: m.selector(), MatchLabelKeys: keys,
		})
	}
	return out
}

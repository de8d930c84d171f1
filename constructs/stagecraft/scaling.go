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
	// MinReplicas is the fewest pods. Default: 1.
	MinReplicas int32
	// MaxReplicas is the most pods. Required.
	MaxReplicas int32
	// CPUUtilization is the target average CPU use, in percent of the
	// request. Default: 80 when MemoryUtilization is not set either.
	CPUUtilization int32
	// MemoryUtilization is the target average memory use, in percent of the
	// request. Default: none.
	MemoryUtilization int32
	// ScaleDownStabilization is how long the autoscaler waits, after load
	// drops, before it removes pods. Default: 5m.
	ScaleDownStabilization time.Duration
}

// DisruptionBudget limits voluntary evictions (node drains, upgrades) of a
// ProcessorStage's pods. Set at most one of MaxUnavailable and MinAvailable.
type DisruptionBudget struct {
	// MaxUnavailable is how many pods ("1") or what share ("25%") may be
	// evicted at once. Default: "1".
	MaxUnavailable string
	// MinAvailable is how many pods or what share must stay. Default: none.
	MinAvailable string
	// Disabled creates no PodDisruptionBudget. Default: false.
	Disabled bool
}

// Spread places a ProcessorStage's pods across nodes and zones.
type Spread struct {
	// Required refuses to schedule a pod that would unbalance the spread.
	// Default: false, the scheduler prefers a balanced spread but still
	// schedules (ScheduleAnyway).
	Required bool
	// Disabled adds no spread constraints. Default: false.
	Disabled bool
}

const (
	defaultCPUUtilization   = 80
	defaultScaleDownWindow  = 5 * time.Minute
	defaultProcessorGrace   = 60 * time.Second
	hostnameTopologyKey     = "kubernetes.io/hostname"
	zoneTopologyKey         = "topology.kubernetes.io/zone"
	deploymentTemplateLabel = "pod-template-hash"
)

func resolveAutoscaling(a *Autoscaling) *Autoscaling {
	if a == nil {
		return nil
	}
	r := *a
	if r.MinReplicas == 0 {
		r.MinReplicas = 1
	}
	if r.CPUUtilization == 0 && r.MemoryUtilization == 0 {
		r.CPUUtilization = defaultCPUUtilization
	}
	if r.ScaleDownStabilization == 0 {
		r.ScaleDownStabilization = defaultScaleDownWindow
	}
	return &r
}

func validateAutoscaling(ps *problems, p ProcessorStageProps) {
	a := p.Autoscaling
	if a == nil {
		return
	}
	fld := field.NewPath("Autoscaling")
	if p.Replicas != nil {
		ps.add(field.NewPath("Replicas"), *p.Replicas, "set Replicas or Autoscaling, not both: the autoscaler owns the replica count")
	}
	validateReplicaRange(ps, fld, a.MinReplicas, a.MaxReplicas, "must be at least 1 (0 means the default, 1)")
	for _, u := range []struct {
		name string
		v    int32
	}{{"CPUUtilization", a.CPUUtilization}, {"MemoryUtilization", a.MemoryUtilization}} {
		if u.v < 0 || u.v > 1000 {
			ps.add(fld.Child(u.name), u.v, "must be a percentage of the request from 1 to 1000")
		}
	}
	if w := a.ScaleDownStabilization; w < 0 || w%time.Second != 0 || w > time.Hour {
		ps.add(fld.Child("ScaleDownStabilization"), w.String(), "must be a whole number of seconds up to 1h")
	}
}

// validateReplicaRange checks an autoscaler's bounds: a minimum of zero or
// more (minDetail says what zero means) and a maximum of at least one and
// at least the minimum.
func validateReplicaRange(ps *problems, fld *field.Path, min, max int32, minDetail string) {
	if min < 0 {
		ps.add(fld.Child("MinReplicas"), min, minDetail)
	}
	if max < 1 {
		ps.add(fld.Child("MaxReplicas"), max, "must be at least 1")
	} else if min > max {
		ps.add(fld.Child("MinReplicas"), min, fmt.Sprintf("must not be above MaxReplicas (%d)", max))
	}
}

// podCounts returns the fewest and the most pods a processor runs.
func (s *ProcessorStage) podCounts() (min, max int32) {
	if a := s.props.Autoscaling; a != nil {
		return a.MinReplicas, a.MaxReplicas
	}
	if e := s.props.EventScaling; e != nil {
		return e.MinReplicas, e.MaxReplicas
	}
	return *s.props.Replicas, *s.props.Replicas
}

// disruptionBudget returns the resolved budget, or nil when none is made:
// by default one is made when the stage may run more than one pod, or when
// an autoscaler owns its replica count. maxUnavailable 1 never blocks a
// drain, even at one pod, and keeps a drain from evicting every pod at once.
func (s *ProcessorStage) disruptionBudget() *DisruptionBudget {
	b := s.props.DisruptionBudget
	_, max := s.podCounts()
	scaled := s.props.Autoscaling != nil || s.props.EventScaling != nil
	switch {
	case b != nil && b.Disabled:
		return nil
	case b == nil && max <= 1 && !scaled:
		return nil
	case b == nil:
		return &DisruptionBudget{MaxUnavailable: "1"}
	}
	r := *b
	if r.MaxUnavailable == "" && r.MinAvailable == "" {
		r.MaxUnavailable = "1"
	}
	return &r
}

// parseIntOrPercent parses "3" or "25%".
func parseIntOrPercent(s string) (n int, percent, ok bool) {
	if v, found := strings.CutSuffix(s, "%"); found {
		n, err := strconv.Atoi(v)
		return n, true, err == nil && n >= 0 && n <= 100
	}
	n, err := strconv.Atoi(s)
	return n, false, err == nil && n >= 0
}

func validateDisruptionBudget(ps *problems, p ProcessorStageProps, minPods int32) {
	b := p.DisruptionBudget
	if b == nil || b.Disabled {
		return
	}
	fld := field.NewPath("DisruptionBudget")
	if b.MaxUnavailable != "" && b.MinAvailable != "" {
		ps.add(fld, b.MaxUnavailable+" and "+b.MinAvailable, "set MaxUnavailable or MinAvailable, not both")
		return
	}
	blocks := "would block every eviction, so nodes running the stage could never be drained"
	if v := b.MaxUnavailable; v != "" {
		n, _, ok := parseIntOrPercent(v)
		switch {
		case !ok:
			ps.add(fld.Child("MaxUnavailable"), v, "must be a count (\"1\") or a percentage (\"25%\")")
		case n == 0:
			ps.add(fld.Child("MaxUnavailable"), v, blocks)
		}
	}
	if v := b.MinAvailable; v != "" {
		n, percent, ok := parseIntOrPercent(v)
		switch {
		case !ok:
			ps.add(fld.Child("MinAvailable"), v, "must be a count (\"1\") or a percentage (\"75%\")")
		case percent && n == 100:
			ps.add(fld.Child("MinAvailable"), v, blocks)
		case !percent && int32(n) >= minPods && minPods > 0:
			ps.add(fld.Child("MinAvailable"), v, fmt.Sprintf("%s: the stage may run only %d pod(s)", blocks, minPods))
		}
	}
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

// scalingObjects returns the autoscaler and disruption budget of a
// processor whose workload object is of kind.
func (s *ProcessorStage) scalingObjects(kind string) []object {
	var out []object
	if a := s.props.Autoscaling; a != nil {
		hpa := &autoscalingv2.HorizontalPodAutoscaler{
			TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
			ObjectMeta: s.meta(),
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: kind, Name: s.name},
				MinReplicas:    ptr.To(a.MinReplicas),
				MaxReplicas:    a.MaxReplicas,
				Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
					ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To(int32(a.ScaleDownStabilization / time.Second))},
				},
			},
		}
		for _, m := range []struct {
			name corev1.ResourceName
			v    int32
		}{{corev1.ResourceCPU, a.CPUUtilization}, {corev1.ResourceMemory, a.MemoryUtilization}} {
			if m.v == 0 {
				continue
			}
			hpa.Spec.Metrics = append(hpa.Spec.Metrics, autoscalingv2.MetricSpec{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{Name: m.name, Target: autoscalingv2.MetricTarget{
					Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(m.v),
				}},
			})
		}
		out = append(out, object{scope: s, id: "HorizontalPodAutoscaler", obj: hpa})
	}
	if b := s.disruptionBudget(); b != nil {
		pdb := &policyv1.PodDisruptionBudget{
			TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
			ObjectMeta: s.meta(),
			Spec: policyv1.PodDisruptionBudgetSpec{
				Selector: s.selector(),
				// Pods that never became ready may be evicted: they serve
				// nothing, and keeping them would block drains.
				UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
			},
		}
		if b.MaxUnavailable != "" {
			pdb.Spec.MaxUnavailable = intOrPercent(b.MaxUnavailable)
		} else {
			pdb.Spec.MinAvailable = intOrPercent(b.MinAvailable)
		}
		out = append(out, object{scope: s, id: "PodDisruptionBudget", obj: pdb})
	}
	return out
}

// spread returns the topology spread constraints of a processor that may
// run more than one pod: across nodes and across zones.
func (s *ProcessorStage) spread(stateful bool) []corev1.TopologySpreadConstraint {
	sp := s.props.Spread
	if _, max := s.podCounts(); max <= 1 || (sp != nil && sp.Disabled) {
		return nil
	}
	when := corev1.ScheduleAnyway
	if sp != nil && sp.Required {
		when = corev1.DoNotSchedule
	}
	var keys []string
	if !stateful {
		// Count the pods of each ReplicaSet apart, so that a rolling
		// update does not skew the spread of the new pods.
		keys = []string{deploymentTemplateLabel}
	}
	var out []corev1.TopologySpreadConstraint
	for _, key := range []string{hostnameTopologyKey, zoneTopologyKey} {
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: when,
			LabelSelector: s.selector(), MatchLabelKeys: keys,
		})
	}
	return out
}

package stagecraft

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Rollout says how a ProcessorStage's Deployment replaces its pods when
// it changes (spec.strategy: RollingUpdate, spec.strategy.rollingUpdate).
// Each bound is a number of pods ("1") or a percentage of the replicas
// ("25%"); they must not both be zero.
type Rollout struct {
	// MaxSurge is how many pods may run above the replica count while new
	// pods start (maxSurge), zero or more. Default: Kubernetes' 25 %, and 0
	// for a stage with Accelerators (see ProcessorStageProps.Rollout).
	MaxSurge string
	// MaxUnavailable is how many pods may be missing below the replica
	// count while old pods stop (maxUnavailable), zero to 100 %. Default:
	// Kubernetes' 25 %, and 1 for a stage with Accelerators.
	MaxUnavailable string
}

// acceleratorRollout is the rollout of a Deployment with accelerators: an
// old pod stops (and frees its accelerator) before its replacement starts,
// one pod at a time. With one replica the stage is down while the new pod
// starts; with an autoscaler, one pod of the current count is.
var acceleratorRollout = Rollout{MaxSurge: "0", MaxUnavailable: "1"}

// resolveRollout returns the Deployment's strategy: Recreate for storage
// that attaches to one node, else RollingUpdate with the stage's bounds,
// or without surge for a stage with accelerators; an empty strategy
// leaves Kubernetes' defaults.
func (s *ProcessorStage) resolveRollout() appsv1.DeploymentStrategy {
	if s.spec.strategy == appsv1.RecreateDeploymentStrategyType {
		return appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	r := s.props.Rollout
	if r == nil {
		if s.work.accelerators == nil {
			return appsv1.DeploymentStrategy{}
		}
		r = &acceleratorRollout
	}
	ru := &appsv1.RollingUpdateDeployment{}
	if r.MaxSurge != "" {
		ru.MaxSurge = ptrIntOrString(r.MaxSurge)
	}
	if r.MaxUnavailable != "" {
		ru.MaxUnavailable = ptrIntOrString(r.MaxUnavailable)
	}
	return appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: ru}
}

// ptrIntOrString is the number or percentage s.
func ptrIntOrString(s string) *intstr.IntOrString {
	v := intstr.Parse(strings.TrimSpace(s))
	return &v
}

// validateRollout checks the Rollout of a stage: its bounds as the API
// server does (pkg/apis/apps/validation), and that the stage is a
// Deployment that rolls (no StatefulSet, no Recreate).
func (s *ProcessorStage) validateRollout() field.ErrorList {
	r := s.props.Rollout
	if r == nil {
		return nil
	}
	fld := field.NewPath("Rollout")
	switch {
	case s.props.Stateful != nil:
		return field.ErrorList{forbidden(fld, "Rollout", "a StatefulSet replaces its pods one at a time, each stopped before its replacement starts: it never surges, and Rollout applies to Deployments only")}
	case s.spec.strategy == appsv1.RecreateDeploymentStrategyType:
		return field.ErrorList{forbidden(fld, "Rollout", "the stage mounts storage that attaches to one node, so its Deployment stops every old pod before new ones start (Recreate): a rolling update would leave the new pod waiting for the volume")}
	}
	surge, errs := rolloutBound(fld.Child("MaxSurge"), r.MaxSurge, false)
	unavailable, more := rolloutBound(fld.Child("MaxUnavailable"), r.MaxUnavailable, true)
	errs = append(errs, more...)
	if len(errs) == 0 && surge && unavailable {
		errs = append(errs, invalid(fld.Child("MaxUnavailable"), r.MaxUnavailable, "must not be 0 when MaxSurge is 0: no pod could be replaced"))
	}
	return errs
}

// rolloutBound checks one bound; zero reports whether it is zero (an
// empty bound is Kubernetes' 25 %).
func rolloutBound(fld *field.Path, v string, percentCapped bool) (zero bool, errs field.ErrorList) {
	if v == "" {
		return false, nil
	}
	b := intstr.Parse(strings.TrimSpace(v))
	if b.Type == intstr.String {
		if msgs := validation.IsValidPercent(b.StrVal); len(msgs) > 0 {
			return false, field.ErrorList{invalid(fld, v, "must be a whole number of pods (\"1\") or a percentage (\"25%\")")}
		}
		n, _ := intstr.GetScaledValueFromIntOrPercent(&b, 100, false)
		if percentCapped && n > 100 {
			return false, field.ErrorList{invalid(fld, v, "must not be above 100%")}
		}
		return n == 0, nil
	}
	if b.IntVal < 0 {
		return false, field.ErrorList{invalid(fld, v, fmt.Sprintf("must be zero or more; got %d", b.IntVal))}
	}
	return b.IntVal == 0, nil
}

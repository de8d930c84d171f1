package stagecraft

import (
	"fmt"
	"sort"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/stagecraft-dev/stagecraft/imports/kedash"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EventScaling scales a ProcessorStage with KEDA on events, such as the
// length of a queue or a Prometheus query, and down to zero pods when
// there is nothing to do, so that idle accelerators are released. It
// excludes Autoscaling (KEDA manages its own HorizontalPodAutoscaler).
type EventScaling struct {
	// MinReplicas is the fewest pods. Default: 0, the stage scales to zero.
	MinReplicas int32
	// MaxReplicas is the most pods. Required.
	MaxReplicas int32
	// Cooldown is how long after the last event the stage scales to zero.
	// Default: 5m.
	Cooldown time.Duration
	// PollingInterval is how often KEDA checks the triggers. Default: 30s.
	PollingInterval time.Duration
	// Triggers are the event sources. At least one is required.
	Triggers []Trigger
}

// Trigger is one KEDA scaler.
type Trigger struct {
	// Type is the KEDA scaler, such as "prometheus", "rabbitmq",
	// "aws-sqs-queue" or "kafka". Required.
	Type string
	// Metadata configures the scaler (its server address, query or queue,
	// and target value). Required: every scaler needs some.
	Metadata map[string]string
	// Secrets pass credentials to the scaler by reference, through a
	// TriggerAuthentication: never as values in the manifests.
	// Default: none.
	Secrets []TriggerSecret
	// MetricType is how the metric is compared with the target:
	// AverageValue, Value or Utilization. Default: KEDA's (AverageValue).
	MetricType string
}

// TriggerSecret passes one key of a Secret to a scaler's parameter.
type TriggerSecret struct {
	// Parameter of the scaler, for example "bearerToken" or "host".
	Parameter string
	// Secret is the Secret's name.
	Secret string
	// Key in the Secret.
	Key string
}

const (
	defaultCooldown = 5 * time.Minute
	defaultPolling  = 30 * time.Second
)

func resolveEventScaling(e *EventScaling) *EventScaling {
	if e == nil {
		return nil
	}
	r := *e
	if r.Cooldown == 0 {
		r.Cooldown = defaultCooldown
	}
	if r.PollingInterval == 0 {
		r.PollingInterval = defaultPolling
	}
	r.Triggers = append([]Trigger(nil), e.Triggers...)
	return &r
}

func validateEventScaling(ps *problems, p ProcessorStageProps) {
	e := p.EventScaling
	if e == nil {
		return
	}
	fld := field.NewPath("EventScaling")
	if p.Autoscaling != nil {
		ps.add(fld, "Autoscaling and EventScaling", "set Autoscaling or EventScaling, not both: KEDA manages its own HorizontalPodAutoscaler")
	}
	if p.Replicas != nil {
		ps.add(field.NewPath("Replicas"), *p.Replicas, "set Replicas or EventScaling, not both: KEDA owns the replica count")
	}
	validateReplicaRange(ps, fld, e.MinReplicas, e.MaxReplicas, "must be zero (scale to zero) or more")
	validateSeconds(ps, fld.Child("Cooldown"), e.Cooldown, "must be zero (the default, 5m) or a positive whole number of seconds")
	validateSeconds(ps, fld.Child("PollingInterval"), e.PollingInterval, "must be zero (the default, 30s) or a positive whole number of seconds")
	if len(e.Triggers) == 0 {
		ps.required(fld.Child("Triggers"), "at least one trigger, such as a queue length or a Prometheus query")
	}
	for i, t := range e.Triggers {
		f := fld.Child("Triggers").Index(i)
		if t.Type == "" {
			ps.required(f.Child("Type"), "the KEDA scaler, such as \"prometheus\" or \"rabbitmq\"")
		} else {
			ps.addAll(f.Child("Type"), t.Type, validation.IsDNS1123Subdomain(t.Type))
		}
		if len(t.Metadata) == 0 {
			ps.required(f.Child("Metadata"), "the scaler's settings (its server address, query or queue, and target value)")
		}
		for _, k := range sortedKeys(t.Metadata) {
			if k == "" {
				ps.add(f.Child("Metadata"), k, "keys must not be empty")
			}
		}
		switch t.MetricType {
		case "", "AverageValue", "Value", "Utilization":
		default:
			ps.add(f.Child("MetricType"), t.MetricType, "must be \"AverageValue\", \"Value\" or \"Utilization\"")
		}
		for j, s := range t.Secrets {
			sf := f.Child("Secrets").Index(j)
			if s.Parameter == "" {
				ps.required(sf.Child("Parameter"), "the scaler parameter the secret fills, such as \"bearerToken\"")
			}
			if s.Secret == "" {
				ps.required(sf.Child("Secret"), "the Secret's name")
			} else {
				ps.addAll(sf.Child("Secret"), s.Secret, validation.IsDNS1123Subdomain(s.Secret))
			}
			if s.Key == "" {
				ps.required(sf.Child("Key"), "the key in the Secret")
			} else {
				ps.addAll(sf.Child("Key"), s.Key, validation.IsConfigMapKey(s.Key))
			}
		}
	}
}

// eventScalingObjects returns the ScaledObject of a processor whose
// workload is of kind, and a TriggerAuthentication per trigger with
// secrets.
func (s *ProcessorStage) eventScalingObjects(kind string) []object {
	e := s.props.EventScaling
	if e == nil {
		return nil
	}
	var out []object
	spec := kedash.ScaledObjectSpec{
		ScaleTargetRef:  &kedash.ScaledObjectSpecScaleTargetRef{ApiVersion: jsii.String("apps/v1"), Kind: jsii.String(kind), Name: jsii.String(s.name)},
		MinReplicaCount: jsii.Number(float64(e.MinReplicas)),
		MaxReplicaCount: jsii.Number(float64(e.MaxReplicas)),
		CooldownPeriod:  jsii.Number(float64(e.Cooldown / time.Second)),
		PollingInterval: jsii.Number(float64(e.PollingInterval / time.Second)),
	}
	triggers := []*kedash.ScaledObjectSpecTriggers{}
	for i, t := range e.Triggers {
		md := map[string]*string{}
		for k, v := range t.Metadata {
			md[k] = jsii.String(v)
		}
		tr := &kedash.ScaledObjectSpecTriggers{Type: jsii.String(t.Type), Metadata: &md}
		if t.MetricType != "" {
			tr.MetricType = jsii.String(t.MetricType)
		}
		if len(t.Secrets) > 0 {
			name := fmt.Sprintf("%s-%d", s.name, i)
			tr.AuthenticationRef = &kedash.ScaledObjectSpecTriggersAuthenticationRef{Name: jsii.String(name), Kind: jsii.String("TriggerAuthentication")}
			refs := []*kedash.TriggerAuthenticationSpecSecretTargetRef{}
			secrets := append([]TriggerSecret(nil), t.Secrets...)
			sort.SliceStable(secrets, func(a, b int) bool { return secrets[a].Parameter < secrets[b].Parameter })
			for _, sec := range secrets {
				refs = append(refs, &kedash.TriggerAuthenticationSpecSecretTargetRef{
					Parameter: jsii.String(sec.Parameter), Name: jsii.String(sec.Secret), Key: jsii.String(sec.Key)})
			}
			meta := s.meta()
			meta.Name = name
			out = append(out, object{scope: s, id: fmt.Sprintf("TriggerAuthentication%d", i), obj: &customObject{
				TypeMeta:   metav1.TypeMeta{APIVersion: "keda.sh/v1alpha1", Kind: "TriggerAuthentication"},
				ObjectMeta: meta,
				Spec:       kedash.TriggerAuthenticationSpec{SecretTargetRef: &refs},
			}})
		}
		triggers = append(triggers, tr)
	}
	spec.Triggers = &triggers
	return append(out, object{scope: s, id: "ScaledObject", obj: &customObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject"},
		ObjectMeta: s.meta(),
		Spec:       spec,
	}})
}

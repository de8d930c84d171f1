package stagecraft

import (
	"fmt"
	"sort"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/stagecraft-dev/stagecraft/imports/kedash"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EventScaling scales a ProcessorStage with KEDA on events, such as the
// length of a queue or a Prometheus query, and down to zero pods when
// there is nothing to do, so that idle accelerators are released. It
// excludes Autoscaling (KEDA manages its own HorizontalPodAutoscaler).
// It becomes a ScaledObject (keda.sh/v1alpha1) of the stage's name.
type EventScaling struct {
	// MinReplicas is the fewest pods (spec.minReplicaCount). Default: 0,
	// the stage scales to zero.
	MinReplicas int32
	// MaxReplicas is the most pods (spec.maxReplicaCount), at least
	// MinReplicas. Required.
	MaxReplicas int32
	// Cooldown is how long after the last active trigger the stage scales
	// to zero (spec.cooldownPeriod), a whole number of seconds; a fraction
	// of a second is a problem. Default: 5m.
	Cooldown time.Duration
	// PollingInterval is how often KEDA checks the triggers
	// (spec.pollingInterval), a whole number of seconds; a fraction of a
	// second is a problem. Default: 30s.
	PollingInterval time.Duration
	// Triggers are the event sources (spec.triggers). At least one is
	// required.
	Triggers []Trigger
}

// Trigger is one KEDA scaler (an entry of the ScaledObject's
// spec.triggers).
type Trigger struct {
	// Type is the KEDA scaler (type), such as "prometheus", "rabbitmq",
	// "aws-sqs-queue" or "kafka". Required.
	Type string
	// Metadata configures the scaler (metadata): its server address, query
	// or queue, and target value. Required: every scaler needs some. For the
	// prometheus, rabbitmq, aws-sqs-queue, kafka, cpu and memory scalers it
	// is checked against KEDA's own rules (which KEDA applies only when it
	// reconciles): a missing required parameter (prometheus' threshold,
	// say), a target below 0.001 or a count below 1, a value that is not a
	// number, or one KEDA does not know is a problem.
	Metadata map[string]string
	// Secrets pass credentials to the scaler by reference, through a
	// TriggerAuthentication named "<stage>-<trigger index>"
	// (authenticationRef): never as values in the manifests.
	// Default: none.
	Secrets []TriggerSecret
	// MetricType is how the metric is compared with the target
	// (metricType): AverageValue or Value; Utilization or AverageValue
	// (required) for the cpu and memory scalers, the only ones that take
	// Utilization. Default: KEDA's (AverageValue).
	MetricType string
}

// TriggerSecret passes one key of a Secret in the pipeline's namespace to
// a scaler's parameter: an entry of the TriggerAuthentication's
// spec.secretTargetRef.
type TriggerSecret struct {
	// Parameter of the scaler that the key fills (parameter), for example
	// "bearerToken" or "host". Required.
	Parameter string
	// Secret is the Secret's name (name), a DNS subdomain. Required.
	Secret string
	// Key in the Secret (key). Required.
	Key string
}

// eventScalingSpec is a resolved EventScaling.
type eventScalingSpec struct {
	min, max          int32
	cooldown, polling time.Duration
	triggers          []Trigger
}

func resolveEventScaling(e *EventScaling) *eventScalingSpec {
	if e == nil {
		return nil
	}
	r := &eventScalingSpec{min: e.MinReplicas, max: e.MaxReplicas, cooldown: e.Cooldown, polling: e.PollingInterval}
	if r.cooldown == 0 {
		r.cooldown = defaultCooldown
	}
	if r.polling == 0 {
		r.polling = defaultPolling
	}
	for _, t := range e.Triggers {
		t.Metadata = copyMap(t.Metadata)
		t.Secrets = append([]TriggerSecret(nil), t.Secrets...)
		// Secrets are written by parameter, so that the output does not
		// depend on the order they were given in.
		sort.SliceStable(t.Secrets, func(a, b int) bool { return t.Secrets[a].Parameter < t.Secrets[b].Parameter })
		r.triggers = append(r.triggers, t)
	}
	return r
}

// validateEventScaling checks e; autoscaled and replicas tell whether the
// stage also set Autoscaling and Replicas.
func validateEventScaling(e *EventScaling, autoscaled bool, replicas *int32) field.ErrorList {
	if e == nil {
		return nil
	}
	fld := field.NewPath("EventScaling")
	var errs field.ErrorList
	if autoscaled {
		errs = append(errs, forbidden(fld, "Autoscaling and EventScaling", "set Autoscaling or EventScaling, not both: KEDA manages its own HorizontalPodAutoscaler"))
	}
	if replicas != nil {
		errs = append(errs, forbidden(field.NewPath("Replicas"), *replicas, "set Replicas or EventScaling, not both: KEDA owns the replica count"))
	}
	errs = append(errs, validateReplicaRange(fld, e.MinReplicas, e.MaxReplicas, "must be zero (scale to zero) or more")...)
	errs = append(errs, validateSeconds(fld.Child("Cooldown"), e.Cooldown, "must be zero (the default, 5m) or a positive whole number of seconds")...)
	errs = append(errs, validateSeconds(fld.Child("PollingInterval"), e.PollingInterval, "must be zero (the default, 30s) or a positive whole number of seconds")...)
	if len(e.Triggers) == 0 {
		errs = append(errs, required(fld.Child("Triggers"), "at least one trigger, such as a queue length or a Prometheus query"))
	}
	resourceOnly := len(e.Triggers) > 0
	for i, t := range e.Triggers {
		errs = append(errs, validateTrigger(fld.Child("Triggers").Index(i), t)...)
		resourceOnly = resourceOnly && (t.Type == "cpu" || t.Type == "memory")
	}
	if resourceOnly && e.MinReplicas == 0 {
		errs = append(errs, invalid(fld.Child("MinReplicas"), 0, "KEDA's webhook refuses a ScaledObject with only cpu and memory triggers that scales to zero (no pod, no usage to scale up on): set MinReplicas to 1 or more, or add an event trigger"))
	}
	return errs
}

func validateTrigger(f *field.Path, t Trigger) field.ErrorList {
	var errs field.ErrorList
	if t.Type == "" {
		errs = append(errs, required(f.Child("Type"), "the KEDA scaler, such as \"prometheus\" or \"rabbitmq\""))
	} else {
		errs = append(errs, each(f.Child("Type"), t.Type, validation.IsDNS1123Subdomain(t.Type))...)
	}
	if len(t.Metadata) == 0 {
		errs = append(errs, required(f.Child("Metadata"), "the scaler's settings (its server address, query or queue, and target value)"))
	}
	if _, ok := t.Metadata[""]; ok {
		errs = append(errs, invalid(f.Child("Metadata"), "", "keys must not be empty"))
	}
	switch t.MetricType {
	case "", "AverageValue", "Value", "Utilization":
		if t.Type != "" && len(t.Metadata) > 0 {
			errs = append(errs, validateScalerRules(f, t)...)
		}
	default:
		errs = append(errs, notSupported(f.Child("MetricType"), t.MetricType, "must be \"AverageValue\", \"Value\" or \"Utilization\""))
	}
	for j, s := range t.Secrets {
		sf := f.Child("Secrets").Index(j)
		if s.Parameter == "" {
			errs = append(errs, required(sf.Child("Parameter"), "the scaler parameter the secret fills, such as \"bearerToken\""))
		}
		errs = append(errs, validateObjectKey(sf.Child("Secret"), sf.Child("Key"), "Secret", s.Secret, s.Key)...)
	}
	return errs
}

// scaledObjects returns the KEDA ScaledObject of m's workload, and a
// TriggerAuthentication (named "<stage>-<trigger index>") per trigger with
// secrets.
func scaledObjects(m *member, target scaleTarget, e *eventScalingSpec) []runtime.Object {
	var out []runtime.Object
	spec := kedash.ScaledObjectSpec{
		ScaleTargetRef:  &kedash.ScaledObjectSpecScaleTargetRef{ApiVersion: jsii.String("apps/v1"), Kind: jsii.String(target.kind), Name: jsii.String(target.name)},
		MinReplicaCount: jsii.Number(float64(e.min)),
		MaxReplicaCount: jsii.Number(float64(e.max)),
		CooldownPeriod:  jsii.Number(float64(e.cooldown / time.Second)),
		PollingInterval: jsii.Number(float64(e.polling / time.Second)),
	}
	triggers := []*kedash.ScaledObjectSpecTriggers{}
	for i, t := range e.triggers {
		md := map[string]*string{}
		for k, v := range t.Metadata {
			md[k] = jsii.String(v)
		}
		tr := &kedash.ScaledObjectSpecTriggers{Type: jsii.String(t.Type), Metadata: &md}
		if t.MetricType != "" {
			tr.MetricType = jsii.String(t.MetricType)
		}
		if len(t.Secrets) > 0 {
			name := fmt.Sprintf("%s-%d", m.name, i)
			tr.AuthenticationRef = &kedash.ScaledObjectSpecTriggersAuthenticationRef{Name: jsii.String(name), Kind: jsii.String("TriggerAuthentication")}
			out = append(out, triggerAuthentication(m, name, t.Secrets))
		}
		triggers = append(triggers, tr)
	}
	spec.Triggers = &triggers
	return append(out, &customObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject"},
		ObjectMeta: m.meta(),
		Spec:       spec,
	})
}

// triggerAuthentication passes secrets to a scaler by reference.
func triggerAuthentication(m *member, name string, secrets []TriggerSecret) runtime.Object {
	refs := []*kedash.TriggerAuthenticationSpecSecretTargetRef{}
	for _, sec := range secrets {
		refs = append(refs, &kedash.TriggerAuthenticationSpecSecretTargetRef{
			Parameter: jsii.String(sec.Parameter), Name: jsii.String(sec.Secret), Key: jsii.String(sec.Key)})
	}
	return &customObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: "keda.sh/v1alpha1", Kind: "TriggerAuthentication"},
		ObjectMeta: m.metaNamed(name),
		Spec:       kedash.TriggerAuthenticationSpec{SecretTargetRef: &refs},
	}
}

package stagecraft

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// KEDA's own rules for the scalers' metadata (pkg/scalers of kedacore/keda,
// each scaler's typed config and Validate). KEDA checks them only when it
// reconciles the ScaledObject, and then does not scale the stage at all;
// stagecraft checks them at synth. A scaler not listed here gets the
// checks that hold for every scaler.

// paramKind is how KEDA reads a scaler parameter.
type paramKind int

const (
	paramText paramKind = iota
	// paramTarget is a target value, a number that becomes the
	// HorizontalPodAutoscaler's target in thousandths: it must be at least
	// 0.001, since the API server refuses a target that is not positive.
	paramTarget
	// paramNumber is any number (an activation value).
	paramNumber
	// paramCount is a whole number that becomes a target: at least 1.
	paramCount
	// paramNonNegative is a whole number, zero or more.
	paramNonNegative
)

// scalerParam is one parameter of a scaler.
type scalerParam struct {
	name     string
	required bool // KEDA has no default
	secret   bool // may come from the TriggerAuthentication (Secrets)
	env      bool // may come from the container's environment ("<name>FromEnv")
	kind     paramKind
	enum     []string // the values KEDA accepts; none: any
}

// scalerRule is what KEDA wants of one scaler's trigger.
type scalerRule struct {
	params []scalerParam
	// metricTypes are the MetricType values the scaler takes ("" for
	// KEDA's default, AverageValue).
	metricTypes []string
	// check holds the scaler's rules across parameters.
	check func(f *field.Path, t Trigger) field.ErrorList
}

// externalMetricTypes are those of every scaler but cpu and memory: KEDA
// refuses Utilization for an external metric.
var externalMetricTypes = []string{"", "AverageValue", "Value"}

var scalerRules = map[string]scalerRule{
	"prometheus": {params: []scalerParam{
		{name: "serverAddress", required: true},
		{name: "query", required: true},
		{name: "threshold", required: true, kind: paramTarget},
		{name: "activationThreshold", kind: paramNumber},
	}, metricTypes: externalMetricTypes},
	"rabbitmq": {params: []scalerParam{
		{name: "queueName", required: true},
		{name: "host", required: true, secret: true, env: true},
		{name: "mode", enum: []string{"QueueLength", "MessageRate", "DeliverGetRate", "PublishedToDeliveredRatio", "ExpectedQueueConsumptionTime"}},
		{name: "value", kind: paramTarget},
		{name: "queueLength", kind: paramTarget},
		{name: "activationValue", kind: paramNumber},
		{name: "protocol", secret: true, enum: []string{"auto", "amqp", "http"}},
	}, metricTypes: externalMetricTypes, check: checkRabbitMQ},
	"aws-sqs-queue": {params: []scalerParam{
		{name: "queueURL", required: true, env: true},
		{name: "awsRegion", required: true, secret: true},
		{name: "queueLength", kind: paramCount},
		{name: "activationQueueLength", kind: paramNonNegative},
	}, metricTypes: externalMetricTypes},
	"kafka": {params: []scalerParam{
		{name: "bootstrapServers", required: true, env: true},
		{name: "consumerGroup", required: true, env: true},
		{name: "lagThreshold", kind: paramCount},
		{name: "activationLagThreshold", kind: paramNonNegative},
		{name: "offsetResetPolicy", enum: []string{"latest", "earliest"}},
		{name: "tls", secret: true, enum: []string{"enable", "disable"}},
	}, metricTypes: externalMetricTypes},
	"cpu":    {params: []scalerParam{{name: "value", required: true}}, metricTypes: []string{"Utilization", "AverageValue"}, check: checkResourceTrigger},
	"memory": {params: []scalerParam{{name: "value", required: true}}, metricTypes: []string{"Utilization", "AverageValue"}, check: checkResourceTrigger},
}

// validateScalerRules checks a trigger's metric type and metadata against
// KEDA's rules for its scaler.
func validateScalerRules(f *field.Path, t Trigger) field.ErrorList {
	rule, known := scalerRules[t.Type]
	if t.Type == "cron" {
		rule, known = cronRule, true
	}
	if !known {
		rule = scalerRule{metricTypes: externalMetricTypes}
	}
	errs := validateScalerType(f, t)
	if !slices.Contains(rule.metricTypes, t.MetricType) {
		errs = append(errs, notSupported(f.Child("MetricType"), t.MetricType, "KEDA's "+t.Type+" scaler takes "+metricTypeList(rule.metricTypes)))
	}
	for _, p := range rule.params {
		errs = append(errs, validateScalerParam(f, t, p)...)
	}
	if rule.check != nil {
		errs = append(errs, rule.check(f, t)...)
	}
	return errs
}

// metricTypeList names the metric types, KEDA's default first.
func metricTypeList(types []string) string {
	var names []string
	for _, m := range types {
		if m == "" {
			names = append(names, "none (AverageValue)")
		} else {
			names = append(names, fmt.Sprintf("%q", m))
		}
	}
	s := strings.Join(names, ", ")
	if len(types) == 2 && types[0] != "" {
		s = fmt.Sprintf("%q or %q (it sets no default)", types[0], types[1])
	}
	return s + "; Utilization is only for the cpu and memory scalers"
}

// validateScalerParam checks one parameter of t's metadata.
func validateScalerParam(f *field.Path, t Trigger, p scalerParam) field.ErrorList {
	fld := f.Child("Metadata").Key(p.name)
	v, ok := t.Metadata[p.name]
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		if p.required && !(p.env && t.Metadata[p.name+"FromEnv"] != "") && !(p.secret && hasSecretParam(t, p.name)) {
			return field.ErrorList{required(fld, requiredParamDetail(t.Type, p))}
		}
		return nil
	}
	if len(p.enum) > 0 && !slices.Contains(p.enum, v) {
		return field.ErrorList{notSupported(fld, v, fmt.Sprintf("KEDA's %s scaler takes %q", t.Type, p.enum))}
	}
	switch p.kind {
	case paramText:
		return nil
	case paramTarget, paramNumber:
		var n float64
		if err := json.Unmarshal([]byte(v), &n); err != nil || math.IsInf(n, 0) {
			return field.ErrorList{invalid(fld, v, "must be a number (KEDA reads it as a JSON number)")}
		}
		if p.kind == paramTarget && n*1000 < 1 {
			return field.ErrorList{invalid(fld, v, "must be at least 0.001: KEDA makes it the HorizontalPodAutoscaler's target in thousandths, and the API server refuses a target that is not positive")}
		}
	case paramCount, paramNonNegative:
		var n int64
		if err := json.Unmarshal([]byte(v), &n); err != nil {
			return field.ErrorList{invalid(fld, v, "must be a whole number")}
		}
		if p.kind == paramCount && n < 1 {
			return field.ErrorList{invalid(fld, v, "must be at least 1: it becomes the HorizontalPodAutoscaler's target, which the API server wants positive")}
		}
		if n < 0 {
			return field.ErrorList{invalid(fld, v, "must be zero or more")}
		}
	}
	return nil
}

// requiredParamDetail says where KEDA looks for a required parameter.
func requiredParamDetail(scaler string, p scalerParam) string {
	where := "in Metadata"
	if p.env {
		where += ", or the name of a variable of the container in " + p.name + "FromEnv"
	}
	if p.secret {
		where += ", or from a Secret (Secrets with Parameter " + p.name + ")"
	}
	return fmt.Sprintf("KEDA's %s scaler needs %s (%s): without it KEDA does not scale the stage", scaler, p.name, where)
}

// hasSecretParam reports whether t passes parameter name from a Secret.
func hasSecretParam(t Trigger, name string) bool {
	for _, s := range t.Secrets {
		if s.Parameter == name {
			return true
		}
	}
	return false
}

// checkRabbitMQ holds the rabbitmq scaler's rules on mode and value: the
// deprecated queueLength alone, or mode and value together, or neither
// (a queue length of 20).
func checkRabbitMQ(f *field.Path, t Trigger) field.ErrorList {
	md := f.Child("Metadata")
	set := func(k string) bool { return strings.TrimSpace(t.Metadata[k]) != "" }
	switch {
	case set("queueLength") && (set("mode") || set("value")):
		return field.ErrorList{forbidden(md.Key("queueLength"), t.Metadata["queueLength"], "KEDA's rabbitmq scaler refuses the deprecated queueLength with mode or value: set mode and value only")}
	case set("mode") && !set("value"):
		return field.ErrorList{required(md.Key("value"), "KEDA's rabbitmq scaler needs the target value of the mode")}
	case set("value") && !set("mode"):
		return field.ErrorList{required(md.Key("mode"), "KEDA's rabbitmq scaler needs the mode of the value: \"QueueLength\" or \"MessageRate\", say")}
	}
	return nil
}

// checkResourceTrigger holds the cpu and memory scalers' rule on value: a
// percentage of the request for Utilization, a quantity for AverageValue.
func checkResourceTrigger(f *field.Path, t Trigger) field.ErrorList {
	v := strings.TrimSpace(t.Metadata["value"])
	if v == "" {
		return nil
	}
	fld := f.Child("Metadata").Key("value")
	switch t.MetricType {
	case "Utilization":
		var n int32
		if err := json.Unmarshal([]byte(v), &n); err != nil || n < 1 {
			return field.ErrorList{invalid(fld, v, "must be a whole percentage of the request, at least 1, with MetricType Utilization")}
		}
	case "AverageValue":
		if q, err := resource.ParseQuantity(v); err != nil || q.Sign() != 1 {
			return field.ErrorList{invalid(fld, v, "must be a positive quantity (\"500m\", \"2Gi\") with MetricType AverageValue")}
		}
	}
	return nil
}

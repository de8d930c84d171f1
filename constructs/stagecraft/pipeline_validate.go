package stagecraft

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validate checks the pipeline's own props and resolved namespace.
func (p *Pipeline) validate() field.ErrorList {
	props := p.props
	errs := append(validateText(props), p.misuse...)
	if p.id == "" {
		errs = append(errs, required(field.NewPath("id"), "an id: the pipeline's name in the construct tree, and its namespace unless Namespace is set"))
	}
	if p.clash != "" {
		errs = append(errs, duplicate(field.NewPath("id"), p.id, p.clash))
	}
	errs = append(errs, p.validateNamespace()...)
	errs = append(errs, validateLabels(field.NewPath("Labels"), props.Labels)...)
	errs = append(errs, validateReservedLabels(field.NewPath("Labels"), props.Labels)...)
	errs = append(errs, validateKueueLabels(field.NewPath("Labels"), props.Labels)...)
	d := field.NewPath("Defaults")
	errs = append(errs, validateResources(d.Child("Resources"), props.Defaults.Resources, props.Defaults.Resources.merge(defaultResources))...)
	errs = append(errs, validatePullPolicy(d.Child("ImagePullPolicy"), props.Defaults.ImagePullPolicy)...)
	errs = append(errs, validateLabels(d.Child("NodeSelector"), props.Defaults.NodeSelector)...)
	if sa := props.Defaults.ServiceAccountName; sa != "" {
		errs = append(errs, each(d.Child("ServiceAccountName"), sa, validation.IsDNS1123Subdomain(sa))...)
	}
	errs = append(errs, validateNetwork(props.Network)...)
	if props.GateImage != "" {
		errs = append(errs, validateImage(field.NewPath("GateImage"), props.GateImage, false, "")...)
	}
	if t := props.WaitTimeout; t < 0 || t%time.Second != 0 {
		errs = append(errs, invalid(field.NewPath("WaitTimeout"), t.String(), "must be zero (the default, 24h) or a positive whole number of seconds"))
	}
	errs = append(errs, p.validateWorkflows()...)
	return append(errs, p.validateAccepted()...)
}

// validateNamespace checks the resolved namespace, naming the prop it came
// from, and that it agrees with the chart's.
func (p *Pipeline) validateNamespace() field.ErrorList {
	fld := field.NewPath("Namespace")
	switch {
	case p.props.Namespace != "":
	case p.chart.namespace != "":
		fld = field.NewPath("ChartProps", "Namespace")
	default:
		fld = field.NewPath("id")
	}
	errs := each(fld, p.namespace, validation.IsDNS1123Label(p.namespace))
	if p.namespace == "default" || strings.HasPrefix(p.namespace, "kube-") {
		errs = append(errs, forbidden(fld, p.namespace, "a pipeline needs a namespace of its own: stagecraft labels it to enforce Pod Security \"restricted\" and denies its traffic by default"))
	}
	if c := p.chart.namespace; c != "" && p.props.Namespace != "" && c != p.props.Namespace {
		errs = append(errs, invalid(field.NewPath("Namespace"), p.props.Namespace,
			fmt.Sprintf("differs from the namespace %q of chart %s; set the namespace in one place, or the same in both", c, p.chart.path)))
	}
	return errs
}

// validateChartLabels checks the labels of a chart, which cdk8s adds to
// every object of the chart, stagecraft's included.
func validateChartLabels(c chartInfo) []Problem {
	fld := field.NewPath("ChartProps", "Labels")
	errs := append(validateLabels(fld, c.labels), validateControllerLabels(fld, c.labels)...)
	return problemsOf(c.path, append(errs, validateKueueLabels(fld, c.labels)...))
}

package stagecraft

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// The rules an object changed by an override is checked against again:
// the API server's own rules of its metadata, of the counts of its kind,
// and of its pod template, as far as they can be checked on one object
// without a server; and Pod Security "restricted", with the checks of
// k8s.io/pod-security-admission, which the API server runs.

// dnsLabelKinds are the kinds whose names are DNS labels, not subdomains.
var dnsLabelKinds = map[string]bool{"Namespace": true, "Service": true, "StatefulSet": true, "CronJob": true}

// validateObjectMeta checks an object's name, namespace, labels and
// annotations.
func validateObjectMeta(kind string, m metav1.Object) field.ErrorList {
	md := field.NewPath("metadata")
	var errs field.ErrorList
	name, check := m.GetName(), validation.IsDNS1123Subdomain
	if dnsLabelKinds[kind] {
		check = validation.IsDNS1123Label
	}
	errs = append(errs, each(md.Child("name"), name, check(name))...)
	if ns := m.GetNamespace(); ns != "" {
		errs = append(errs, each(md.Child("namespace"), ns, validation.IsDNS1123Label(ns))...)
	}
	errs = append(errs, metavalidation.ValidateLabels(m.GetLabels(), md.Child("labels"))...)
	return append(errs, apivalidation.ValidateAnnotations(m.GetAnnotations(), md.Child("annotations"))...)
}

// validatePodRules checks a pod template's containers: at least one, each
// with a unique DNS-label name, an image, ports in range and requests not
// above their limits.
func validatePodRules(path *field.Path, spec *corev1.PodSpec) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Containers) == 0 {
		errs = append(errs, required(path.Child("spec", "containers"), "at least one container"))
	}
	names := map[string]bool{}
	check := func(fld *field.Path, c *corev1.Container) {
		errs = append(errs, each(fld.Child("name"), c.Name, validation.IsDNS1123Label(c.Name))...)
		if names[c.Name] {
			errs = append(errs, duplicate(fld.Child("name"), c.Name, "container names must be unique in a pod"))
		}
		names[c.Name] = true
		if c.Image == "" {
			errs = append(errs, required(fld.Child("image"), "an image"))
		}
		for j, p := range c.Ports {
			if p.ContainerPort < 1 || p.ContainerPort > 65535 {
				errs = append(errs, invalid(fld.Child("ports").Index(j).Child("containerPort"), p.ContainerPort, "must be between 1 and 65535, inclusive"))
			}
		}
		for res, req := range c.Resources.Requests {
			if lim, ok := c.Resources.Limits[res]; ok && req.Cmp(lim) > 0 {
				errs = append(errs, invalid(fld.Child("resources", "requests").Key(string(res)), req.String(), "must be less than or equal to the limit "+lim.String()))
			}
		}
	}
	for i := range spec.InitContainers {
		check(path.Child("spec", "initContainers").Index(i), &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		check(path.Child("spec", "containers").Index(i), &spec.Containers[i])
	}
	return errs
}

// psViolation is one check of Pod Security that a pod breaks.
type psViolation struct{ reason, detail string }

var restricted = sync.OnceValues(func() (policy.Evaluator, error) {
	return policy.NewEvaluator(policy.DefaultChecks(), nil)
})

// evaluateRestricted returns what a pod breaks of Pod Security
// "restricted" at the latest version.
func evaluateRestricted(meta *metav1.ObjectMeta, spec *corev1.PodSpec) []psViolation {
	ev, err := restricted()
	if err != nil {
		return []psViolation{{reason: "the Pod Security checks could not be loaded", detail: fmt.Sprint(err)}}
	}
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	var out []psViolation
	for _, r := range ev.EvaluatePod(lv, meta, spec) {
		if !r.Allowed {
			out = append(out, psViolation{reason: r.ForbiddenReason, detail: r.ForbiddenDetail})
		}
	}
	return out
}

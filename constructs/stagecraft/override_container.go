package stagecraft

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// More of the API server's rules of one container, for pod templates that
// an override changed: its image, hooks, mounts, the resources its
// variables read, and the pod's resource claims it uses.

// defaultGracePeriod is the API server's default of a pod's
// terminationGracePeriodSeconds.
const defaultGracePeriod = 30

// divisorsCPU and divisorsBytes are the divisors that the API server
// allows for a resourceFieldRef of CPU, and of memory, ephemeral storage
// and huge pages.
var (
	divisorsCPU   = []string{"1m", "1"}
	divisorsBytes = []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)

// validateContainerExtras checks what validateContainerFields does not;
// claims are the names of the pod's resource claims, grace its
// termination grace period (nil: the default, 30 seconds).
func validateContainerExtras(fld *field.Path, c *corev1.Container, claims map[string]bool, grace *int64) field.ErrorList {
	var errs field.ErrorList
	if c.Image != strings.TrimSpace(c.Image) {
		errs = append(errs, invalid(fld.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	if l := c.Lifecycle; l != nil {
		g := int64(defaultGracePeriod)
		if grace != nil {
			g = *grace
		}
		for name, h := range map[string]*corev1.LifecycleHandler{"postStart": l.PostStart, "preStop": l.PreStop} {
			if h != nil && h.Sleep != nil && (h.Sleep.Seconds < 0 || h.Sleep.Seconds > g) {
				errs = append(errs, invalid(fld.Child("lifecycle", name, "sleep"), h.Sleep.Seconds, fmt.Sprintf("must be non-negative and less than terminationGracePeriodSeconds (%d)", g)))
			}
		}
	}
	for i, m := range c.VolumeMounts {
		errs = append(errs, validateRecursiveReadOnly(fld.Child("volumeMounts").Index(i).Child("recursiveReadOnly"), m)...)
	}
	for i, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil {
			errs = append(errs, validateResourceFieldRef(fld.Child("env").Index(i).Child("valueFrom", "resourceFieldRef"), e.ValueFrom.ResourceFieldRef)...)
		}
	}
	seen := map[string]bool{}
	for i, rc := range c.Resources.Claims {
		cf := fld.Child("resources", "claims").Index(i)
		key := rc.Name + "/" + rc.Request
		switch {
		case rc.Name == "":
			errs = append(errs, required(cf.Child("name"), "the name of one of the pod's resourceClaims"))
		case !claims[rc.Name]:
			errs = append(errs, notFound(cf, rc.Name, "must be the name of one of the pod's resourceClaims (spec.resourceClaims)"))
		case seen[key]:
			errs = append(errs, duplicate(cf, rc.Name, "a claim may be used once by a container"))
		}
		seen[key] = true
	}
	return errs
}

// validateRecursiveReadOnly checks a mount's recursiveReadOnly: one of the
// API server's values, and Enabled or IfPossible only on a read-only mount
// without propagation.
func validateRecursiveReadOnly(fld *field.Path, m corev1.VolumeMount) field.ErrorList {
	r := m.RecursiveReadOnly
	if r == nil || *r == corev1.RecursiveReadOnlyDisabled {
		return nil
	}
	if *r != corev1.RecursiveReadOnlyEnabled && *r != corev1.RecursiveReadOnlyIfPossible {
		return oneOf(fld, *r, corev1.RecursiveReadOnlyDisabled, corev1.RecursiveReadOnlyIfPossible, corev1.RecursiveReadOnlyEnabled)
	}
	var errs field.ErrorList
	if !m.ReadOnly {
		errs = append(errs, forbidden(fld, *r, "may only be specified when readOnly is true"))
	}
	if p := m.MountPropagation; p != nil && *p != corev1.MountPropagationNone {
		errs = append(errs, forbidden(fld, *r, "may only be specified when mountPropagation is None or not specified"))
	}
	return errs
}

// validateResourceFieldRef checks what a variable reads of its
// container's resources: a request or limit of CPU, memory, ephemeral
// storage or huge pages, by a divisor the API server supports for it.
func validateResourceFieldRef(fld *field.Path, r *corev1.ResourceFieldSelector) field.ErrorList {
	var allowed []string
	switch res := r.Resource; {
	case res == "limits.cpu" || res == "requests.cpu":
		allowed = divisorsCPU
	case res == "limits.memory" || res == "requests.memory" || res == "limits.ephemeral-storage" || res == "requests.ephemeral-storage",
		strings.HasPrefix(res, "limits.hugepages-") || strings.HasPrefix(res, "requests.hugepages-"):
		allowed = divisorsBytes
	default:
		return field.ErrorList{notSupported(fld.Child("resource"), res, "must be limits or requests of cpu, memory, ephemeral-storage or hugepages-<size>")}
	}
	if r.Divisor.IsZero() {
		return nil
	}
	d := r.Divisor.String()
	for _, a := range allowed {
		if d == a {
			return nil
		}
	}
	return field.ErrorList{invalid(fld.Child("divisor"), d, "is not supported with "+r.Resource+"; supported: "+strings.Join(allowed, ", "))}
}

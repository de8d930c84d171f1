package stagecraft

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/distribution/reference"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The validators below are shared by the constructs: pure functions of a
// value and its field path.

// minKubernetesVersion is the oldest Kubernetes release whose API server
// accepts everything stagecraft writes (backoffLimitPerIndex is GA in
// 1.33); validation applies the rules of every release from it on.
const minKubernetesVersion = "1.33"

func validateImage(fld *field.Path, image string, allowLatest bool, optOut string) field.ErrorList {
	if image == "" {
		return field.ErrorList{required(fld, "a container image with a tag or digest, for example \"ghcr.io/acme/worker:1.4.2\"")}
	}
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return field.ErrorList{invalid(fld, image, "not a valid image reference: "+err.Error())}
	}
	if allowLatest {
		return nil
	}
	if _, ok := ref.(reference.Digested); ok {
		return nil
	}
	or := ""
	if optOut != "" {
		or = ", or set " + optOut
	}
	t, ok := ref.(reference.Tagged)
	switch {
	case !ok:
		return field.ErrorList{invalid(fld, image, "image has no tag or digest; pin a version (\"name:1.2.3\" or \"name@sha256:...\")"+or)}
	case t.Tag() == "latest":
		return field.ErrorList{invalid(fld, image, "the tag \"latest\" changes under a running pipeline; pin a version"+or)}
	}
	return nil
}

// validateQuantity parses a quantity that must be above zero.
func validateQuantity(fld *field.Path, s string) (resource.Quantity, field.ErrorList) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return q, field.ErrorList{invalid(fld, s, "must be a Kubernetes quantity, for example \"500m\", \"2\", \"512Mi\" or \"10Gi\"")}
	}
	if q.Sign() <= 0 {
		return q, field.ErrorList{invalid(fld, s, "must be greater than zero")}
	}
	return q, nil
}

// validateBytes parses a quantity of bytes (memory, storage) that must be
// above zero and a whole number of bytes: the API server warns about a
// fractional byte value ("512m" is half a byte) and rounds it up.
func validateBytes(fld *field.Path, s string) (resource.Quantity, field.ErrorList) {
	q, errs := validateQuantity(fld, s)
	if len(errs) > 0 || q.MilliValue()%1000 == 0 {
		return q, errs
	}
	why := ""
	if strings.HasSuffix(s, "m") {
		why = " (the suffix \"m\" is a thousandth)"
	}
	return q, field.ErrorList{invalid(fld, s, fmt.Sprintf("is a fractional number of bytes%s; use whole bytes with a binary suffix, such as %q", why, suggestBytes(s, q)))}
}

// suggestBytes proposes a whole quantity for a fractional one: "512Mi" for
// "512m" (the likely meaning), else the value rounded up to Mi.
func suggestBytes(s string, q resource.Quantity) string {
	if n, ok := strings.CutSuffix(s, "m"); ok {
		if _, err := resource.ParseQuantity(n + "Mi"); err == nil {
			return n + "Mi"
		}
	}
	const mi = 1 << 20
	return fmt.Sprintf("%dMi", (q.Value()+mi-1)/mi)
}

// validateResources checks the quantities the user set (own) and that no
// resolved request exceeds its limit.
func validateResources(fld *field.Path, own, resolved Resources) field.ErrorList {
	pairs := []struct {
		req, lim, ownReq, ownLim, reqName, limName string
		parse                                      func(*field.Path, string) (resource.Quantity, field.ErrorList)
	}{
		{resolved.CPURequest, resolved.CPULimit, own.CPURequest, own.CPULimit, "CPURequest", "CPULimit", validateQuantity},
		{resolved.MemoryRequest, resolved.MemoryLimit, own.MemoryRequest, own.MemoryLimit, "MemoryRequest", "MemoryLimit", validateBytes},
		{resolved.EphemeralStorageRequest, resolved.EphemeralStorageLimit, own.EphemeralStorageRequest, own.EphemeralStorageLimit, "EphemeralStorageRequest", "EphemeralStorageLimit", validateBytes},
	}
	var errs field.ErrorList
	for _, p := range pairs {
		n := len(errs)
		if p.ownReq != "" {
			_, e := p.parse(fld.Child(p.reqName), p.ownReq)
			errs = append(errs, e...)
		}
		if p.ownLim != "" {
			_, e := p.parse(fld.Child(p.limName), p.ownLim)
			errs = append(errs, e...)
		}
		if len(errs) > n || (p.ownReq == "" && p.ownLim == "") {
			continue
		}
		req, err1 := resource.ParseQuantity(p.req)
		lim, err2 := resource.ParseQuantity(p.lim)
		switch {
		case err1 != nil || err2 != nil || req.Cmp(lim) <= 0:
		case p.ownReq != "":
			errs = append(errs, invalid(fld.Child(p.reqName), p.req, fmt.Sprintf("request must not be above the limit %s (%s)", p.lim, p.limName)))
		default:
			errs = append(errs, invalid(fld.Child(p.limName), p.lim, fmt.Sprintf("limit must not be below the request %s, the default %s; set %s too", p.req, p.reqName, p.reqName)))
		}
	}
	return errs
}

func validatePullPolicy(fld *field.Path, v string) field.ErrorList {
	switch corev1.PullPolicy(v) {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		return nil
	}
	return field.ErrorList{notSupported(fld, v, "must be one of \"Always\", \"IfNotPresent\", \"Never\"")}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func validateLabels(fld *field.Path, labels map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(labels) {
		errs = append(errs, each(fld.Key(k), k, validation.IsQualifiedName(k))...)
		errs = append(errs, each(fld.Key(k), labels[k], validation.IsValidLabelValue(labels[k]))...)
	}
	return errs
}

// controllerLabels are the labels Kubernetes' controllers and the Job
// strategy set on the pods (and Jobs) they create, by the controller: a
// user's value would clash with theirs (a Job whose template carries
// another controller-uid is refused, so a CronJob would never run).
var controllerLabels = map[string]string{
	batchv1.ControllerUidLabel:             "Job",
	batchv1.JobNameLabel:                   "Job",
	"controller-uid":                       "Job", // the legacy forms the Job strategy still sets
	"job-name":                             "Job",
	batchv1.JobCompletionIndexAnnotation:   "Job",
	appsv1.DefaultDeploymentUniqueLabelKey: "Deployment",
	appsv1.ControllerRevisionHashLabelKey:  "StatefulSet",
	appsv1.StatefulSetPodNameLabel:         "StatefulSet",
	appsv1.PodIndexLabel:                   "StatefulSet",
}

// validateReservedLabels rejects the recommended labels, which stagecraft
// sets (and selects pods by), and the labels Kubernetes' controllers set on
// the objects they create.
func validateReservedLabels(fld *field.Path, labels map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(labels) {
		if k == labelName || k == labelPartOf || k == labelComponent || k == labelManagedBy {
			errs = append(errs, forbidden(fld.Key(k), k, "this recommended label is set by stagecraft"))
		}
	}
	return append(errs, validateControllerLabels(fld, labels)...)
}

// validateControllerLabels rejects the labels Kubernetes' controllers set.
func validateControllerLabels(fld *field.Path, labels map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(labels) {
		if c, ok := controllerLabels[k]; ok {
			errs = append(errs, forbidden(fld.Key(k), k, "this label is set by Kubernetes' "+c+" controller on the objects it creates"))
		}
	}
	return errs
}

// validatePodAnnotations rejects the deprecated seccomp and AppArmor
// annotations: the API server refuses a seccomp annotation that differs from
// the seccompProfile stagecraft sets, and warns about AppArmor ones.
func validatePodAnnotations(fld *field.Path, ann map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(ann) {
		if k == corev1.SeccompPodAnnotationKey || strings.HasPrefix(k, corev1.SeccompContainerAnnotationKeyPrefix) {
			errs = append(errs, forbidden(fld.Key(k), ann[k], "the seccomp annotations are deprecated and must match the pod's seccompProfile (RuntimeDefault, set by stagecraft); remove it"))
			continue
		}
		if strings.HasPrefix(k, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix) {
			errs = append(errs, forbidden(fld.Key(k), ann[k], "the AppArmor annotations are deprecated since Kubernetes 1.30 (the API server warns); the pods run with the runtime's default profile, and Override can set securityContext.appArmorProfile"))
		}
	}
	return errs
}

func validateAnnotations(fld *field.Path, ann map[string]string) field.ErrorList {
	var errs field.ErrorList
	total := 0
	for _, k := range sortedKeys(ann) {
		errs = append(errs, each(fld.Key(k), k, validation.IsQualifiedName(strings.ToLower(k)))...)
		total += len(k) + len(ann[k])
	}
	if total > 256*1024 {
		errs = append(errs, tooLong(fld, fmt.Sprintf("%d bytes", total), "annotations may hold at most 256 KiB in all"))
	}
	return errs
}

// maxDuration is the longest duration a Kubernetes field in seconds holds.
const maxDuration = math.MaxInt32 * time.Second

// validateSeconds checks a duration that becomes a field in whole seconds.
func validateSeconds(fld *field.Path, d time.Duration, detail string) field.ErrorList {
	switch {
	case d < 0 || d%time.Second != 0:
		return field.ErrorList{invalid(fld, d.String(), detail)}
	case d > maxDuration:
		return field.ErrorList{invalid(fld, d.String(), "must be at most 2147483647 seconds (about 68 years)")}
	}
	return nil
}

// validateNonNegative checks optional counts that must be zero or more.
func validateNonNegative(counts ...namedCount) field.ErrorList {
	var errs field.ErrorList
	for _, c := range counts {
		if c.v != nil && *c.v < 0 {
			errs = append(errs, invalid(field.NewPath(c.name), *c.v, "must be zero or more"))
		}
	}
	return errs
}

// namedCount is an optional count and the prop it comes from.
type namedCount struct {
	name string
	v    *int32
}

func hasPort(ports []Port, name string) bool {
	for _, p := range ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func portNames(ports []Port) string {
	if len(ports) == 0 {
		return "none (the stage has no Ports)"
	}
	names := make([]string, len(ports))
	for i, p := range ports {
		names[i] = fmt.Sprintf("%q", p.Name)
	}
	return strings.Join(names, ", ")
}

package stagecraft

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Accelerators asks for GPUs or other accelerators for each pod of a stage.
type Accelerators struct {
	// Count of accelerators per pod, set as the container's limit
	// (resources.limits[<Resource>]; the request follows the limit for
	// extended resources). Required, above 0.
	Count int32
	// Resource is the extended resource the device plugin advertises.
	// Default: "nvidia.com/gpu"; "amd.com/gpu", "gpu.intel.com/i915",
	// "aws.amazon.com/neuron" or any other domain-qualified name work too.
	Resource string
	// Product restricts the pods to nodes whose ProductLabel has this value,
	// for example "NVIDIA-A100-SXM4-80GB", through an entry added to
	// spec.nodeSelector. Default: any product.
	Product string
	// ProductLabel is the node label that names the product. Default:
	// "nvidia.com/gpu.product" (set by NVIDIA's GPU feature discovery) for
	// nvidia.com resources and "amd.com/gpu.product-name" for amd.com ones;
	// required with Product for other resources.
	ProductLabel string
	// Tolerations replace the default toleration (spec.tolerations).
	// Default: one that lets the pods onto nodes tainted with the
	// resource's name as key (any value, effect NoSchedule), as GPU node
	// pools usually are.
	Tolerations []Toleration
	// RuntimeClassName runs the pods with this RuntimeClass
	// (spec.runtimeClassName), for example "nvidia". Default: the cluster's
	// default runtime.
	RuntimeClassName string
}

// Toleration lets pods onto nodes with a matching taint (an entry of
// spec.tolerations).
type Toleration struct {
	// Key of the taint (key). Required.
	Key string
	// Value of the taint (value, with operator Equal). Default: any value
	// (operator Exists).
	Value string
	// Effect of the taint (effect): NoSchedule, PreferNoSchedule or
	// NoExecute. Default: every effect.
	Effect string
}

func validateAccelerators(fld *field.Path, a *Accelerators, r *accelSpec) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	if a.Count <= 0 {
		errs = append(errs, invalid(fld.Child("Count"), a.Count, "must be at least 1 accelerator per pod"))
	}
	if a.Resource != "" {
		errs = append(errs, validateExtendedResource(fld.Child("Resource"), a.Resource)...)
	}
	if a.Product != "" {
		errs = append(errs, each(fld.Child("Product"), a.Product, validation.IsValidLabelValue(a.Product))...)
		if r.productLabel == "" {
			errs = append(errs, required(fld.Child("ProductLabel"), "the node label naming the product of "+a.Resource))
		}
	}
	if a.ProductLabel != "" {
		errs = append(errs, each(fld.Child("ProductLabel"), a.ProductLabel, validation.IsQualifiedName(a.ProductLabel))...)
	}
	for i, t := range a.Tolerations {
		errs = append(errs, validateToleration(fld.Child("Tolerations").Index(i), t)...)
	}
	if a.RuntimeClassName != "" {
		errs = append(errs, each(fld.Child("RuntimeClassName"), a.RuntimeClassName, validation.IsDNS1123Subdomain(a.RuntimeClassName))...)
	}
	return errs
}

// knownAccelerators are the extended resources of the common device
// plugins, suggested when a name is close to one of them.
var knownAccelerators = []string{"nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915", "gpu.intel.com/xe", "aws.amazon.com/neuron", "aws.amazon.com/neuroncore", "habana.ai/gaudi", "google.com/tpu"}

// validateExtendedResource checks a device plugin's resource name as the API
// server checks an extended resource (a domain-qualified name outside
// kubernetes.io, valid with the quota prefix "requests." in front), and
// that its domain is not a misspelt vendor's, which no node would offer.
func validateExtendedResource(fld *field.Path, name string) field.ErrorList {
	domain, _, ok := strings.Cut(name, "/")
	switch {
	case strings.HasPrefix(name, corev1.DefaultResourceRequestsPrefix):
		return field.ErrorList{invalid(fld, name, fmt.Sprintf("the prefix %q belongs to quota names; use the device plugin's resource, such as %q", corev1.DefaultResourceRequestsPrefix, strings.TrimPrefix(name, corev1.DefaultResourceRequestsPrefix)))}
	case !ok:
		return field.ErrorList{invalid(fld, name, "must be a vendor's extended resource name with a domain, such as "+quotedList(knownAccelerators[:3]))}
	case strings.Contains(name, corev1.ResourceDefaultNamespacePrefix):
		return field.ErrorList{invalid(fld, name, "the kubernetes.io domain holds no device plugin resources; use the vendor's name, such as \"nvidia.com/gpu\"")}
	}
	if errs := each(fld, name, validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+name)); len(errs) > 0 {
		return errs
	}
	for _, k := range knownAccelerators {
		kd, _, _ := strings.Cut(k, "/")
		if d := editDistance(domain, kd); d > 0 && d <= 2 {
			return field.ErrorList{invalid(fld, name, fmt.Sprintf("no device plugin offers this resource; did you mean %q? Known accelerators: %s", k, quotedList(knownAccelerators)))}
		}
	}
	return nil
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func quotedList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func validateToleration(fld *field.Path, t Toleration) field.ErrorList {
	var errs field.ErrorList
	if t.Key == "" {
		errs = append(errs, required(fld.Child("Key"), "the taint's key"))
	} else {
		errs = append(errs, each(fld.Child("Key"), t.Key, validation.IsQualifiedName(t.Key))...)
	}
	if t.Value != "" {
		errs = append(errs, each(fld.Child("Value"), t.Value, validation.IsValidLabelValue(t.Value))...)
	}
	switch corev1.TaintEffect(t.Effect) {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		errs = append(errs, notSupported(fld.Child("Effect"), t.Effect, "must be \"NoSchedule\", \"PreferNoSchedule\" or \"NoExecute\""))
	}
	return errs
}

// validateSharedMemory checks the size of /dev/shm the user set against
// the resolved memory limit.
func validateSharedMemory(given, memoryLimit string) field.ErrorList {
	if given == "" {
		return nil
	}
	fld := field.NewPath("SharedMemory")
	q, errs := validateBytes(fld, given)
	if len(errs) > 0 {
		return errs
	}
	if lim, err := resource.ParseQuantity(memoryLimit); err == nil && q.Cmp(lim) >= 0 {
		return field.ErrorList{invalid(fld, given, fmt.Sprintf("must be below the memory limit %s: /dev/shm is memory and counts against it", memoryLimit))}
	}
	return nil
}

// applyAccelerators adds the accelerator's limit, node selector,
// tolerations and runtime class to a pod.
func applyAccelerators(spec *corev1.PodSpec, a *accelSpec) {
	if a == nil {
		return
	}
	c := &spec.Containers[0]
	c.Resources.Limits[corev1.ResourceName(a.resource)] = *resource.NewQuantity(int64(a.count), resource.DecimalSI)
	if a.product != "" {
		sel := map[string]string{}
		for k, v := range spec.NodeSelector {
			sel[k] = v
		}
		sel[a.productLabel] = a.product
		spec.NodeSelector = sel
	}
	for _, t := range a.tolerations {
		tol := corev1.Toleration{Key: t.Key, Effect: corev1.TaintEffect(t.Effect), Operator: corev1.TolerationOpExists}
		if t.Value != "" {
			tol.Operator, tol.Value = corev1.TolerationOpEqual, t.Value
		}
		spec.Tolerations = append(spec.Tolerations, tol)
	}
	if a.runtimeClass != "" {
		spec.RuntimeClassName = &a.runtimeClass
	}
}

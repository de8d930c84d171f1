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
	// Count of accelerators per pod, set as the container's limit (the
	// request follows the limit for extended resources). Required, above 0.
	Count int32
	// Resource is the extended resource the device plugin advertises.
	// Default: "nvidia.com/gpu"; "amd.com/gpu", "gpu.intel.com/i915",
	// "aws.amazon.com/neuron" or any other domain-qualified name work too.
	Resource string
	// Product restricts the pods to nodes whose ProductLabel has this value,
	// for example "NVIDIA-A100-SXM4-80GB". Default: any product.
	Product string
	// ProductLabel is the node label that names the product. Default:
	// "nvidia.com/gpu.product" (set by NVIDIA's GPU feature discovery) for
	// nvidia.com resources and "amd.com/gpu.product-name" for amd.com ones;
	// required with Product for other resources.
	ProductLabel string
	// Tolerations replace the default toleration, which lets the pods onto
	// nodes tainted with the resource's name as key (any value, effect
	// NoSchedule), as GPU node pools usually are.
	Tolerations []Toleration
	// RuntimeClassName runs the pods with this RuntimeClass, for example
	// "nvidia". Default: the cluster's default runtime.
	RuntimeClassName string
}

// Toleration lets pods onto nodes with a matching taint.
type Toleration struct {
	// Key of the taint. Required.
	Key string
	// Value of the taint. Default: any value (operator Exists).
	Value string
	// Effect of the taint: NoSchedule, PreferNoSchedule or NoExecute.
	// Default: every effect.
	Effect string
}

const defaultAccelerator = "nvidia.com/gpu"

// productLabels are the node labels that name the accelerator product, by
// the resource's domain.
var productLabels = map[string]string{
	"nvidia.com": "nvidia.com/gpu.product",
	"amd.com":    "amd.com/gpu.product-name",
}

func resolveAccelerators(a *Accelerators) *Accelerators {
	if a == nil {
		return nil
	}
	r := *a
	if r.Resource == "" {
		r.Resource = defaultAccelerator
	}
	if r.ProductLabel == "" {
		domain, _, _ := strings.Cut(r.Resource, "/")
		r.ProductLabel = productLabels[domain]
	}
	if r.Tolerations == nil {
		r.Tolerations = []Toleration{{Key: r.Resource, Effect: string(corev1.TaintEffectNoSchedule)}}
	} else {
		r.Tolerations = append([]Toleration(nil), a.Tolerations...)
	}
	return &r
}

func validateAccelerators(ps *problems, fld *field.Path, a *Accelerators) {
	if a == nil {
		return
	}
	if a.Count <= 0 {
		ps.add(fld.Child("Count"), a.Count, "must be at least 1 accelerator per pod")
	}
	if a.Resource != "" {
		validateExtendedResource(ps, fld.Child("Resource"), a.Resource)
	}
	if a.Product != "" {
		ps.addAll(fld.Child("Product"), a.Product, validation.IsValidLabelValue(a.Product))
		domain, _, _ := strings.Cut(resolveAccelerators(a).Resource, "/")
		if a.ProductLabel == "" && productLabels[domain] == "" {
			ps.required(fld.Child("ProductLabel"), "the node label naming the product of "+a.Resource)
		}
	}
	if a.ProductLabel != "" {
		ps.addAll(fld.Child("ProductLabel"), a.ProductLabel, validation.IsQualifiedName(a.ProductLabel))
	}
	for i, t := range a.Tolerations {
		validateToleration(ps, fld.Child("Tolerations").Index(i), t)
	}
	if a.RuntimeClassName != "" {
		ps.addAll(fld.Child("RuntimeClassName"), a.RuntimeClassName, validation.IsDNS1123Subdomain(a.RuntimeClassName))
	}
}

// validateExtendedResource checks a device plugin's resource name: a
// domain-qualified name outside kubernetes.io.
func validateExtendedResource(ps *problems, fld *field.Path, name string) {
	domain, _, ok := strings.Cut(name, "/")
	switch {
	case !ok:
		ps.add(fld, name, "must be a vendor's extended resource name with a domain, such as \"nvidia.com/gpu\", \"amd.com/gpu\" or \"gpu.intel.com/i915\"")
	case domain == "kubernetes.io" || strings.HasSuffix(domain, ".kubernetes.io"):
		ps.add(fld, name, "the kubernetes.io domain holds no device plugin resources; use the vendor's name, such as \"nvidia.com/gpu\"")
	default:
		ps.addAll(fld, name, validation.IsQualifiedName(name))
	}
}

func validateToleration(ps *problems, fld *field.Path, t Toleration) {
	if t.Key == "" {
		ps.required(fld.Child("Key"), "the taint's key")
	} else {
		ps.addAll(fld.Child("Key"), t.Key, validation.IsQualifiedName(t.Key))
	}
	if t.Value != "" {
		ps.addAll(fld.Child("Value"), t.Value, validation.IsValidLabelValue(t.Value))
	}
	switch corev1.TaintEffect(t.Effect) {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		ps.add(fld.Child("Effect"), t.Effect, "must be \"NoSchedule\", \"PreferNoSchedule\" or \"NoExecute\"")
	}
}

// sharedMemorySize returns the size of /dev/shm for a resolved workload:
// SharedMemory if set, else half the memory limit for stages with
// accelerators (a memory-backed volume counts against that limit), else
// none.
func sharedMemorySize(w Workload) string {
	if w.SharedMemory != "" || w.Accelerators == nil {
		return w.SharedMemory
	}
	lim, err := resource.ParseQuantity(w.Resources.MemoryLimit)
	if err != nil || lim.Sign() <= 0 {
		return "" // the bad limit is reported by validation
	}
	half := resource.NewQuantity(lim.Value()/2, resource.BinarySI)
	return half.String()
}

func validateSharedMemory(ps *problems, w, r Workload) {
	if w.SharedMemory == "" {
		return
	}
	q, ok := validateQuantity(ps, field.NewPath("SharedMemory"), w.SharedMemory)
	if !ok {
		return
	}
	if lim, err := resource.ParseQuantity(r.Resources.MemoryLimit); err == nil && q.Cmp(lim) >= 0 {
		ps.add(field.NewPath("SharedMemory"), w.SharedMemory, fmt.Sprintf("must be below the memory limit %s: /dev/shm is memory and counts against it", r.Resources.MemoryLimit))
	}
}

// applyAccelerators adds the accelerator's limit, node selector,
// tolerations and runtime class to a pod.
func applyAccelerators(spec *corev1.PodSpec, a *Accelerators) {
	if a == nil {
		return
	}
	c := &spec.Containers[0]
	c.Resources.Limits[corev1.ResourceName(a.Resource)] = *resource.NewQuantity(int64(a.Count), resource.DecimalSI)
	if a.Product != "" {
		sel := map[string]string{}
		for k, v := range spec.NodeSelector {
			sel[k] = v
		}
		sel[a.ProductLabel] = a.Product
		spec.NodeSelector = sel
	}
	for _, t := range a.Tolerations {
		tol := corev1.Toleration{Key: t.Key, Effect: corev1.TaintEffect(t.Effect), Operator: corev1.TolerationOpExists}
		if t.Value != "" {
			tol.Operator, tol.Value = corev1.TolerationOpEqual, t.Value
		}
		spec.Tolerations = append(spec.Tolerations, tol)
	}
	if a.RuntimeClassName != "" {
		spec.RuntimeClassName = &a.RuntimeClassName
	}
}

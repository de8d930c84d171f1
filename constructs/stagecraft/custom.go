package stagecraft

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// customObject is a custom resource (a KEDA ScaledObject, a Prometheus
// Operator ServiceMonitor, ...) whose spec is a struct of the Go bindings
// that `cdk8s import` generated into imports/ from the CRDs stagecraft
// targets. Their fields are all pointers; the nulls of unset ones are
// dropped when the object is written, as for every object.
type customObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              any `json:"spec"`
}

// DeepCopyObject returns a copy that shares the spec; stagecraft never
// changes an object after it is built, except through overrides.
func (c *customObject) DeepCopyObject() runtime.Object {
	d := *c
	c.ObjectMeta.DeepCopyInto(&d.ObjectMeta)
	return &d
}

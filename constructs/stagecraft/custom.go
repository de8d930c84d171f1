package stagecraft

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// customObject is a custom resource (a KEDA ScaledObject, a Prometheus
// Operator ServiceMonitor, ...) whose spec is a struct of the Go bindings
// that `cdk8s import` generated into imports/ from the CRDs stagecraft
// targets.
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

// MarshalJSON leaves out the empty strings of the spec: the generated
// bindings hold enumerations as strings without omitempty.
func (c *customObject) MarshalJSON() ([]byte, error) {
	raw, err := json.Marshal(c.Spec)
	if err != nil {
		return nil, err
	}
	var spec any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, err
	}
	type plain struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              any `json:"spec"`
	}
	return json.Marshal(plain{TypeMeta: c.TypeMeta, ObjectMeta: c.ObjectMeta, Spec: dropEmpty(spec)})
}

func dropEmpty(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil || e == "" {
				delete(t, k)
				continue
			}
			t[k] = dropEmpty(e)
		}
	case []any:
		for i, e := range t {
			t[i] = dropEmpty(e)
		}
	}
	return v
}

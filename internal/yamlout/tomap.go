package yamlout

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// ToMap returns the JSON form of obj without the fields that a typed
// k8s.io/api value always carries but a manifest should not: status, and
// the null creationTimestamp of every ObjectMeta.
func ToMap(obj runtime.Object) (map[string]any, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("yamlout: marshal %T: %w", obj, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("yamlout: unmarshal %T: %w", obj, err)
	}
	delete(m, "status")
	prune(m)
	return m, nil
}

// keepEmpty lists the fields whose empty object means something: an
// emptyDir volume with defaults, or a selector that selects everything.
var keepEmpty = map[string]bool{"emptyDir": true, "podSelector": true, "namespaceSelector": true}

// prune drops null values and the empty objects that the non-pointer
// structs of k8s.io/api always marshal ("resources: {}", "strategy: {}").
func prune(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			prune(e)
			if e == nil {
				delete(t, k)
			} else if em, ok := e.(map[string]any); ok && len(em) == 0 && !keepEmpty[k] {
				delete(t, k)
			}
		}
	case []any:
		for _, e := range t {
			prune(e)
		}
	}
}

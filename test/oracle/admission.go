package oracle

import (
	"fmt"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/meta/testrestmapper"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/apiserver/pkg/registry/rest"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/generated/openapi"
	"k8s.io/kubernetes/pkg/registry/core/pod"
)

// policyTypeChecker type-checks a ValidatingAdmissionPolicy's CEL
// expressions against the OpenAPI schemas of the kinds it matches, as
// kube-controller-manager's ValidatingAdmissionPolicy status controller
// does after the policy is created; what it finds (an unknown field, a
// type mismatch) it writes to status.typeChecking as warnings.
var policyTypeChecker = sync.OnceValue(func() *validating.TypeChecker {
	return &validating.TypeChecker{
		SchemaResolver: resolver.NewDefinitionsSchemaResolver(openapi.GetOpenAPIDefinitions, clientscheme.Scheme),
		RestMapper:     testrestmapper.TestOnlyStaticRESTMapper(clientscheme.Scheme),
	}
})

// policyTypeWarnings returns the type-checking warnings of a
// ValidatingAdmissionPolicy; nothing for another object.
func policyTypeWarnings(obj runtime.Object) []string {
	p, ok := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy)
	if !ok {
		return nil
	}
	var out []string
	for _, w := range policyTypeChecker().Check(p) {
		out = append(out, fmt.Sprintf("warning (status.typeChecking): %s: %s", w.FieldRef, w.Warning))
	}
	return out
}

// releaseHeldPod checks the update that releases a pod held by scheduling
// gates (a gate removing them; the only change the API server allows to a
// pod's gates): the pod strategy's update validation, on the defaulted,
// created pod. Nothing for another object, or a pod without gates.
func releaseHeldPod(obj runtime.Object, ns string) []string {
	held, ok := obj.(*core.Pod)
	if !ok || len(held.Spec.SchedulingGates) == 0 {
		return nil
	}
	held.ResourceVersion = "1"
	released := held.DeepCopy()
	released.Spec.SchedulingGates = nil
	var w warnings
	ctx := requestContext("update", schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, ns, held.Name, &w)
	if err := rest.BeforeUpdate(pod.Strategy, ctx, released, held); err != nil {
		return []string{"its release (an update removing its scheduling gates) is refused: " + err.Error()}
	}
	for i := range w {
		w[i] = "its release (an update removing its scheduling gates): " + w[i]
	}
	return w
}

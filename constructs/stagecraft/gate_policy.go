package stagecraft

import (
	"fmt"
	"sort"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// The gates' admission policy. A gate's Role may patch pods, and RBAC
// cannot name the pods of a Job in advance; a ValidatingAdmissionPolicy
// (admissionregistration.k8s.io/v1) narrows what the gates' ServiceAccounts
// may do to a pod to exactly what a gate does: remove the scheduling gate
// from a pod of its own stage. The API server evaluates it; nothing runs.

// gateAdmissionRules are the policy's checks, each with its message.
var gateAdmissionRules = []admissionv1.Validation{
	{Expression: "object.metadata.?labels['" + labelName + "'].orValue('') + '-gate' == request.userInfo.username.split(':')[3]",
		Message: "a stagecraft gate may only release the pods of its own stage"},
	{Expression: "oldObject.spec.?schedulingGates.orValue([]).exists(g, g.name == '" + schedulingGate + "') && " +
		"object.spec.?schedulingGates.orValue([]) == oldObject.spec.?schedulingGates.orValue([]).filter(g, g.name != '" + schedulingGate + "')",
		Message: "a stagecraft gate may only remove the scheduling gate " + schedulingGate},
	{Expression: "object.spec.containers == oldObject.spec.containers && object.spec.?initContainers == oldObject.spec.?initContainers && " +
		"object.spec.?activeDeadlineSeconds == oldObject.spec.?activeDeadlineSeconds && object.spec.?tolerations == oldObject.spec.?tolerations && " +
		"object.spec.?nodeSelector == oldObject.spec.?nodeSelector && object.spec.?affinity == oldObject.spec.?affinity && " +
		"object.metadata.?labels == oldObject.metadata.?labels && object.metadata.?annotations == oldObject.metadata.?annotations && " +
		"object.metadata.?finalizers == oldObject.metadata.?finalizers && object.metadata.?ownerReferences == oldObject.metadata.?ownerReferences",
		Message: "a stagecraft gate may change nothing else of a pod"},
}

// gateAdmissionObjects returns the policy and its binding, or nil when
// the pipeline has no gate or does not want them.
func (r *rendering) gateAdmissionObjects() []runtime.Object {
	p := r.p
	var accounts []string
	for _, s := range r.g.order {
		if b := s.base(); b.gated && len(r.g.waits[b]) > 0 {
			accounts = append(accounts, fmt.Sprintf("'system:serviceaccount:%s:%s'", p.namespace, gateName(b)))
		}
	}
	if len(accounts) == 0 || !p.gatePolicy {
		return nil
	}
	sort.Strings(accounts)
	name := "stagecraft-gates." + p.namespace
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: p.objectLabels(name, componentGate)}
	}
	policy := &admissionv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: meta(),
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": p.namespace}},
				ResourceRules: []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				}}},
			},
			MatchConditions: []admissionv1.MatchCondition{{Name: "gate-accounts",
				Expression: "request.userInfo.username in [" + strings.Join(accounts, ", ") + "]"}},
			Validations: append([]admissionv1.Validation(nil), gateAdmissionRules...),
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: meta(),
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	return []runtime.Object{policy, binding}
}

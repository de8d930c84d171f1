package stagecraft

import (
	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// The gates' admission policies. A gate's Role may patch pods, and RBAC
// cannot name the pods of a Job in advance; a ValidatingAdmissionPolicy
// (admissionregistration.k8s.io/v1) per gate narrows what the gate's
// ServiceAccount may do to exactly what the gate does: remove the
// scheduling gate from a pod of its own stage, and set the held Job's
// activeDeadlineSeconds once, when it releases it. The API server
// evaluates it; nothing runs.
//
// Each policy and its binding (cluster-scoped) is named
// "stagecraft-gate.<namespace>.<stage>-gate" (".job" added for the one
// on the held Job) after the one ServiceAccount
// it applies to: a namespace and an account name are DNS labels, which
// hold no dot, so two gates share a policy name only if they share their
// (namespaced) ServiceAccount, and two pipelines in one namespace (one app
// may not have two; two apps may) cannot replace each other's policy.

// gateAdmissionRules are the checks of a gate's policy on pods, each with
// its message, for the stage named stage.
func gateAdmissionRules(stage string) []admissionv1.Validation {
	return []admissionv1.Validation{
		{Expression: "object.metadata.?labels['" + labelName + "'].orValue('') == '" + stage + "'",
			Message: "a stagecraft gate may only release the pods of its own stage"},
		{Expression: "oldObject.spec.?schedulingGates.orValue([]).exists(g, g.name == '" + schedulingGate + "') && " +
			"object.spec.?schedulingGates.orValue([]) == oldObject.spec.?schedulingGates.orValue([]).filter(g, g.name != '" + schedulingGate + "')",
			Message: "a stagecraft gate may only remove the scheduling gate " + schedulingGate},
		{Expression: "object.spec.containers == oldObject.spec.containers && object.spec.?initContainers == oldObject.spec.?initContainers && " +
			"object.spec.?activeDeadlineSeconds == oldObject.spec.?activeDeadlineSeconds && object.spec.?tolerations == oldObject.spec.?tolerations && " +
			"object.spec.?nodeSelector == oldObject.spec.?nodeSelector && object.spec.?affinity == oldObject.spec.?affinity && " + sameMeta,
			Message: "a stagecraft gate may change nothing else of a pod"},
	}
}

// gateJobRules are the checks of a gate's policy on the held Job, whose
// deadline it sets at release.
var gateJobRules = []admissionv1.Validation{
	{Expression: "!has(oldObject.spec.activeDeadlineSeconds) && object.spec.template == oldObject.spec.template && " +
		"object.spec.?parallelism == oldObject.spec.?parallelism && object.spec.?completions == oldObject.spec.?completions && " +
		"object.spec.?suspend == oldObject.spec.?suspend && object.spec.?backoffLimit == oldObject.spec.?backoffLimit && " +
		"object.spec.?maxFailedIndexes == oldObject.spec.?maxFailedIndexes && object.spec.?ttlSecondsAfterFinished == oldObject.spec.?ttlSecondsAfterFinished && " +
		sameMeta,
		Message: "a stagecraft gate may only set the activeDeadlineSeconds of the Job it releases, once"},
}

// sameMeta holds when an update keeps an object's labels, annotations,
// finalizers and owners.
const sameMeta = "object.metadata.?labels == oldObject.metadata.?labels && object.metadata.?annotations == oldObject.metadata.?annotations && " +
	"object.metadata.?finalizers == oldObject.metadata.?finalizers && object.metadata.?ownerReferences == oldObject.metadata.?ownerReferences"

// gateAdmissionName names the policy and binding of the gate of s.
func gateAdmissionName(namespace string, s *stage) string {
	return "stagecraft-gate." + namespace + "." + gateName(s)
}

// gateAdmissionObjects returns each gate's policy and its binding, or nil
// when the pipeline has no gate or does not want them.
func (r *rendering) gateAdmissionObjects() []runtime.Object {
	p := r.p
	if !p.gatePolicy {
		return nil
	}
	var out []runtime.Object
	for _, s := range r.g.order {
		if b := s.base(); b.gated && len(r.g.waits[b]) > 0 && !inChain(b) {
			out = append(out, r.gateAdmission(b)...)
		}
	}
	return out
}

// gateAdmission returns the policy and binding of the gate of s on pods,
// and, when the gate sets the held Job's deadline, those on Jobs (named
// with ".job" after the gate's, which no gate name holds). They apply to
// updates in the pipeline's namespace by the gate's ServiceAccount alone.
func (r *rendering) gateAdmission(s *stage) []runtime.Object {
	name := gateAdmissionName(r.p.namespace, s)
	out := r.admissionPolicy(s, name, "", "pods", gateAdmissionRules(s.name))
	if r.heldDeadline(s) {
		out = append(out, r.admissionPolicy(s, name+".job", "batch", "jobs", gateJobRules)...)
	}
	return out
}

// admissionPolicy returns a policy named name that applies validations to
// updates of resource (of API group) by the gate of s, and its binding.
func (r *rendering) admissionPolicy(s *stage, name, group, resource string, validations []admissionv1.Validation) []runtime.Object {
	p := r.p
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: p.objectLabels(gateName(s), componentGate)}
	}
	inNamespace := func() *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: p.namespace}}
	}
	policy := &admissionv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: meta(),
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: inNamespace(),
				ResourceRules: []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: []string{resource}},
				}}},
			},
			MatchConditions: []admissionv1.MatchCondition{{Name: "gate-account",
				Expression: "request.userInfo.username == 'system:serviceaccount:" + p.namespace + ":" + gateName(s) + "'"}},
			Validations: append([]admissionv1.Validation(nil), validations...),
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: meta(),
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources:    &admissionv1.MatchResources{NamespaceSelector: inNamespace()},
		},
	}
	return []runtime.Object{policy, binding}
}

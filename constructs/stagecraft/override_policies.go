package stagecraft

import (
	"slices"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// An admission policy grants what it does not refuse: after an override it
// must refuse at least what it refused, on at least the requests it
// matched. A NetworkPolicy grants the traffic it allows: after an
// override it may allow only traffic it allowed (override_network.go).

// policyWidening returns what an admission or network policy grants after
// an override that it did not before; ok is false for other kinds.
func policyWidening(before, after runtime.Object) (field.ErrorList, bool) {
	switch a := after.(type) {
	case *admissionv1.ValidatingAdmissionPolicy:
		return admissionWidened(before.(*admissionv1.ValidatingAdmissionPolicy), a), true
	case *admissionv1.ValidatingAdmissionPolicyBinding:
		return admissionBindingWidened(before.(*admissionv1.ValidatingAdmissionPolicyBinding), a), true
	}
	return networkWidening(before, after)
}

// admissionWidened reports a policy that refuses less: one that ignores
// its failures, lost or changed a validation, or matches fewer requests.
func admissionWidened(before, after *admissionv1.ValidatingAdmissionPolicy) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if failurePolicy(before.Spec.FailurePolicy) == admissionv1.Fail && failurePolicy(after.Spec.FailurePolicy) != admissionv1.Fail {
		errs = append(errs, widened(spec.Child("failurePolicy"), string(*after.Spec.FailurePolicy), "a policy that fails open admits what it cannot evaluate; it must stay Fail"))
	}
	for i, v := range before.Spec.Validations {
		if !slices.ContainsFunc(after.Spec.Validations, func(w admissionv1.Validation) bool { return w.Expression == v.Expression }) {
			errs = append(errs, widened(spec.Child("validations").Index(i), v.Message, "the validation \""+v.Message+"\" is gone or its expression changed"))
		}
	}
	if !equality.Semantic.DeepEqual(before.Spec.Variables, after.Spec.Variables) {
		errs = append(errs, widened(spec.Child("variables"), len(after.Spec.Variables), "the validations read these variables; they must stay as written"))
	}
	if !equality.Semantic.DeepEqual(before.Spec.ParamKind, after.Spec.ParamKind) {
		errs = append(errs, widened(spec.Child("paramKind"), after.Spec.ParamKind, "the validations read these parameters; they must stay as written"))
	}
	for _, c := range after.Spec.MatchConditions {
		if !slices.Contains(before.Spec.MatchConditions, c) {
			errs = append(errs, widened(spec.Child("matchConditions").Key(c.Name), c.Expression, "a new or changed match condition lets requests it does not match through"))
		}
	}
	return append(errs, matchNarrowed(spec.Child("matchConstraints"), before.Spec.MatchConstraints, after.Spec.MatchConstraints)...)
}

// failurePolicy returns a policy's failure policy, defaulted as the API
// server defaults it.
func failurePolicy(p *admissionv1.FailurePolicyType) admissionv1.FailurePolicyType {
	if p == nil {
		return admissionv1.Fail
	}
	return *p
}

// admissionBindingWidened reports a binding that binds another policy,
// no longer denies, or matches fewer requests.
func admissionBindingWidened(before, after *admissionv1.ValidatingAdmissionPolicyBinding) field.ErrorList {
	spec := field.NewPath("spec")
	b, a := &before.Spec, &after.Spec
	var errs field.ErrorList
	if a.PolicyName != b.PolicyName {
		errs = append(errs, widened(spec.Child("policyName"), a.PolicyName, "the binding binds another policy than "+b.PolicyName))
	}
	if slices.Contains(b.ValidationActions, admissionv1.Deny) && !slices.Contains(a.ValidationActions, admissionv1.Deny) {
		errs = append(errs, widened(spec.Child("validationActions"), a.ValidationActions, "the binding no longer denies what the policy refuses; it must keep Deny"))
	}
	if !equality.Semantic.DeepEqual(b.ParamRef, a.ParamRef) {
		errs = append(errs, widened(spec.Child("paramRef"), a.ParamRef, "the policy's validations read these parameters; they must stay as written"))
	}
	return append(errs, matchNarrowed(spec.Child("matchResources"), b.MatchResources, a.MatchResources)...)
}

// matchNarrowed reports match resources that match fewer requests: after
// must match every request before matched. Nil matches every request.
func matchNarrowed(fld *field.Path, before, after *admissionv1.MatchResources) field.ErrorList {
	if before == nil {
		if after == nil {
			return nil
		}
		return field.ErrorList{widened(fld, "set", "the policy applies to fewer requests than every one")}
	}
	if after == nil {
		after = &admissionv1.MatchResources{}
	}
	var errs field.ErrorList
	if !selectorWider(before.NamespaceSelector, after.NamespaceSelector) {
		errs = append(errs, widened(fld.Child("namespaceSelector"), after.NamespaceSelector, "the policy applies in fewer namespaces"))
	}
	if !selectorWider(before.ObjectSelector, after.ObjectSelector) {
		errs = append(errs, widened(fld.Child("objectSelector"), after.ObjectSelector, "the policy applies to fewer objects"))
	}
	for i, r := range before.ResourceRules {
		if !slices.ContainsFunc(after.ResourceRules, func(a admissionv1.NamedRuleWithOperations) bool { return ruleCovers(a, r) }) {
			errs = append(errs, widened(fld.Child("resourceRules").Index(i), r.Resources, "the policy no longer applies to every request of this rule"))
		}
	}
	for i, r := range after.ExcludeResourceRules {
		if !slices.ContainsFunc(before.ExcludeResourceRules, func(b admissionv1.NamedRuleWithOperations) bool { return ruleCovers(b, r) }) {
			errs = append(errs, widened(fld.Child("excludeResourceRules").Index(i), r.Resources, "the policy excludes requests it applied to"))
		}
	}
	if exact := admissionv1.Exact; before.MatchPolicy != nil && *before.MatchPolicy != exact && after.MatchPolicy != nil && *after.MatchPolicy == exact {
		errs = append(errs, widened(fld.Child("matchPolicy"), string(exact), "the policy no longer applies to the other versions of its resources"))
	}
	return errs
}

// ruleCovers reports whether rule a matches every request rule b matches.
func ruleCovers(a, b admissionv1.NamedRuleWithOperations) bool {
	for _, op := range b.Operations {
		if !slices.Contains(a.Operations, op) && !slices.Contains(a.Operations, admissionv1.OperationAll) {
			return false
		}
	}
	all := func(as, bs []string) bool {
		for _, s := range bs {
			if !has(as, s) {
				return false
			}
		}
		return true
	}
	scope := func(s *admissionv1.ScopeType) admissionv1.ScopeType {
		if s == nil {
			return admissionv1.AllScopes
		}
		return *s
	}
	return all(a.APIGroups, b.APIGroups) && all(a.APIVersions, b.APIVersions) && all(a.Resources, b.Resources) &&
		all(a.ResourceNames, b.ResourceNames) && (len(a.ResourceNames) == 0 || len(b.ResourceNames) > 0) &&
		(scope(a.Scope) == admissionv1.AllScopes || scope(a.Scope) == scope(b.Scope))
}

// selectorWider reports whether a selects every object b selects: each
// requirement of a is one of b's. A nil selector selects everything, as an
// empty one does.
func selectorWider(b, a *metav1.LabelSelector) bool {
	if a == nil {
		return true
	}
	if b == nil {
		b = &metav1.LabelSelector{}
	}
	for k, v := range a.MatchLabels {
		if w, ok := b.MatchLabels[k]; !ok || w != v {
			return false
		}
	}
	for _, e := range a.MatchExpressions {
		if !slices.ContainsFunc(b.MatchExpressions, func(f metav1.LabelSelectorRequirement) bool { return equality.Semantic.DeepEqual(e, f) }) {
			return false
		}
	}
	return true
}

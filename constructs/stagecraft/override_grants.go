package stagecraft

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psapi "k8s.io/pod-security-admission/api"
)

// What an object grants after its overrides must be a subset of what it
// granted as stagecraft rendered it: the object before the overrides is
// the measure, not a list of forbidden edits. Roles grant their rules and
// bindings their role to their subjects; admission policies and network
// policies grant what they do not refuse; service accounts and pods grant
// a token when they mount one. Each widening is a problem, unless the
// pipeline sets PipelineProps.AllowWideningOverride.

// wideningOptOut ends the message of every widening.
const wideningOptOut = "; set PipelineProps.AllowWideningOverride to accept an override that grants more than stagecraft wrote"

// widening returns what after grants that before, the same object as
// rendered, did not.
func widening(before, after runtime.Object) field.ErrorList {
	if errs := moved(before, after); len(errs) > 0 {
		return errs
	}
	switch a := after.(type) {
	case *rbacv1.Role:
		return rulesWidened(field.NewPath("rules"), before.(*rbacv1.Role).Rules, a.Rules)
	case *rbacv1.ClusterRole:
		b := before.(*rbacv1.ClusterRole)
		errs := rulesWidened(field.NewPath("rules"), b.Rules, a.Rules)
		if !equality.Semantic.DeepEqual(b.AggregationRule, a.AggregationRule) {
			errs = append(errs, widened(field.NewPath("aggregationRule"), a.AggregationRule, "the role aggregates other roles' rules"))
		}
		return errs
	case *rbacv1.RoleBinding:
		b := before.(*rbacv1.RoleBinding)
		return bindingWidened(b.RoleRef, a.RoleRef, b.Subjects, a.Subjects)
	case *rbacv1.ClusterRoleBinding:
		b := before.(*rbacv1.ClusterRoleBinding)
		return bindingWidened(b.RoleRef, a.RoleRef, b.Subjects, a.Subjects)
	case *corev1.ServiceAccount:
		return tokenWidened(field.NewPath("automountServiceAccountToken"), before.(*corev1.ServiceAccount).AutomountServiceAccountToken, a.AutomountServiceAccountToken)
	case *corev1.Secret:
		return secretWidened(before.(*corev1.Secret), a)
	}
	if errs, ok := policyWidening(before, after); ok {
		return errs
	}
	if tb, _ := podTemplateOf(before); tb != nil {
		ta, path := podTemplateOf(after)
		return podWidened(path, tb, ta)
	}
	return nil
}

// widened is the problem of a field that grants more after an override.
func widened(fld *field.Path, v any, what string) *field.Error {
	return forbidden(fld, v, "grants more than stagecraft wrote: "+what+wideningOptOut)
}

// rulesWidened reports each rule of after that grants a verb on a
// resource (or a non-resource URL) that no rule of before grants.
func rulesWidened(fld *field.Path, before, after []rbacv1.PolicyRule) field.ErrorList {
	var errs field.ErrorList
	for i, r := range after {
		var extra []string
		for _, v := range r.Verbs {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					if !slices.ContainsFunc(before, func(b rbacv1.PolicyRule) bool { return coversResource(b, g, res, v, r.ResourceNames) }) {
						extra = append(extra, fmt.Sprintf("%s %s.%s", v, res, g))
					}
				}
			}
			for _, u := range r.NonResourceURLs {
				if !slices.ContainsFunc(before, func(b rbacv1.PolicyRule) bool { return has(b.Verbs, v) && coversURL(b.NonResourceURLs, u) }) {
					extra = append(extra, v+" "+u)
				}
			}
		}
		if len(extra) > 0 {
			errs = append(errs, widened(fld.Index(i), extra, fmt.Sprintf("the rule allows %q, which no rule allowed", extra)))
		}
	}
	return errs
}

// coversResource reports whether rule b allows verb v on resource res of
// API group g, for the resource names names (none: any name).
func coversResource(b rbacv1.PolicyRule, g, res, v string, names []string) bool {
	if !has(b.Verbs, v) || !has(b.APIGroups, g) || !has(b.Resources, res) {
		return false
	}
	if len(b.ResourceNames) == 0 {
		return true
	}
	if len(names) == 0 {
		return false
	}
	for _, n := range names {
		if !slices.Contains(b.ResourceNames, n) {
			return false
		}
	}
	return true
}

// coversURL reports whether one of urls (a path, "*", or a prefix ending
// in "*") matches u, as RBAC matches non-resource URLs.
func coversURL(urls []string, u string) bool {
	for _, b := range urls {
		if b == "*" || b == u || (len(b) > 0 && b[len(b)-1] == '*' && len(u) >= len(b)-1 && u[:len(b)-1] == b[:len(b)-1] && u != b) {
			return true
		}
	}
	return false
}

// has reports whether set holds s or the wildcard "*".
func has(set []string, s string) bool {
	return slices.Contains(set, s) || slices.Contains(set, rbacv1.ResourceAll)
}

// bindingWidened reports a binding to another role, and each subject the
// binding did not have.
func bindingWidened(refB, refA rbacv1.RoleRef, before, after []rbacv1.Subject) field.ErrorList {
	var errs field.ErrorList
	if refB != refA {
		errs = append(errs, widened(field.NewPath("roleRef"), refA.Kind+" "+refA.Name, "the binding grants another role than "+refB.Kind+" "+refB.Name))
	}
	for i, s := range after {
		if !slices.Contains(before, s) {
			errs = append(errs, widened(field.NewPath("subjects").Index(i), subjectName(s), "the role is granted to a subject it was not granted to"))
		}
	}
	return errs
}

// subjectName names a subject in problems: "ServiceAccount ns/name".
func subjectName(s rbacv1.Subject) string {
	if s.Namespace == "" {
		return s.Kind + " " + s.Name
	}
	return s.Kind + " " + s.Namespace + "/" + s.Name
}

// tokenWidened reports a token mounted where none was (nil mounts one).
func tokenWidened(fld *field.Path, before, after *bool) field.ErrorList {
	if before != nil && !*before && (after == nil || *after) {
		var v any = "unset"
		if after != nil {
			v = *after
		}
		return field.ErrorList{widened(fld, v, "a service account token is mounted where none was (unset mounts one)")}
	}
	return nil
}

// secretWidened reports a token Secret made the token of another account,
// or a Secret made a token Secret.
func secretWidened(before, after *corev1.Secret) field.ErrorList {
	if after.Type != corev1.SecretTypeServiceAccountToken {
		return nil
	}
	key := field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey)
	if before.Type != corev1.SecretTypeServiceAccountToken {
		return field.ErrorList{widened(field.NewPath("type"), after.Type, "the Secret becomes a service account token")}
	}
	if before.Annotations[corev1.ServiceAccountNameKey] != after.Annotations[corev1.ServiceAccountNameKey] {
		return field.ErrorList{widened(key, after.Annotations[corev1.ServiceAccountNameKey], "the Secret holds the token of another service account than "+before.Annotations[corev1.ServiceAccountNameKey])}
	}
	return nil
}

// selectingLabels are the pod labels that stagecraft's NetworkPolicies,
// Services, gates and admission policy select pods by.
var selectingLabels = []string{labelName, labelPartOf, workflowLabel}

// podWidened reports a pod template that runs as another account, mounts
// a token it did not mount, or changes a label that policies select it by.
func podWidened(path *field.Path, before, after *corev1.PodTemplateSpec) field.ErrorList {
	spec := path.Child("spec")
	errs := tokenWidened(spec.Child("automountServiceAccountToken"), before.Spec.AutomountServiceAccountToken, after.Spec.AutomountServiceAccountToken)
	if before.Spec.ServiceAccountName != after.Spec.ServiceAccountName {
		errs = append(errs, widened(spec.Child("serviceAccountName"), after.Spec.ServiceAccountName, "the pods run as another service account than "+quoteOr(before.Spec.ServiceAccountName, "the namespace's default")))
	}
	projected := map[string]bool{}
	for _, v := range before.Spec.Volumes {
		if name := projectedToken(v); name != "" {
			projected[name] = true
		}
	}
	for i, v := range after.Spec.Volumes {
		if name := projectedToken(v); name != "" && !projected[name] {
			errs = append(errs, widened(spec.Child("volumes").Index(i), v.Name, "the volume projects a service account token"))
		}
	}
	if sb, sa := before.Spec.ShareProcessNamespace, after.Spec.ShareProcessNamespace; (sb == nil || !*sb) && sa != nil && *sa {
		errs = append(errs, widened(spec.Child("shareProcessNamespace"), true, "each container can read the files, and tokens, of the pod's other containers through /proc"))
	}
	errs = append(errs, tokenMountsWidened(spec, &before.Spec, &after.Spec)...)
	had := tokenSecretRefs(&before.Spec)
	for _, ref := range tokenSecretRefs(&after.Spec) {
		if !slices.Contains(had, ref) {
			errs = append(errs, widened(spec, ref, "the pods read the service account token Secret "+ref))
		}
	}
	for _, k := range selectingLabels {
		vb, okB := before.Labels[k]
		va, okA := after.Labels[k]
		if vb != va || okB != okA {
			errs = append(errs, widened(path.Child("metadata", "labels").Key(k), va,
				"the pods' label "+k+" is what stagecraft's network policies, services and gates select them by; it must stay "+quoteOr(vb, "unset")))
		}
	}
	return errs
}

// projectedToken returns the volume's name and token path if it projects
// a service account token, or "".
func projectedToken(v corev1.Volume) string {
	if v.Projected == nil {
		return ""
	}
	for _, s := range v.Projected.Sources {
		if s.ServiceAccountToken != nil {
			return v.Name + ":" + s.ServiceAccountToken.Path + ":" + s.ServiceAccountToken.Audience
		}
	}
	return ""
}

func quoteOr(s, none string) string {
	if s == "" {
		return none
	}
	return fmt.Sprintf("%q", s)
}

// enforcementLowered reports a Namespace whose Pod Security enforcement an
// override changed: the namespace then admits pods that "restricted"
// refuses.
func enforcementLowered(before, after runtime.Object) field.ErrorList {
	a, ok := after.(*corev1.Namespace)
	if !ok {
		return nil
	}
	b := before.(*corev1.Namespace)
	var errs field.ErrorList
	for _, k := range []string{psapi.EnforceLevelLabel, psapi.EnforceVersionLabel} {
		if vb, va := b.Labels[k], a.Labels[k]; vb != va {
			errs = append(errs, forbidden(field.NewPath("metadata", "labels").Key(k), va,
				"the namespace must keep enforcing Pod Security "+quoteOr(vb, "unset")+"; a pipeline with a deliberately privileged stage (Security.AllowPrivilegedOverride) may lower it"+wideningOptOut))
		}
	}
	return errs
}

// tokenMountsWidened reports a container that mounts a volume holding a
// service account token, which it did not mount as rendered.
func tokenMountsWidened(spec *field.Path, before, after *corev1.PodSpec) field.ErrorList {
	mounts := func(p *corev1.PodSpec) (map[string]bool, map[string]bool) {
		tokens, held := map[string]bool{}, map[string]bool{}
		for _, v := range p.Volumes {
			if projectedToken(v) != "" {
				tokens[v.Name] = true
			}
		}
		for _, c := range append(append([]corev1.Container(nil), p.InitContainers...), p.Containers...) {
			for _, m := range c.VolumeMounts {
				if tokens[m.Name] {
					held[c.Name+"/"+m.Name] = true
				}
			}
		}
		return tokens, held
	}
	_, had := mounts(before)
	tokens, _ := mounts(after)
	var errs field.ErrorList
	for kind, cs := range map[string][]corev1.Container{"initContainers": after.InitContainers, "containers": after.Containers} {
		for i, c := range cs {
			for j, m := range c.VolumeMounts {
				if tokens[m.Name] && !had[c.Name+"/"+m.Name] {
					errs = append(errs, widened(spec.Child(kind).Index(i).Child("volumeMounts").Index(j), m.Name,
						"the container "+c.Name+" mounts the service account token of volume "+m.Name))
				}
			}
		}
	}
	return errs
}

// tokenSecretSuffix ends the name of a Secret that holds a service
// account's token by Argo's convention, which stagecraft follows for the
// executor's token ("<account>.service-account-token").
const tokenSecretSuffix = ".service-account-token"

// tokenSecretRefs returns the token Secrets a pod reads, through volumes,
// projections and environment variables, sorted.
func tokenSecretRefs(spec *corev1.PodSpec) []string {
	var out []string
	add := func(name string) {
		if strings.HasSuffix(name, tokenSecretSuffix) && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil {
			add(v.Secret.SecretName)
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					add(src.Secret.Name)
				}
			}
		}
	}
	for _, c := range append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				add(e.ValueFrom.SecretKeyRef.Name)
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				add(e.SecretRef.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// grantKinds are the kinds whose objects grant or restrict access by
// where they are: renamed or moved, they grant elsewhere, or stop
// restricting here.
var grantKinds = map[string]bool{"Role": true, "ClusterRole": true, "RoleBinding": true, "ClusterRoleBinding": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true, "NetworkPolicy": true,
	"ServiceAccount": true, "Secret": true}

// moved reports an object of a grant kind that an override renamed or
// moved to another namespace.
func moved(before, after runtime.Object) field.ErrorList {
	kind := before.GetObjectKind().GroupVersionKind().Kind
	mb, err1 := meta.Accessor(before)
	ma, err2 := meta.Accessor(after)
	if !grantKinds[kind] || err1 != nil || err2 != nil {
		return nil
	}
	var errs field.ErrorList
	if mb.GetNamespace() != ma.GetNamespace() {
		errs = append(errs, widened(field.NewPath("metadata", "namespace"), ma.GetNamespace(), "the "+kind+" grants or restricts in another namespace than "+mb.GetNamespace()))
	}
	if mb.GetName() != ma.GetName() {
		errs = append(errs, widened(field.NewPath("metadata", "name"), ma.GetName(), "the "+kind+" "+mb.GetName()+" is replaced by another: what refers to it, or what it holds, changes"))
	}
	return errs
}

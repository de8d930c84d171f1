package stagecraft

import (
	"fmt"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Accounts and tokens. Only stagecraft's own containers hold an API token:
// a gate Job's container, a stage's wait-upstream init container (a
// projected token mounted into it alone) and Argo's executor containers.
// No stage may run as one of their ServiceAccounts, mount their tokens or
// read the executor's token Secret, through its props or its overrides.

// reservedAccount is a ServiceAccount stagecraft creates for one purpose.
type reservedAccount struct {
	owner *stage // the stage whose pods run as it; nil for none
	what  string // what the account is, for a problem
}

// reservedAccounts returns the ServiceAccounts of the pipeline's gates,
// of the waits stagecraft creates an account for, and of Argo's executor,
// by name.
func (g *graph) reservedAccounts(p *Pipeline) map[string]reservedAccount {
	out := map[string]reservedAccount{}
	for _, s := range g.order {
		b := s.base()
		if len(g.waits[b]) == 0 || inChain(b) {
			continue
		}
		if b.gated {
			out[gateName(b)] = reservedAccount{what: fmt.Sprintf("the ServiceAccount of the gate of stage %s, which may patch the namespace's pods and fail the stage's Job", s.Path())}
		} else if b.work.createAccount {
			out[b.work.waitAccount] = reservedAccount{owner: b, what: fmt.Sprintf("the ServiceAccount stagecraft creates for stage %s, whose wait may read its upstream Jobs", s.Path())}
		}
	}
	if p.workflows != nil && len(g.chainStages()) > 0 {
		out[p.workflows.executorName()] = reservedAccount{what: "the ServiceAccount of Argo's executor (Workflows.Name plus \"-executor\"), which may write the chain's task results"}
	}
	return out
}

// executorSecret names the executor's token Secret, or "" without a chain.
func (g *graph) executorSecret(p *Pipeline) string {
	if p.workflows == nil || len(g.chainStages()) == 0 {
		return ""
	}
	return p.workflows.executorTokenSecret()
}

// accountChecks returns the problems of stages that would run as a
// ServiceAccount stagecraft reserves, or read the executor's token Secret.
func (g *graph) accountChecks(p *Pipeline) []Problem {
	reserved, secret := g.reservedAccounts(p), g.executorSecret(p)
	var out []Problem
	fromDefaults := false
	for _, s := range g.order {
		b := s.base()
		if res, ok := reserved[b.work.serviceAccount]; ok && res.owner != b {
			construct, fld := s.Path(), "ServiceAccountName"
			if b.work.given.ServiceAccountName == "" {
				if fromDefaults {
					continue
				}
				construct, fld, fromDefaults = p.path, "Defaults.ServiceAccountName", true
			}
			out = append(out, Problem{Construct: construct, Type: field.ErrorTypeForbidden, Field: fld, Value: b.work.serviceAccount,
				Detail: "is " + res.what + ": a stage may not run as it; name an account of the stage's own, or leave it empty"})
		}
		for i, e := range b.work.given.Env {
			if secret != "" && e.Secret != nil && e.Secret.Name == secret {
				out = append(out, Problem{Construct: s.Path(), Type: field.ErrorTypeForbidden, Field: fmt.Sprintf("Env[%d].Secret.Name", i), Value: secret,
					Detail: "is the token Secret of Argo's executor, which only the executor's containers may read: read a Secret of your own"})
			}
		}
	}
	return out
}

// tokenViolations returns what of a stage's rendered object lets a
// container borrow a token it is not given: running as a reserved
// account, a projected service-account token mounted outside the wait
// container, the executor's token Secret as a volume or a variable, the
// pod's own token mounted when the stage did not ask for it. Keys
// describe the violation; values are the field's value.
func (r *rendering) tokenViolations(o runtime.Object, src source) map[string]any {
	tmpl, path := podTemplateOf(o)
	if tmpl == nil || src.owner == nil {
		return nil
	}
	b, spec := src.owner.base(), &tmpl.Spec
	out := map[string]any{}
	fld := path.Child("spec")
	if res, ok := r.g.reservedAccounts(r.p)[spec.ServiceAccountName]; ok && res.owner != b {
		out[fld.Child("serviceAccountName").String()+" is "+res.what+", which a stage may not run as: only the gate's, the wait's and Argo's executor containers hold a token"] = spec.ServiceAccountName
	}
	if alias := spec.DeprecatedServiceAccount; alias != "" && alias != spec.ServiceAccountName {
		// The API server takes the deprecated alias for serviceAccountName
		// when that is empty, so it would choose the pod's account unseen.
		out[fld.Child("serviceAccount").String()+" is the deprecated alias of serviceAccountName, which the API server runs the pod as when serviceAccountName is empty: leave it empty, and set Workload.ServiceAccountName"] = alias
	}
	if spec.AutomountServiceAccountToken != nil && *spec.AutomountServiceAccountToken && !b.work.token {
		out[fld.Child("automountServiceAccountToken").String()+" mounts the token of the pod's ServiceAccount into every container; set Workload.ServiceAccountToken instead"] = true
	}
	secret := r.g.executorSecret(r.p)
	tokens := map[string]bool{}
	for i, v := range spec.Volumes {
		vf := fld.Child("volumes").Index(i)
		switch {
		case v.Projected != nil && projectsToken(v.Projected):
			tokens[v.Name] = true
			if v.Name != tokenVolume {
				out[vf.String()+" projects a service-account token, which only stagecraft's wait container may hold"] = v.Name
			}
		case secret != "" && v.Secret != nil && v.Secret.SecretName == secret:
			out[vf.String()+" mounts the token Secret of Argo's executor"] = secret
		}
	}
	for _, c := range containersOf(fld, spec) {
		for key, v := range c.borrowed(tokens, secret) {
			out[key] = v
		}
	}
	return out
}

// projectsToken reports whether a projected volume holds a token.
func projectsToken(p *corev1.ProjectedVolumeSource) bool {
	for _, s := range p.Sources {
		if s.ServiceAccountToken != nil {
			return true
		}
	}
	return false
}

// podContainer is a container of a pod spec and its field path.
type podContainer struct {
	fld *field.Path
	c   *corev1.Container
}

// containersOf returns the init containers and containers of spec.
func containersOf(fld *field.Path, spec *corev1.PodSpec) []podContainer {
	var out []podContainer
	for i := range spec.InitContainers {
		out = append(out, podContainer{fld.Child("initContainers").Index(i), &spec.InitContainers[i]})
	}
	for i := range spec.Containers {
		out = append(out, podContainer{fld.Child("containers").Index(i), &spec.Containers[i]})
	}
	return out
}

// borrowed returns how the container reaches a token that is not its
// own: a mount of a token volume (the wait container alone may), the
// executor's token Secret in a variable.
func (pc podContainer) borrowed(tokens map[string]bool, secret string) map[string]any {
	out := map[string]any{}
	c := pc.c
	for i, m := range c.VolumeMounts {
		if tokens[m.Name] && c.Name != waitContainer {
			out[pc.fld.Child("volumeMounts").Index(i).String()+" mounts a service-account token into container "+c.Name+", which only stagecraft's wait container may hold"] = m.Name
		}
	}
	if secret == "" {
		return out
	}
	for i, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == secret {
			out[pc.fld.Child("env").Index(i).String()+" reads the token Secret of Argo's executor"] = secret
		}
	}
	for i, e := range c.EnvFrom {
		if e.SecretRef != nil && e.SecretRef.Name == secret {
			out[pc.fld.Child("envFrom").Index(i).String()+" reads the token Secret of Argo's executor"] = secret
		}
	}
	return out
}

// accessViolations returns what of a stage's rendered object an override
// may not add: a token (tokenViolations), a held Job's deadline that would
// count while it is held.
func (r *rendering) accessViolations(o runtime.Object, src source) map[string]any {
	out := r.tokenViolations(o, src)
	if job, ok := o.(*batchv1.Job); ok && src.owner != nil && job.Spec.ActiveDeadlineSeconds != nil {
		if b := src.owner.base(); b.gated && len(r.g.waits[b]) > 0 {
			if out == nil {
				out = map[string]any{}
			}
			out["spec.activeDeadlineSeconds of a held Job counts while its pods are held: set JobSettings.ActiveDeadline, which the gate sets at release"] = *job.Spec.ActiveDeadlineSeconds
		}
	}
	return out
}

// accessProblems returns the violations an override added to a stage's
// object (before holds those of the object before its overrides ran).
func accessProblems(o runtime.Object, src source, before, after map[string]any) []Problem {
	var keys []string
	for k := range after {
		if _, had := before[k]; !had {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]Problem, 0, len(keys))
	for _, k := range keys {
		out = append(out, Problem{Construct: src.path, Object: describe(o), Type: field.ErrorTypeForbidden, Field: "Override", Value: after[k],
			Detail: "after the override, " + k})
	}
	return out
}

// checkOverridesAndAccess runs the overrides of src on o and keeps their
// problems (checkOverrides), and those of a token or account they lend a
// stage (accessViolations), as one problem a change.
func (r *rendering) checkOverridesAndAccess(o runtime.Object, src source) {
	access, n := r.accessViolations(o, src), len(r.problems)
	r.checkOverrides(o, src)
	borrowed := accessProblems(o, src, access, r.accessViolations(o, src))
	r.problems = append(append(r.problems[:n], withoutTwins(r.problems[n:], borrowed)...), borrowed...)
}

// withoutTwins drops from widened (the problems of an override that grants
// more than stagecraft wrote) those about a token or an account at a field
// that a problem of borrowed (a token that a stage may never borrow, with
// or without PipelineProps.AllowWideningOverride) already names, so that
// one change is one problem, the stricter one.
func withoutTwins(widened, borrowed []Problem) []Problem {
	if len(borrowed) == 0 {
		return widened
	}
	const lead = "after the override, "
	out := make([]Problem, 0, len(widened))
	for _, w := range widened {
		at, _, _ := strings.Cut(strings.TrimPrefix(w.Detail, lead), ":")
		twin := false
		for _, b := range borrowed {
			if strings.Contains(w.Detail, "service account") && strings.HasPrefix(strings.TrimPrefix(b.Detail, lead), at) {
				twin = true
				break
			}
		}
		if !twin {
			out = append(out, w)
		}
	}
	return out
}

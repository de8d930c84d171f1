package oracle

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/warning"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"k8s.io/kubernetes/pkg/apis/core"

	// The API groups stagecraft writes, and those its objects' controllers create.
	_ "k8s.io/kubernetes/pkg/apis/admissionregistration/install"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/autoscaling/install"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/networking/install"
	_ "k8s.io/kubernetes/pkg/apis/policy/install"
	_ "k8s.io/kubernetes/pkg/apis/rbac/install"

	"k8s.io/kubernetes/pkg/registry/admissionregistration/validatingadmissionpolicy"
	"k8s.io/kubernetes/pkg/registry/admissionregistration/validatingadmissionpolicybinding"
	"k8s.io/kubernetes/pkg/registry/apps/deployment"
	"k8s.io/kubernetes/pkg/registry/apps/replicaset"
	"k8s.io/kubernetes/pkg/registry/apps/statefulset"
	"k8s.io/kubernetes/pkg/registry/autoscaling/horizontalpodautoscaler"
	"k8s.io/kubernetes/pkg/registry/batch/cronjob"
	"k8s.io/kubernetes/pkg/registry/batch/job"
	"k8s.io/kubernetes/pkg/registry/core/configmap"
	"k8s.io/kubernetes/pkg/registry/core/namespace"
	"k8s.io/kubernetes/pkg/registry/core/persistentvolume"
	"k8s.io/kubernetes/pkg/registry/core/persistentvolumeclaim"
	"k8s.io/kubernetes/pkg/registry/core/pod"
	"k8s.io/kubernetes/pkg/registry/core/secret"
	"k8s.io/kubernetes/pkg/registry/core/service"
	"k8s.io/kubernetes/pkg/registry/core/serviceaccount"
	"k8s.io/kubernetes/pkg/registry/networking/ingress"
	"k8s.io/kubernetes/pkg/registry/networking/networkpolicy"
	"k8s.io/kubernetes/pkg/registry/policy/poddisruptionbudget"
	"k8s.io/kubernetes/pkg/registry/rbac/role"
	"k8s.io/kubernetes/pkg/registry/rbac/rolebinding"
)

// strategies are the registry strategies of the built-in kinds the oracle
// knows: the code kube-apiserver runs on create. An object of another
// built-in kind is a finding, so that nothing goes unchecked.
var strategies = map[schema.GroupKind]rest.RESTCreateStrategy{
	// No authorizer: stagecraft's policies have no paramKind, the only
	// part the API server authorizes.
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        validatingadmissionpolicy.NewStrategy(nil, nil),
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: validatingadmissionpolicybinding.NewStrategy(nil, nil, nil),
	{Group: "apps", Kind: "Deployment"}:                                               deployment.Strategy,
	{Group: "apps", Kind: "ReplicaSet"}:                                               replicaset.Strategy,
	{Group: "apps", Kind: "StatefulSet"}:                                              statefulset.Strategy,
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}:                           horizontalpodautoscaler.Strategy,
	{Group: "batch", Kind: "CronJob"}:                                                 cronjob.Strategy,
	{Group: "batch", Kind: "Job"}:                                                     job.Strategy,
	{Kind: "ConfigMap"}:                                                               configmap.Strategy,
	{Kind: "Namespace"}:                                                               namespace.Strategy,
	{Kind: "PersistentVolume"}:                                                        persistentvolume.Strategy,
	{Kind: "PersistentVolumeClaim"}:                                                   persistentvolumeclaim.Strategy,
	{Kind: "Pod"}:                                                                     pod.Strategy,
	{Kind: "Secret"}:                                                                  secret.Strategy,
	{Kind: "Service"}:                                                                 service.Strategy,
	{Kind: "ServiceAccount"}:                                                          serviceaccount.Strategy,
	{Group: "networking.k8s.io", Kind: "Ingress"}:                                     ingress.Strategy,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:                               networkpolicy.Strategy,
	{Group: "policy", Kind: "PodDisruptionBudget"}:                                    poddisruptionbudget.Strategy,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:                                role.Strategy,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:                         rolebinding.Strategy,
}

// decoder decodes as the API server does with fieldValidation=Strict (what
// kubectl sends by default): unknown and duplicate fields are errors; it
// applies the defaults of the version and converts to the internal type.
var decoder = sync.OnceValue(func() runtime.Decoder {
	return serializer.NewCodecFactory(legacyscheme.Scheme, serializer.EnableStrict).UniversalDecoder()
})

// warnings collects what the API server would send as Warning headers.
type warnings []string

func (w *warnings) AddWarning(_, text string) { *w = append(*w, "warning: "+text) }

// checkBuiltin decodes, defaults and validates a built-in object as
// kube-apiserver does on create (rest.BeforeCreate: PrepareForCreate,
// Validate, metadata checks, WarningsOnCreate), evaluates its pods against
// Pod Security "restricted", and returns the objects a controller would
// create from it.
func checkBuiltin(gvk schema.GroupVersionKind, js []byte) (msgs []string, created []child) {
	strategy, ok := strategies[gvk.GroupKind()]
	if !ok {
		return []string{fmt.Sprintf("the oracle has no strategy for %s; add it", gvk)}, nil
	}
	obj, _, err := decoder().Decode(js, &gvk, nil)
	if err != nil {
		msgs = append(msgs, "decode: "+err.Error())
		if obj == nil || !runtime.IsStrictDecodingError(err) {
			return msgs, nil
		}
	}
	objMeta, err := meta.Accessor(obj)
	if err != nil {
		return append(msgs, err.Error()), nil
	}
	ns := objMeta.GetNamespace()
	if strategy.NamespaceScoped() && ns == "" {
		ns = "default" // as kubectl does for an object without a namespace
		objMeta.SetNamespace(ns)
	}
	var w warnings
	ctx := requestContext("create", gvk, ns, objMeta.GetName(), &w)
	rest.FillObjectMetaSystemFields(objMeta)
	if objMeta.GetName() == "" && objMeta.GetGenerateName() != "" {
		objMeta.SetName(names(objMeta.GetGenerateName()))
	}
	if svc, ok := obj.(*core.Service); ok {
		// The Service storage's BeginCreate, before the strategy: the
		// plural clusterIPs follow the singular clusterIP a client set.
		if svc.Spec.ClusterIP != "" && len(svc.Spec.ClusterIPs) == 0 {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
	}
	if err := rest.BeforeCreate(strategy, ctx, obj); err != nil {
		return append(msgs, err.Error()), nil
	}
	msgs = append(msgs, w...)
	msgs = append(msgs, releaseHeldPod(obj, ns)...)
	versioned, err := legacyscheme.Scheme.ConvertToVersion(obj, gvk.GroupVersion())
	if err != nil {
		return append(msgs, "convert back to "+gvk.Version+": "+err.Error()), nil
	}
	msgs = append(msgs, restrictedViolations(versioned)...)
	msgs = append(msgs, policyTypeWarnings(versioned)...)
	children, err := controllerCreates(versioned)
	if err != nil {
		msgs = append(msgs, err.Error())
	}
	return msgs, children
}

// requestContext is the context of a request ("create", "update"): its
// namespace, what it writes (declarative validation reads the version from
// it), and where warnings go.
func requestContext(verb string, gvk schema.GroupVersionKind, ns, name string, w *warnings) context.Context {
	ctx := genericapirequest.WithNamespace(context.Background(), ns)
	resource, _ := meta.UnsafeGuessKindToResource(gvk)
	ctx = genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true, Verb: verb, APIPrefix: "apis",
		APIGroup: gvk.Group, APIVersion: gvk.Version, Resource: resource.Resource,
		Namespace: ns, Name: name,
	})
	return warning.WithWarningRecorder(ctx, w)
}

// names generates a name as the API server's SimpleNameGenerator does, with
// a fixed suffix so that findings repeat.
func names(base string) string {
	const maxGeneratedNameLength = 63 - 5
	if len(base) > maxGeneratedNameLength {
		base = base[:maxGeneratedNameLength]
	}
	return base + "x7k2q"
}

package e2e

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

const (
	// appFieldManager owns the fields of the apps' objects, as a deploy tool
	// would.
	appFieldManager = "stagecraft"
	// harnessFieldManager owns what the harness adds (namespace labels, fake
	// nodes, the kwok StorageClass).
	harnessFieldManager = "stagecraft-e2e"

	podSecurityEnforce = "pod-security.kubernetes.io/enforce"
)

// warningRecorder collects the Warning headers of API responses. The applier
// sends one request at a time and takes the warnings after each.
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

// applier server-side applies objects with strict field validation and treats
// API warnings as failures.
type applier struct {
	dyn      dynamic.Interface
	client   kubernetes.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	warnings *warningRecorder
	manager  string
}

func newApplier(cfg *rest.Config, manager string) (*applier, error) {
	w := &warningRecorder{}
	wcfg := rest.CopyConfig(cfg)
	wcfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(wcfg)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(wcfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &applier{
		dyn:      dyn,
		client:   client,
		mapper:   restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		warnings: w,
		manager:  manager,
	}, nil
}

// mapping finds the resource of an object's kind. A kind the server does not
// know yet may be defined by a CustomResourceDefinition applied just before,
// so discovery is refreshed and retried for a while.
func (a *applier) mapping(ctx context.Context, o *unstructured.Unstructured) (*meta.RESTMapping, error) {
	gvk := o.GroupVersionKind()
	var m *meta.RESTMapping
	err := waitFor(30*time.Second, time.Second, nil, func() (bool, error) {
		var err error
		m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err == nil {
			return true, nil
		}
		if !meta.IsNoMatchError(err) {
			return false, permanent{err}
		}
		a.mapper.Reset()
		return false, err
	})
	return m, err
}

// resource returns the client for an object's resource and namespace
// (defaulting to "default" as kubectl does for namespaced kinds).
func (a *applier) resource(ctx context.Context, o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	m, err := a.mapping(ctx, o)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return a.dyn.Resource(m.Resource), nil
	}
	ns := o.GetNamespace()
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	return a.dyn.Resource(m.Resource).Namespace(ns), nil
}

// apply server-side applies one object (fieldValidation=Strict, no force) and
// returns the object as stored. Any warning in the response is an error that
// quotes the API server.
func (a *applier) apply(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, err := a.resource(ctx, o)
	if err != nil {
		return nil, err
	}
	body, err := o.MarshalJSON()
	if err != nil {
		return nil, err
	}
	a.warnings.take()
	got, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
		FieldManager:    a.manager,
		FieldValidation: metav1.FieldValidationStrict,
	})
	return got, withWarnings(err, a.warnings.take())
}

// withWarnings turns API warnings into an error (joined with err, if any).
func withWarnings(err error, warnings []string) error {
	if len(warnings) == 0 {
		return err
	}
	w := fmt.Errorf("API server warning(s):\n      - %s", strings.Join(warnings, "\n      - "))
	if err == nil {
		return w
	}
	return fmt.Errorf("%w\n    %w", err, w)
}

// get reads an object back.
func (a *applier) get(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, err := a.resource(ctx, o)
	if err != nil {
		return nil, err
	}
	return ri.Get(ctx, o.GetName(), metav1.GetOptions{})
}

// appNamespaces lists the namespaces an app's objects live in: those named in
// metadata.namespace, those it creates as Namespace objects, and "default"
// when a namespaced object names none.
func (a *applier) appNamespaces(ctx context.Context, ap *app) []string {
	set := map[string]bool{}
	for _, m := range ap.manifests {
		o := m.obj
		if o.GetAPIVersion() == "v1" && o.GetKind() == "Namespace" {
			set[o.GetName()] = true
			continue
		}
		if ns := o.GetNamespace(); ns != "" {
			set[ns] = true
			continue
		}
		gvk := o.GroupVersionKind()
		mp, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil || mp.Scope.Name() == meta.RESTScopeNameNamespace {
			// Unknown kinds (custom resources whose definition the app applies
			// itself) are most likely namespaced.
			set[metav1.NamespaceDefault] = true
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// restrictedLabels enforce (and warn and audit at) the Pod Security
// "restricted" level.
func restrictedLabels() map[string]string {
	l := map[string]string{}
	for _, mode := range []string{"enforce", "warn", "audit"} {
		l["pod-security.kubernetes.io/"+mode] = "restricted"
		l["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	return l
}

// prepareNamespaces creates (or labels) each namespace enforcing Pod Security
// "restricted", with the "default" ServiceAccount the service-account
// controller would create (pods cannot be admitted without it, and the
// controller does not run while manifests are only applied).
func (a *applier) prepareNamespaces(ctx context.Context, names []string) error {
	var errs []error
	for _, n := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: restrictedLabels()}}
		_, err := a.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: harnessFieldManager})
		if apierrors.IsAlreadyExists(err) {
			patch := `{"metadata":{"labels":{`
			first := true
			for k, v := range restrictedLabels() {
				if !first {
					patch += ","
				}
				first = false
				patch += fmt.Sprintf("%q:%q", k, v)
			}
			patch += "}}}"
			_, err = a.client.CoreV1().Namespaces().Patch(ctx, n, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: harnessFieldManager})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", n, err))
			continue
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: n}}
		_, err = a.client.CoreV1().ServiceAccounts(n).Create(ctx, sa, metav1.CreateOptions{FieldManager: harnessFieldManager})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("namespace %s: default ServiceAccount: %w", n, err))
		}
	}
	a.warnings.take()
	return errors.Join(errs...)
}

// checkRestricted fails if applying the app weakened the Pod Security level
// of one of its namespaces.
func (a *applier) checkRestricted(ctx context.Context, names []string) error {
	var errs []error
	for _, n := range names {
		ns, err := a.client.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if got := ns.Labels[podSecurityEnforce]; got != "restricted" {
			errs = append(errs, fmt.Errorf("namespace %s: %s is %q after apply, want \"restricted\"", n, podSecurityEnforce, got))
		}
	}
	return errors.Join(errs...)
}

// applyResult is what one pass over an app did.
type applyResult struct {
	applied []*unstructured.Unstructured // server copies, in manifest order (nil where the apply failed)
	errs    []error
}

func (r applyResult) err() error { return errors.Join(r.errs...) }

// applyAll applies every manifest of an app in order and collects every
// failure (it does not stop at the first one).
func (a *applier) applyAll(ctx context.Context, ap *app) applyResult {
	r := applyResult{applied: make([]*unstructured.Unstructured, len(ap.manifests))}
	for i, m := range ap.manifests {
		got, err := a.apply(ctx, m.obj.DeepCopy())
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s:\n    %w", m, err))
		}
		r.applied[i] = got
	}
	return r
}

// applyApp prepares the app's namespaces and applies it once, the way a
// deploy would. It returns the namespaces used and every failure.
func (a *applier) applyApp(ctx context.Context, ap *app) ([]string, applyResult, error) {
	nss := a.appNamespaces(ctx, ap)
	if err := a.prepareNamespaces(ctx, nss); err != nil {
		return nss, applyResult{}, err
	}
	r := a.applyAll(ctx, ap)
	if err := r.err(); err != nil {
		return nss, r, err
	}
	return nss, r, a.checkRestricted(ctx, nss)
}

// reapplyUnchanged reads the resourceVersion of every object, applies the
// whole app again, and fails for each object whose resourceVersion changed:
// an identical apply must be a no-op. It returns how many objects it checked.
func (a *applier) reapplyUnchanged(ctx context.Context, ap *app) (int, error) {
	before := make([]string, len(ap.manifests))
	var errs []error
	for i, m := range ap.manifests {
		got, err := a.get(ctx, m.obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: read back: %w", m, err))
			continue
		}
		before[i] = got.GetResourceVersion()
	}
	if len(errs) > 0 {
		return 0, errors.Join(errs...)
	}
	r := a.applyAll(ctx, ap)
	errs = append(errs, r.errs...)
	for i, m := range ap.manifests {
		got := r.applied[i]
		if got == nil {
			continue
		}
		if rv := got.GetResourceVersion(); rv != before[i] {
			errs = append(errs, fmt.Errorf("%s: second identical apply changed it (resourceVersion %s -> %s)", m, before[i], rv))
		}
	}
	return len(ap.manifests), errors.Join(errs...)
}

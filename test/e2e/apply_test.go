package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
			return false, permanent{Err: err}
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

// restrictedLabels enforce the Pod Security "restricted" level (latest
// version). Only this one label is set, so that an app whose Namespace object
// sets the same label, or the warn/audit/version labels, does not conflict
// with the harness.
func restrictedLabels() map[string]string {
	return map[string]string{podSecurityEnforce: "restricted"}
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
		if apierrors.IsAlreadyExists(err) { // e.g. "default"
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": restrictedLabels()}})
			_, err = a.client.CoreV1().Namespaces().Patch(ctx, n, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: harnessFieldManager})
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

// reapplyResult is what reapplyUnchanged saw.
type reapplyResult struct {
	checked   int
	rewritten []string // objects the second apply stored again with identical content
}

// reapplyUnchanged applies the whole app two more times and fails for every
// object that an identical apply changes:
//
//   - the second apply may not change any field (managedFields timestamps
//     aside). Its resourceVersion may move without a field changing: the API
//     server (v1.36) stores some objects, e.g. PersistentVolumeClaims and Jobs,
//     once more on their first update after creation, whatever the client.
//     Those are reported, not failed;
//   - the third apply may not change any resourceVersion.
func (a *applier) reapplyUnchanged(ctx context.Context, ap *app) (reapplyResult, error) {
	var res reapplyResult
	before := make([]*unstructured.Unstructured, len(ap.manifests))
	var errs []error
	for i, m := range ap.manifests {
		got, err := a.get(ctx, m.obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: read back: %w", m, err))
			continue
		}
		before[i] = got
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	second := a.applyAll(ctx, ap)
	errs = append(errs, second.errs...)
	for i, m := range ap.manifests {
		got := second.applied[i]
		if got == nil {
			continue
		}
		if rv, was := got.GetResourceVersion(), before[i].GetResourceVersion(); rv != was {
			if changed := changedPaths(before[i].Object, got.Object); len(changed) > 0 {
				errs = append(errs, fmt.Errorf("%s: second identical apply changed %s (resourceVersion %s -> %s)",
					m, strings.Join(changed, ", "), was, rv))
			} else {
				res.rewritten = append(res.rewritten, m.String())
			}
		}
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	third := a.applyAll(ctx, ap)
	errs = append(errs, third.errs...)
	for i, m := range ap.manifests {
		got, prev := third.applied[i], second.applied[i]
		if got == nil {
			continue
		}
		if rv, was := got.GetResourceVersion(), prev.GetResourceVersion(); rv != was {
			errs = append(errs, fmt.Errorf("%s: third identical apply changed it (resourceVersion %s -> %s; fields changed: %s)",
				m, was, rv, strings.Join(changedPaths(prev.Object, got.Object), ", ")))
		}
	}
	res.checked = len(ap.manifests)
	return res, errors.Join(errs...)
}

// changedPaths lists the JSON paths whose values differ between two versions
// of an object, leaving out resourceVersion and the timestamps of
// managedFields.
func changedPaths(a, b map[string]any) []string {
	fa, fb := map[string]string{}, map[string]string{}
	flatten("", a, fa)
	flatten("", b, fb)
	var out []string
	for k, v := range fa {
		if fb[k] != v {
			out = append(out, k)
		}
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func flatten(prefix string, v any, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := prefix + "." + k
			if p == ".metadata.resourceVersion" || strings.HasPrefix(p, ".metadata.managedFields[") && k == "time" {
				continue
			}
			flatten(p, x, out)
		}
	case []any:
		for i, x := range v {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), x, out)
		}
	default:
		out[prefix] = fmt.Sprint(v)
	}
}

// installPrerequisites applies every object in the YAML files of dirs (the
// CustomResourceDefinitions a target cluster is expected to have) with the
// harness's field manager, under the same rules as an app, and waits until
// each CRD is established. It returns how many objects it applied.
func installPrerequisites(ctx context.Context, c *cluster, dirs []string) (int, error) {
	h, err := newApplier(c.cfg, harnessFieldManager)
	if err != nil {
		return 0, err
	}
	n := 0
	var crds []string
	for _, d := range dirs {
		ap, err := loadApp(filepath.Base(d), d)
		if err != nil {
			return n, err
		}
		r := h.applyAll(ctx, ap)
		if err := r.err(); err != nil {
			return n, err
		}
		for _, m := range ap.manifests {
			if m.obj.GroupVersionKind().GroupKind().String() == "CustomResourceDefinition.apiextensions.k8s.io" {
				crds = append(crds, m.obj.GetName())
			}
		}
		n += len(ap.manifests)
	}
	crdRes := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, name := range crds {
		err := waitFor(30*time.Second, 200*time.Millisecond, c.procs, func() (bool, error) {
			crd, err := h.dyn.Resource(crdRes).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, fmt.Errorf("CRD %s not established", name)
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

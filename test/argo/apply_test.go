package argo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// appFieldManager owns the fields of the app's objects, as a deploy tool
// would.
const appFieldManager = "stagecraft"

// warnings collects the Warning headers of API responses.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

// applier server-side applies objects with strict field validation; an API
// warning is a failure, as in test/e2e.
type applier struct {
	dyn      dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	warnings *warnings
}

func newApplier(cfg *rest.Config) (*applier, error) {
	w := &warnings{}
	wcfg := rest.CopyConfig(cfg)
	wcfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(wcfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), warnings: w}, nil
}

// resource returns the client of an object's resource, refreshing
// discovery for kinds that CRDs applied just before define.
func (a *applier) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	var res dynamic.NamespaceableResourceInterface
	var namespaced bool
	err := waitFor(30*time.Second, 500*time.Millisecond, nil, func() (bool, error) {
		m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			a.mapper.Reset()
			return false, err
		}
		res, namespaced = a.dyn.Resource(m.Resource), m.Scope.Name() == "namespace"
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if namespaced {
		return res.Namespace(o.GetNamespace()), nil
	}
	return res, nil
}

// apply server-side applies o (fieldValidation=Strict, no force) as
// manager; a warning in the response is an error quoting the API server.
func (a *applier) apply(ctx context.Context, o *unstructured.Unstructured, manager string) error {
	ri, err := a.resource(o)
	if err != nil {
		return err
	}
	body, err := o.MarshalJSON()
	if err != nil {
		return err
	}
	a.warnings.take()
	_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
		FieldManager: manager, FieldValidation: metav1.FieldValidationStrict,
	})
	if w := a.warnings.take(); len(w) > 0 {
		return fmt.Errorf("%v; API server warning(s): %s", err, strings.Join(w, "; "))
	}
	return err
}

// applyAll applies docs in order and returns how many were applied and
// the errors (warnings included) of the others, each naming its object.
func (a *applier) applyAll(ctx context.Context, docs []doc, manager string) (int, []error) {
	n := 0
	var errs []error
	for _, d := range docs {
		if err := a.apply(ctx, d.obj, manager); err != nil {
			errs = append(errs, fmt.Errorf("%s %s/%s (%s): %w", d.obj.GetKind(), d.obj.GetNamespace(), d.obj.GetName(), d.file, err))
			continue
		}
		n++
	}
	return n, errs
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// established waits until the CRD name is established.
func (a *applier) established(ctx context.Context, name string, watch []*proc) error {
	return waitFor(60*time.Second, 200*time.Millisecond, watch, func() (bool, error) {
		crd, err := a.dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, fmt.Errorf("CRD %s not established", name)
	})
}

package oracle

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/yaml"
)

// customResource is one served version of a CRD: its structural schema and
// the create strategy apiextensions-apiserver builds from it.
type customResource struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	structural *structuralschema.Structural
	strategy   rest.RESTCreateStrategy
}

// loadCRDs reads every CustomResourceDefinition of a YAML file.
func (o *Oracle) loadCRDs(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	docs, err := splitYAML(data)
	if err != nil {
		return err
	}
	for _, doc := range docs {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(doc, &crd); err != nil {
			return err
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			cr, err := newCustomResource(&crd, v)
			if err != nil {
				return fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
			}
			o.crds[cr.gvk] = cr
		}
	}
	return nil
}

// newCustomResource builds what apiextensions-apiserver serves a CRD
// version with (its customresource_handler.go): the structural schema with
// defaults pruned, the schema validator and the strategy.
func newCustomResource(crd *apiextensionsv1.CustomResourceDefinition, v apiextensionsv1.CustomResourceDefinitionVersion) (*customResource, error) {
	val, err := apihelpers.GetSchemaForVersion(crd, v.Name)
	if err != nil || val == nil {
		return nil, fmt.Errorf("no schema: %v", err)
	}
	internal := &apiextensionsinternal.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(val, internal, nil); err != nil {
		return nil, err
	}
	s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	s = s.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(s); err != nil {
		return nil, err
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	var statusValidator apiservervalidation.SchemaValidator
	var status *apiextensionsinternal.CustomResourceSubresourceStatus
	if v.Subresources != nil && v.Subresources.Status != nil {
		status = &apiextensionsinternal.CustomResourceSubresourceStatus{}
		if st, ok := internal.OpenAPIV3Schema.Properties["status"]; ok {
			if statusValidator, _, err = apiservervalidation.NewSchemaValidator(&st); err != nil {
				return nil, err
			}
		}
	}
	gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
	namespaced := crd.Spec.Scope == apiextensionsv1.NamespaceScoped
	strategy := customresource.NewStrategy(unstructuredTyper{}, namespaced, gvk, validator, statusValidator, s, status, nil, v.SelectableFields)
	return &customResource{gvk: gvk, namespaced: namespaced, structural: s, strategy: strategy}, nil
}

// check decodes a custom resource as the API server does with
// fieldValidation=Strict (unknown fields, including unknown metadata, are
// errors), defaults it from its schema and runs the CRD's create strategy
// (schema validation, CEL rules, metadata).
func (cr *customResource) check(js []byte) []string {
	var u map[string]any
	if err := json.Unmarshal(js, &u); err != nil {
		return []string{err.Error()}
	}
	var msgs []string
	for _, p := range structuralpruning.PruneWithOptions(u, cr.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		msgs = append(msgs, fmt.Sprintf("unknown field %q", p))
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u, cr.structural)
	ferr, unknown := schemaobjectmeta.CoerceWithOptions(nil, u, cr.structural, true, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		msgs = append(msgs, ferr.Error())
	}
	for _, p := range unknown {
		msgs = append(msgs, fmt.Sprintf("unknown field %q", p))
	}
	structuraldefaulting.Default(u, cr.structural)
	obj := &unstructured.Unstructured{Object: u}
	ns := obj.GetNamespace()
	if cr.namespaced && ns == "" {
		ns = "default"
		obj.SetNamespace(ns)
	}
	var w warnings
	ctx := requestContext("create", cr.gvk, ns, obj.GetName(), &w)
	rest.FillObjectMetaSystemFields(obj)
	if err := rest.BeforeCreate(cr.strategy, ctx, obj); err != nil {
		return append(msgs, err.Error())
	}
	return append(msgs, w...)
}

// unstructuredTyper gives an unstructured object's kind from its content.
type unstructuredTyper struct{}

func (unstructuredTyper) ObjectKinds(obj runtime.Object) ([]schema.GroupVersionKind, bool, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" {
		return nil, false, fmt.Errorf("object has no kind")
	}
	return []schema.GroupVersionKind{gvk}, false, nil
}

func (unstructuredTyper) Recognizes(schema.GroupVersionKind) bool { return true }

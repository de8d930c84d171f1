// Package l1 creates Kubernetes objects as cdk8s-plus L1 objects
// (k8s.KubeDeployment, k8s.KubeService, or a binding generated into
// imports/) in a construct tree, with a single jsii call each, converting
// the object's JSON form into the L1 props struct through reflection.
// Quantity and IntOrString values, which jsii models as classes, are
// created once per distinct value and reused.
//
// stagecraft writes its objects itself; tests use this package as a second
// opinion: every object stagecraft writes must fit the L1 schema of
// cdk8s-plus (Kubernetes 1.28) and come out of cdk8s unchanged. Only tests
// import it, so apps do not load cdk8s-plus's jsii bundle.
package l1

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-plus-go/cdk8splus28/v2/k8s"
	"github.com/stagecraft-dev/stagecraft/imports/argoprojio"
	"github.com/stagecraft-dev/stagecraft/imports/kedash"
	"github.com/stagecraft-dev/stagecraft/imports/monitoringcoreoscom"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ctor is one L1 constructor, func(scope, id *string, props *XProps) X.
type ctor struct {
	fn    reflect.Value
	props reflect.Type // the props struct type (not the pointer)
}

func newCtor(f any) ctor {
	v := reflect.ValueOf(f)
	return ctor{fn: v, props: v.Type().In(2).Elem()}
}

// ctors maps every kind stagecraft emits to its L1 constructor.
var ctors = map[schema.GroupVersionKind]ctor{
	{Version: "v1", Kind: "Namespace"}:                                       newCtor(k8s.NewKubeNamespace),
	{Version: "v1", Kind: "Service"}:                                         newCtor(k8s.NewKubeService),
	{Version: "v1", Kind: "ServiceAccount"}:                                  newCtor(k8s.NewKubeServiceAccount),
	{Version: "v1", Kind: "ConfigMap"}:                                       newCtor(k8s.NewKubeConfigMap),
	{Version: "v1", Kind: "Secret"}:                                          newCtor(k8s.NewKubeSecret),
	{Version: "v1", Kind: "PersistentVolume"}:                                newCtor(k8s.NewKubePersistentVolume),
	{Version: "v1", Kind: "PersistentVolumeClaim"}:                           newCtor(k8s.NewKubePersistentVolumeClaim),
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                       newCtor(k8s.NewKubeDeployment),
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:                      newCtor(k8s.NewKubeStatefulSet),
	{Group: "batch", Version: "v1", Kind: "Job"}:                             newCtor(k8s.NewKubeJob),
	{Group: "batch", Version: "v1", Kind: "CronJob"}:                         newCtor(k8s.NewKubeCronJob),
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}:             newCtor(k8s.NewKubeIngress),
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}:       newCtor(k8s.NewKubeNetworkPolicy),
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}:   newCtor(k8s.NewKubeHorizontalPodAutoscalerV2),
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}:            newCtor(k8s.NewKubePodDisruptionBudget),
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}:        newCtor(k8s.NewKubeRole),
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}: newCtor(k8s.NewKubeRoleBinding),

	// Custom resources, through the bindings `cdk8s import` generated.
	{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}:           newCtor(kedash.NewScaledObject),
	{Group: "keda.sh", Version: "v1alpha1", Kind: "TriggerAuthentication"}:  newCtor(kedash.NewTriggerAuthentication),
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}: newCtor(monitoringcoreoscom.NewServiceMonitor),
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PodMonitor"}:     newCtor(monitoringcoreoscom.NewPodMonitor),
	{Group: "argoproj.io", Version: "v1alpha1", Kind: "WorkflowTemplate"}:   newCtor(argoprojio.NewWorkflowTemplate),
	{Group: "argoproj.io", Version: "v1alpha1", Kind: "CronWorkflow"}:       newCtor(argoprojio.NewCronWorkflow),
}

// Create adds obj, the JSON form of an object with its apiVersion and
// kind, to the construct tree as a child of scope named id, in one jsii
// call. It changes obj.
func Create(scope constructs.Construct, id string, obj map[string]any) error {
	u := unstructured.Unstructured{Object: obj}
	gvk := u.GroupVersionKind()
	c, ok := ctors[gvk]
	if !ok {
		return fmt.Errorf("l1: no cdk8s L1 constructor for %s", gvk)
	}
	m := obj
	delete(m, "apiVersion")
	delete(m, "kind")
	props := reflect.New(c.props)
	if err := fill(props.Elem(), m, gvk.Kind); err != nil {
		return err
	}
	return call(c, scope, id, props)
}

// call makes the jsii call; a panic in the jsii layer becomes an error
// naming the object, never a stack trace for the user.
func call(c ctor, scope constructs.Construct, id string, props reflect.Value) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("l1: creating %s %q: %v", c.props.Name(), id, r)
		}
	}()
	c.fn.Call([]reflect.Value{reflect.ValueOf(&scope).Elem(), reflect.ValueOf(jsii.String(id)), props})
	return nil
}

var (
	quantityType    = reflect.TypeOf((*k8s.Quantity)(nil)).Elem()
	intOrStringType = reflect.TypeOf((*k8s.IntOrString)(nil)).Elem()
	timeType        = reflect.TypeOf(time.Time{})
)

// fieldIndex caches, per L1 struct type, the field index of each JSON name
// in lower case. The L1 names differ from the API's in case only
// ("hostIpc" for "hostIPC").
var fieldIndex sync.Map // reflect.Type -> map[string]int

func fieldsOf(t reflect.Type) map[string]int {
	if f, ok := fieldIndex.Load(t); ok {
		return f.(map[string]int)
	}
	f := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" {
			f[strings.ToLower(name)] = i
		}
	}
	fieldIndex.Store(t, f)
	return f
}

func fill(dst reflect.Value, src map[string]any, path string) error {
	fields := fieldsOf(dst.Type())
	for k, v := range src {
		i, ok := fields[strings.ToLower(k)]
		if !ok {
			return fmt.Errorf("l1: %s.%s has no field in %s", path, k, dst.Type())
		}
		cv, err := convert(dst.Field(i).Type(), v, path+"."+k)
		if err != nil {
			return err
		}
		dst.Field(i).Set(cv)
	}
	// The L1 schema (Kubernetes 1.28) requires some lists that later
	// versions made optional and that k8s.io/api omits when empty, such
	// as a pod failure policy rule's onPodConditions. An empty list says
	// the same.
	t := dst.Type()
	for i := 0; i < t.NumField(); i++ {
		f := dst.Field(i)
		if t.Field(i).Tag.Get("field") == "required" && f.IsNil() && f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Slice {
			empty := reflect.New(f.Type().Elem())
			empty.Elem().Set(reflect.MakeSlice(f.Type().Elem(), 0, 0))
			f.Set(empty)
		}
	}
	return nil
}

func convert(t reflect.Type, v any, path string) (reflect.Value, error) {
	switch t {
	case quantityType:
		return reflect.ValueOf(quantity(v)), nil
	case intOrStringType:
		return reflect.ValueOf(intOrString(v)), nil
	}
	switch t.Kind() {
	case reflect.Interface: // free-form JSON (interface{})
		if v == nil {
			return reflect.Zero(t), nil
		}
		return reflect.ValueOf(v), nil
	case reflect.Pointer:
		e := t.Elem()
		if e == timeType {
			s, _ := v.(string)
			tm, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("l1: %s: %w", path, err)
			}
			return reflect.ValueOf(&tm), nil
		}
		inner, err := convert(e, v, path)
		if err != nil {
			return reflect.Value{}, err
		}
		p := reflect.New(e)
		p.Elem().Set(inner)
		return p, nil
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return reflect.Value{}, fmt.Errorf("l1: %s: want an object, got %T", path, v)
		}
		s := reflect.New(t).Elem()
		return s, fill(s, m, path)
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			return reflect.Value{}, fmt.Errorf("l1: %s: want a list, got %T", path, v)
		}
		s := reflect.MakeSlice(t, len(a), len(a))
		for i, e := range a {
			cv, err := convert(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return reflect.Value{}, err
			}
			s.Index(i).Set(cv)
		}
		return s, nil
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return reflect.Value{}, fmt.Errorf("l1: %s: want a map, got %T", path, v)
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for k, e := range m {
			cv, err := convert(t.Elem(), e, path+"."+k)
			if err != nil {
				return reflect.Value{}, err
			}
			out.SetMapIndex(reflect.ValueOf(k), cv)
		}
		return out, nil
	case reflect.String, reflect.Float64, reflect.Bool:
		rv := reflect.ValueOf(v)
		if !rv.IsValid() || rv.Type() != t {
			return reflect.Value{}, fmt.Errorf("l1: %s: want %s, got %T", path, t, v)
		}
		return rv, nil
	}
	return reflect.Value{}, fmt.Errorf("l1: %s: unsupported L1 type %s", path, t)
}

// jsii models Quantity and IntOrString as classes whose factories are
// round trips to Node. They are immutable, so one instance serves every
// object that uses the same value.
var (
	cacheMu          sync.Mutex
	quantities       = map[string]k8s.Quantity{}
	intOrStringCache = map[any]k8s.IntOrString{}
)

func quantity(v any) k8s.Quantity {
	s := fmt.Sprint(v)
	cacheMu.Lock()
	defer cacheMu.Unlock()
	q, ok := quantities[s]
	if !ok {
		q = k8s.Quantity_FromString(jsii.String(s))
		quantities[s] = q
	}
	return q
}

func intOrString(v any) k8s.IntOrString {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if r, ok := intOrStringCache[v]; ok {
		return r
	}
	var r k8s.IntOrString
	switch t := v.(type) {
	case float64:
		r = k8s.IntOrString_FromNumber(jsii.Number(t))
	default:
		r = k8s.IntOrString_FromString(jsii.String(fmt.Sprint(t)))
	}
	intOrStringCache[v] = r
	return r
}

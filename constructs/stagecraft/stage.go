package stagecraft

import (
	"strconv"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// stage is what every construct of a pipeline shares: its pipeline, its
// construct path and resource name, its labels and its problems.
type stage struct {
	pipeline  *Pipeline
	path      string
	name      string
	component string
	userLabel map[string]string
	problems  problems

	calls     []call  // declared with Calls
	after     []Stage // declared with RunsAfter
	overrides []func(runtime.Object)
}

// Override registers f, which stagecraft calls with each Kubernetes object
// of the construct (a *appsv1.Deployment, *corev1.Service, ...) after it
// has built the object and before it is written. It is the escape hatch
// for a field stagecraft has no prop for:
//
//	api.Override(func(obj runtime.Object) {
//		if d, ok := obj.(*appsv1.Deployment); ok {
//			d.Spec.RevisionHistoryLimit = ptr.To[int32](3)
//		}
//	})
//
// The result is not validated again; the real-cluster tests are the check.
func (s *stage) Override(f func(obj runtime.Object)) { s.overrides = append(s.overrides, f) }

// initStage resolves the pipeline of scope and the construct path of id,
// validates the id as a resource name of at most maxLen characters and
// registers r with the pipeline. It returns the construct id to use.
func (s *stage) init(r renderer, scope constructs.Construct, id, component string, maxLen int, labels map[string]string) string {
	s.component = component
	s.name = id
	s.userLabel = labels
	// A stage made directly in its pipeline needs no call into jsii; one
	// made in another construct finds its pipeline among its ancestors.
	var node constructs.Node
	var ancestors []constructs.IConstruct
	if p, ok := scope.(*Pipeline); ok {
		s.pipeline = p
		s.path = joinPath(p.path, id)
	} else {
		node = scope.Node()
		s.path = joinPath(*node.Path(), id)
		ancestors = *node.Scopes() // from the root to scope
		for i := len(ancestors) - 1; i >= 0 && s.pipeline == nil; i-- {
			s.pipeline, _ = ancestors[i].(*Pipeline)
		}
	}
	s.problems.construct = s.path
	fld := field.NewPath("id")
	if msgs := validation.IsDNS1123Label(id); len(msgs) > 0 {
		s.problems.addAll(fld, id, append(msgs, "the id is the name of the stage's Kubernetes objects"))
	} else if len(id) > maxLen {
		s.problems.add(fld, id, "must be no more than "+strconv.Itoa(maxLen)+" characters: Kubernetes derives longer names from it")
	}
	if id == "" {
		id = "empty-id" // the construct needs one; the problem is reported
	}
	if s.pipeline == nil {
		s.problems.add(fld, s.name, "a stage must be created inside a Pipeline (directly or within a construct of one)")
		registerApp(ancestors[0]).addOrphan(r)
		return id
	}
	if node != nil && node.TryFindChild(jsii.String(id)) != nil {
		s.problems.add(fld, id, "a construct with this id already exists in its scope")
		id += "-duplicate"
	}
	return s.pipeline.child(r, &s.problems, id)
}

// labels returns the labels of the stage's objects and pods.
func (s *stage) labels() map[string]string {
	l := s.pipeline.objectLabels(s.name, s.component)
	for k, v := range s.userLabel {
		if _, reserved := l[k]; !reserved {
			l[k] = v
		}
	}
	return l
}

// selector returns the labels that select the stage's pods. They never
// change, since a workload's selector is immutable.
func (s *stage) selector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{
		labelName:   s.name,
		labelPartOf: s.pipeline.namespace,
	}}
}

func (s *stage) meta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: s.name, Namespace: s.pipeline.namespace, Labels: s.labels()}
}

func (s *stage) problemList() []Problem { return s.problems.list }

// Name returns the name of the stage's Kubernetes objects.
func (s *stage) Name() string { return s.name }

// Path returns the stage's construct path, as used in error messages.
func (s *stage) Path() string { return s.path }

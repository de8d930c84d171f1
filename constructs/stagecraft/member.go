package stagecraft

import (
	"fmt"
	"strconv"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// member is what every construct of a pipeline shares, stages and storage
// alike: its pipeline, its construct path and the name of its objects, its
// labels and its overrides.
type member struct {
	pipeline  *Pipeline
	path      string
	name      string // the construct id, the name of the construct's objects
	component string // app.kubernetes.io/component
	userLabel map[string]string
	maxLen    int    // longest id Kubernetes accepts for the construct's objects
	clash     string // why the construct had to be created under another id
	overrides []func(runtime.Object)
	// misuse lists the API's misuse: a nil scope, Override(nil), ...
	misuse field.ErrorList
	// detached is set when the construct belongs to no app (its scope was
	// nil, or a pipeline that belongs to none): it is not in cdk8s's tree.
	detached bool
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
// The result is checked again: an object whose pods no longer pass Pod
// Security "restricted", or that breaks a rule of its kind (a negative
// replica count, an invalid name or label), is a problem that names the
// construct and the override ("Override[0]"), unless the construct allows
// it (Security.AllowPrivilegedOverride on a stage). Nor may an object
// grant more after the overrides than before them (see
// PipelineProps.AllowWideningOverride for what that covers, and the
// opt-out). The objects of a held
// BatchStage's gate (its Job, ServiceAccount, Role, RoleBinding and
// NetworkPolicy) are stagecraft's and are not passed to f; what a stage's
// waits need (the init container wait-upstream, first among the init
// containers it was first among, the scheduling gate of a held Job, no
// TTL, suspend or zero parallelism on a Job that others wait for) must
// stay as rendered.
// A stage that runs as a task of an Argo chain (PipelineProps.Workflows)
// has no Job: f gets the Job (or CronJob) it would have had, whose pod
// template becomes the task's pod; a change to anything else of it is a
// problem. A nil f, or an f that panics, is a problem too.
func (m *member) Override(f func(obj runtime.Object)) {
	defer lockConstructs()()
	if f == nil {
		m.misuse = append(m.misuse, required(field.NewPath("Override").Index(len(m.overrides)), "a function that changes the object; got nil"))
	}
	m.overrides = append(m.overrides, f)
}

// Name returns the name of the construct's Kubernetes objects.
func (m *member) Name() string { return m.name }

// Path returns the construct path, as used in problems.
func (m *member) Path() string { return m.path }

// join finds the pipeline of scope, the construct path of id, and
// registers the member with its pipeline (or, outside any pipeline, as an
// orphan whose problems are reported). It returns the construct id to
// create the construct with, which differs from id only when id is empty
// or taken. A scope that is nil, a Pipeline that NewPipeline did not make,
// or one that belongs to no app, leaves the member detached: it is not
// created in cdk8s, and its problem is reported as a misuse.
func (m *member) join(owner part, scope constructs.Construct, id, component string, maxLen int, labels map[string]string) string {
	m.name, m.component, m.maxLen = id, component, maxLen
	m.userLabel = copyMap(labels)
	cid := id
	if p, ok := scope.(*Pipeline); ok {
		switch {
		case p == nil || !p.made:
			m.detach(id, "a Pipeline made with NewPipeline; got a nil or zero *Pipeline")
			return ""
		case p.detached:
			m.pipeline, m.path, m.detached = p, joinPath(p.path, id), true
			return ""
		}
		m.pipeline, m.path = p, joinPath(p.path, id)
	} else if nilScope(scope) {
		m.detach(id, "the Pipeline (or a construct inside one) to create the construct in; got nil")
		return ""
	} else if err := catch(func() { cid = m.findPipeline(scope, id) }); err != nil {
		m.path = id
		m.misuse = append(m.misuse, refused(err))
		m.detached = true
		reportDetached(id, m.misuse[0])
		return ""
	}
	if m.pipeline != nil {
		if cid == "" {
			cid = emptyID(len(m.pipeline.parts))
			m.path = joinPath(m.pipeline.path, cid)
		}
		cid = m.pipeline.register(owner, cid)
	}
	return cid
}

// findPipeline finds the pipeline among the ancestors of scope, which is
// not a Pipeline, and returns the construct id to use.
func (m *member) findPipeline(scope constructs.Construct, id string) string {
	node := scope.Node()
	m.path = joinPath(*node.Path(), id)
	ancestors := *node.Scopes() // from the root to scope
	for i := len(ancestors) - 1; i >= 0 && m.pipeline == nil; i-- {
		m.pipeline, _ = ancestors[i].(*Pipeline)
	}
	if m.pipeline == nil {
		if st := stateOf(ancestors[0], true); st != nil {
			st.orphans = append(st.orphans, m)
		}
	}
	cid := id
	for n := 0; cid == ""; n++ {
		if node.TryFindChild(jsii.String(emptyID(n))) == nil {
			cid = emptyID(n)
			m.path = joinPath(*node.Path(), cid)
		}
	}
	if node.TryFindChild(jsii.String(cid)) != nil {
		m.clash = "a construct with this id already exists in its scope"
		cid += "-duplicate"
	}
	return cid
}

// detach marks the member as belonging to no app, and reports why.
func (m *member) detach(id, want string) {
	m.path, m.detached = id, true
	err := required(field.NewPath("scope"), want)
	m.misuse = append(m.misuse, err)
	reportDetached(id, err)
}

// validateID checks the id as the name of the construct's objects, and
// that its labels leave Kueue's to JobSettings.
func (m *member) validateID() field.ErrorList {
	fld := field.NewPath("id")
	var errs field.ErrorList
	if m.name == "" {
		errs = append(errs, required(fld, "an id: the name of the construct's Kubernetes objects"))
	} else if msgs := validation.IsDNS1123Label(m.name); len(msgs) > 0 {
		errs = each(fld, m.name, append(msgs, "the id is the name of the construct's Kubernetes objects"))
	} else if len(m.name) > m.maxLen {
		errs = append(errs, tooLong(fld, m.name, "must be no more than "+strconv.Itoa(m.maxLen)+" characters: Kubernetes derives longer names from it"))
	}
	errs = append(errs, validateKueueLabels(field.NewPath("Labels"), m.userLabel)...)
	if m.pipeline == nil {
		errs = append(errs, forbidden(fld, m.name, "a stage or storage must be created inside a Pipeline (directly or within a construct of one)"))
	}
	if m.clash != "" {
		errs = append(errs, duplicate(fld, m.name, m.clash))
	}
	return append(errs, m.misuse...)
}

// labels returns the labels of the construct's objects and pods: the
// pipeline's, the recommended ones, then the construct's own.
func (m *member) labels() map[string]string {
	l := m.pipeline.objectLabels(m.name, m.component)
	for k, v := range m.userLabel {
		if _, reserved := l[k]; !reserved {
			l[k] = v
		}
	}
	return l
}

// selector returns the labels that select the construct's pods. They
// never change, since a workload's selector is immutable.
func (m *member) selector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{
		labelName:   m.name,
		labelPartOf: m.pipeline.namespace,
	}}
}

// meta returns the metadata of the construct's main objects.
func (m *member) meta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.name, Namespace: m.pipeline.namespace, Labels: m.labels()}
}

// metaNamed is meta with another name, for a construct's other objects.
func (m *member) metaNamed(name string) metav1.ObjectMeta {
	o := m.meta()
	o.Name = name
	return o
}

func joinPath(parent, id string) string {
	if parent == "" {
		return id
	}
	return parent + "/" + id
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// duplicateID is the id a construct gets when its own is taken.
func duplicateID(id string, n int) string { return fmt.Sprintf("%s-duplicate-%d", id, n) }

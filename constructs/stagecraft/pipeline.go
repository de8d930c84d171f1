package stagecraft

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PipelineProps configures a Pipeline.
type PipelineProps struct {
	// Namespace is the namespace the pipeline creates and runs in. Default:
	// the construct id.
	Namespace string
	// Labels are added to every object of the pipeline. Default: only
	// stagecraft's recommended labels.
	Labels map[string]string
	// Defaults are inherited by every stage that does not set its own.
	Defaults Defaults
	// Network configures the pipeline's NetworkPolicies.
	Network Network
	// WaitImage is the image of the init container that makes a stage wait
	// for an upstream Job (it runs "kubectl wait"). Default:
	// "registry.k8s.io/kubectl:v1.36.3".
	WaitImage string
	// WaitTimeout is how long a stage waits for an upstream Job before its
	// pod fails (and is retried). Default: 24h.
	WaitTimeout time.Duration
}

// Network configures a pipeline's network isolation. Every pipeline denies
// all ingress and egress by default, allows DNS, and allows exactly the
// traffic its stages declare: calls (Calls), traffic from the ingress
// controller to stages with an Ingress, the Kubernetes API for stages that
// wait for upstream Jobs, and each stage's Egress allow-list.
type Network struct {
	// IngressControllerNamespace is the namespace of the ingress
	// controller, allowed to reach stages that have an Ingress. Default:
	// "ingress-nginx".
	IngressControllerNamespace string
	// MonitoringNamespace is the namespace of Prometheus, allowed to reach
	// the metrics port of stages with Metrics. Default: "monitoring".
	MonitoringNamespace string
	// DNSNamespace is the namespace of the cluster's DNS service, allowed
	// on port 53 from every pod. Default: "kube-system".
	DNSNamespace string
	// APIServerCIDRs are the addresses of the Kubernetes API server, which
	// stages that wait for upstream Jobs must reach. Default: "0.0.0.0/0"
	// (any address, on the API ports only); set your control plane's range
	// to narrow it.
	APIServerCIDRs []string
	// APIServerPorts are the API server's ports as pods reach them, after
	// the kubernetes Service's address translation. Default: 443 and 6443.
	APIServerPorts []int32
	// Disabled creates no NetworkPolicies. Default: false.
	Disabled bool
}

// Defaults are the settings a pipeline's stages inherit. Each empty field
// falls back to stagecraft's default, documented on Workload.
type Defaults struct {
	// Resources fills the empty fields of each stage's Resources.
	Resources Resources
	// ImagePullPolicy for stages that set none.
	ImagePullPolicy string
	// NodeSelector for stages that set none.
	NodeSelector map[string]string
	// ServiceAccountName for stages that set none.
	ServiceAccountName string
}

// Pipeline is the root of one data pipeline: a namespace that enforces Pod
// Security "restricted", and the stages and storage that run in it. Every
// object of the pipeline carries the recommended app.kubernetes.io labels.
type Pipeline struct {
	constructs.Construct

	path      string
	namespace string
	labels    map[string]string
	defaults  Defaults
	problems  problems
	ids       map[string]bool
	children  []renderer
	app       *appState
	network   Network
	waitImage string
	waitFor   time.Duration
	graph     *graph // set by Validate
	chart     cdk8s.Chart
	overrides []func(runtime.Object)
}

// renderer is a construct of a pipeline that turns into Kubernetes objects.
type renderer interface {
	problemList() []Problem
	objects() []object
}

// object is one Kubernetes object and where it goes in the construct tree.
type object struct {
	scope constructs.Construct
	id    string
	obj   runtime.Object
}

// NewPipeline creates a pipeline in scope, normally a cdk8s Chart owned by
// the app. Problems with props are reported when the app is synthesized.
func NewPipeline(scope constructs.Construct, id string, props PipelineProps) *Pipeline {
	node := scope.Node()
	parent := node.Path()
	p := &Pipeline{
		path:     joinPath(*parent, id),
		ids:      map[string]bool{},
		defaults: props.Defaults,
	}
	p.problems.construct = p.path
	p.namespace = props.Namespace
	if p.namespace == "" {
		p.namespace = id
	}
	p.labels = copyMap(props.Labels)
	p.network = resolveNetwork(props.Network)
	p.waitImage, p.waitFor = props.WaitImage, props.WaitTimeout
	if p.waitImage == "" {
		p.waitImage = defaultWaitImage
	}
	if p.waitFor == 0 {
		p.waitFor = defaultWaitTimeout
	}
	p.validate(props)

	p.app = registerApp(node.Root())
	p.chart = cdk8s.Chart_Of(scope)
	if id == "" {
		p.problems.required(field.NewPath("id"), "a construct id")
		id = "empty-id" // the construct needs one; the problem is reported
	}
	if child := node.TryFindChild(jsii.String(id)); child != nil {
		p.problems.add(field.NewPath("id"), id, "a construct with this id already exists in "+*parent)
		id = fmt.Sprintf("%s-duplicate-%d", id, len(p.app.pipelines))
	}
	p.app.add(p)
	constructs.NewConstruct_Override(p, scope, jsii.String(id))
	return p
}

func (p *Pipeline) validate(props PipelineProps) {
	ps := &p.problems
	validateText(ps, props)
	fld := field.NewPath("Namespace")
	if props.Namespace == "" {
		fld = field.NewPath("id")
	}
	ps.addAll(fld, p.namespace, validation.IsDNS1123Label(p.namespace))
	if p.namespace == "default" || strings.HasPrefix(p.namespace, "kube-") {
		ps.add(fld, p.namespace, "a pipeline needs a namespace of its own: stagecraft labels it to enforce Pod Security \"restricted\" and denies its traffic by default")
	}
	validateLabels(ps, field.NewPath("Labels"), props.Labels)
	validateReservedLabels(ps, field.NewPath("Labels"), props.Labels)
	d := field.NewPath("Defaults")
	validateResources(ps, d.Child("Resources"), props.Defaults.Resources, props.Defaults.Resources.merge(libraryResources))
	validatePullPolicy(ps, d.Child("ImagePullPolicy"), props.Defaults.ImagePullPolicy)
	validateLabels(ps, d.Child("NodeSelector"), props.Defaults.NodeSelector)
	if sa := props.Defaults.ServiceAccountName; sa != "" {
		ps.addAll(d.Child("ServiceAccountName"), sa, validation.IsDNS1123Subdomain(sa))
	}
	validateNetwork(ps, props.Network)
	if props.WaitImage != "" {
		validateImage(ps, field.NewPath("WaitImage"), props.WaitImage, false)
	}
	if t := props.WaitTimeout; t < 0 || t%time.Second != 0 {
		ps.add(field.NewPath("WaitTimeout"), t.String(), "must be zero (the default, 24h) or a positive whole number of seconds")
	}
}

// Namespace returns the namespace the pipeline runs in.
func (p *Pipeline) Namespace() string { return p.namespace }

func (p *Pipeline) problemList() []Problem { return p.problems.list }

// renderObjects returns every object of the pipeline, as eachObject
// passes them.
func (p *Pipeline) renderObjects() []object {
	var out []object
	_ = p.eachObject(func(o object) error { out = append(out, o); return nil })
	return out
}

// eachObject builds every object of the pipeline and passes it to f, in the
// order they are written: the namespace and network policies, storage, then
// each stage's objects in dependency order; each carries its Argo CD sync
// wave, and the construct's overrides have run on it. Objects are built one
// construct at a time, so that a large pipeline never holds them all.
func (p *Pipeline) eachObject(f func(object) error) error {
	g := p.graph
	emit := func(objs []object, wave int, overrides []func(runtime.Object)) error {
		for _, o := range objs {
			setWave(o.obj, wave)
			for _, ov := range overrides {
				ov(o.obj)
			}
			if err := f(o); err != nil {
				return err
			}
		}
		return nil
	}
	if err := emit(p.objects(), -1, p.overrides); err != nil {
		return err
	}
	for _, o := range p.networkPolicies(g) {
		wave, overrides := -1, p.overrides
		if st, ok := o.scope.(Stage); ok {
			wave, overrides = g.level[st.base()], st.base().overrides
		}
		if err := emit([]object{o}, wave, overrides); err != nil {
			return err
		}
	}
	for _, c := range p.children {
		if st, ok := c.(*PipelineStorage); ok {
			if err := emit(st.objects(), g.storageWave(st), st.overrides); err != nil {
				return err
			}
		}
	}
	for _, s := range g.order {
		if err := emit(s.(renderer).objects(), g.level[s.base()], s.base().overrides); err != nil {
			return err
		}
	}
	return nil
}

// syncWaveAnnotation orders the pipeline's objects when Argo CD syncs it:
// a wave starts when the previous one is healthy (Jobs complete).
const syncWaveAnnotation = "argocd.argoproj.io/sync-wave"

func setWave(obj runtime.Object, wave int) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	a := m.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[syncWaveAnnotation] = strconv.Itoa(wave)
	m.SetAnnotations(a)
}

func (p *Pipeline) objects() []object {
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: p.namespace, Labels: p.objectLabels(p.namespace, componentPipeline)},
	}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		ns.Labels["pod-security.kubernetes.io/"+mode] = "restricted"
		ns.Labels["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	return []object{{scope: p, id: "Namespace", obj: ns}}
}

// objectLabels returns the labels of an object of the pipeline: the
// pipeline's labels, then the recommended ones.
func (p *Pipeline) objectLabels(name, component string) map[string]string {
	l := copyMap(p.labels)
	if l == nil {
		l = map[string]string{}
	}
	l[labelName] = name
	l[labelPartOf] = p.namespace
	l[labelComponent] = component
	l[labelManagedBy] = managedBy
	return l
}

// child registers a construct of the pipeline, checking that its id is
// unique; it returns the id to create the construct with.
func (p *Pipeline) child(r renderer, ps *problems, id string) string {
	if p.ids[id] {
		ps.add(field.NewPath("id"), id, "a construct with this id already exists in "+p.path+"; ids (and so resource names) must be unique in a pipeline")
		id = fmt.Sprintf("%s-duplicate-%d", id, len(p.children))
	}
	p.ids[id] = true
	p.children = append(p.children, r)
	return id
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

// appState is what stagecraft knows of one cdk8s App: its pipelines, and
// whether they have been rendered into the construct tree yet.
type appState struct {
	root      constructs.IConstruct
	pipelines []*Pipeline
	orphans   []renderer // stages created outside any pipeline
	rendered  bool
}

var (
	appsMu sync.Mutex
	apps   = map[constructs.IConstruct]*appState{}
)

func registerApp(root constructs.IConstruct) *appState {
	appsMu.Lock()
	defer appsMu.Unlock()
	a, ok := apps[root]
	if !ok {
		a = &appState{root: root}
		apps[root] = a
	}
	return a
}

func lookupApp(root constructs.IConstruct) *appState {
	appsMu.Lock()
	defer appsMu.Unlock()
	return apps[root]
}

func (a *appState) add(p *Pipeline) {
	appsMu.Lock()
	defer appsMu.Unlock()
	a.pipelines = append(a.pipelines, p)
}

func (a *appState) addOrphan(r renderer) {
	appsMu.Lock()
	defer appsMu.Unlock()
	a.orphans = append(a.orphans, r)
}

// Override registers f, which stagecraft calls with each Kubernetes object
// of the pipeline itself (its Namespace and namespace-wide
// NetworkPolicies) after it has built the object and before it is written.
// It is the escape hatch for a field stagecraft has no prop for: f
// type-switches on the object (*corev1.Namespace, ...) and changes it.
func (p *Pipeline) Override(f func(obj runtime.Object)) { p.overrides = append(p.overrides, f) }

package stagecraft

import (
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PipelineProps configures a Pipeline.
type PipelineProps struct {
	// Namespace is the namespace the pipeline creates and runs in
	// (metadata.namespace of its objects). Default: the namespace of the
	// pipeline's cdk8s Chart (ChartProps.Namespace), else the construct id.
	// Setting both, differently, is a problem.
	Namespace string
	// Labels are added to every object of the pipeline. Default: only
	// stagecraft's recommended labels, and those of the Chart
	// (ChartProps.Labels), which cdk8s adds to every object of a chart.
	Labels map[string]string
	// NotSecrets lists props whose literal values look like secrets but
	// are not, by the field path a problem names them with (for example
	// "Labels[build-hash]"); see Workload.NotSecrets. Default: none.
	NotSecrets []string
	// Defaults are inherited by every stage that does not set its own.
	Defaults Defaults
	// Network configures the pipeline's NetworkPolicies.
	Network Network
	// GateImage is the image of stagecraft's gate (internal/gate), which
	// holds a stage until its upstream Jobs have completed: the gate Job of
	// a BatchStage, and the init container of other stages that wait.
	// `make gate-image` builds it. Default:
	// "ghcr.io/stagecraft-dev/gate:0.1.0".
	GateImage string
	// WaitTimeout is how long a stage waits for its upstream Jobs before it
	// fails: the gate fails a BatchStage's Job (reason UpstreamTimeout); the
	// init container of another stage exits with status 3. An upstream Job
	// that fails fails the stages that wait for it at once. Whole seconds.
	// Default: 24h.
	WaitTimeout time.Duration
	// Workflows runs the pipeline's BatchStages and ScheduledStages as the
	// tasks of an Argo Workflows DAG (a WorkflowTemplate, and a CronWorkflow
	// when a ScheduledStage heads it) instead of Jobs and CronJobs; see
	// Workflows. Default: nil, Jobs and CronJobs.
	Workflows *Workflows
	// NoGateAdmissionPolicy writes no ValidatingAdmissionPolicy for the
	// gates. RBAC cannot name the pods a gate releases, so a gate's Role may
	// patch any pod of the namespace; by default a ValidatingAdmissionPolicy
	// and its binding per gate ("stagecraft-gate.<namespace>.<stage>-gate",
	// cluster-scoped) let the gate's ServiceAccount change a pod only by
	// removing the scheduling gate stagecraft.dev/upstream from a pod of its
	// own stage, and the held Job only by setting its activeDeadlineSeconds
	// once. Set it where the
	// deploy tool may not create admission policies; the gates then keep
	// their namespace-wide pod patch permission. Default: false.
	NoGateAdmissionPolicy bool
	// AllowWideningOverride accepts an Override (the pipeline's or a
	// stage's) after which an object grants more than stagecraft wrote: a
	// Role or ClusterRole with a rule it lacked, a binding to another role
	// or subject, an admission policy that fails open, lost a validation
	// or matches fewer requests, a NetworkPolicy that allows traffic it did
	// not, a service account token mounted where none was (or a token
	// Secret read), a pod or Argo's executor run as another account, a
	// changed label that policies select pods by, a new container template
	// of the WorkflowTemplate, or a namespace that no longer enforces Pod
	// Security "restricted". Default: false, such an override is a problem
	// naming the object and field.
	AllowWideningOverride bool
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
	// APIServerCIDRs are the addresses of the Kubernetes API server
	// (ipBlock.cidr of the egress rule, on APIServerPorts), which the gate
	// Jobs, the pods of stages that wait in an init container and Argo's
	// pods must reach. A NetworkPolicy selects pods, not containers, so the
	// rule also opens these addresses to the stage's own container: it is
	// exactly what you list. Most CNIs apply policies after the kubernetes
	// Service's address translation, so list the API server's endpoint
	// addresses (kubectl get endpointslices -n default -l
	// kubernetes.io/service-name=kubernetes), not the Service's ClusterIP,
	// each as a /32 or /128; a range wider than a control plane's subnet
	// (/28, or /124 for IPv6) is a problem. Default: none; a pipeline that
	// needs the API without them is a problem (unless Disabled).
	APIServerCIDRs []string
	// APIServerPorts are the API server's ports as pods reach them, after
	// the kubernetes Service's address translation. Default: 443 and 6443.
	APIServerPorts []int32
	// Disabled creates no NetworkPolicies. Default: false.
	Disabled bool
}

// Defaults are the settings a pipeline's stages inherit. A stage's own
// setting wins; an empty field here falls back to stagecraft's default,
// documented on Workload. They apply to the stages' own containers, not
// to the gate Jobs and wait-upstream init containers stagecraft adds.
type Defaults struct {
	// Resources fills each empty field of a stage's Resources (its
	// container's resources.requests and resources.limits), field by
	// field. Default: stagecraft's, listed on Resources. A request above
	// its limit, after merging, is a problem.
	Resources Resources
	// ImagePullPolicy of the stages that set none
	// (containers[0].imagePullPolicy): Always, IfNotPresent or Never.
	// Default: IfNotPresent (images are pinned).
	ImagePullPolicy string
	// NodeSelector of the stages whose NodeSelector is nil
	// (spec.nodeSelector); a stage's own selector replaces it whole.
	// Default: none, the pods may run on any node.
	NodeSelector map[string]string
	// ServiceAccountName of the stages that set none
	// (spec.serviceAccountName), a DNS subdomain. Default: the namespace's
	// "default" account; a stage that waits in an init container then gets
	// an account of its own (see Workload.ServiceAccountName).
	ServiceAccountName string
}

// Pipeline is the root of one data pipeline: a namespace that enforces Pod
// Security "restricted", and the stages and storage that run in it. Every
// object of the pipeline carries the recommended app.kubernetes.io labels.
type Pipeline struct {
	constructs.Construct

	path       string
	id         string
	props      PipelineProps // as given, for validation
	namespace  string        // resolved
	labels     map[string]string
	defaults   Defaults
	network    Network // resolved
	gateImage  string
	gatePolicy bool // write the gates' ValidatingAdmissionPolicy
	waitFor    time.Duration
	workflows  *workflowsSpec // nil: Jobs and CronJobs
	chart      chartInfo
	clash      string // why the pipeline had to be created under another id
	state      *appState
	ids        map[string]bool
	parts      []part // stages and storage, in creation order
	overrides  []func(runtime.Object)
	included   bool // its objects are in the construct tree for cdk8s's synthesis
	accepted   []Change
	made       bool            // made by NewPipeline
	detached   bool            // belongs to no app (see member.detached)
	misuse     field.ErrorList // misuse of the API (see misuse.go)
}

// part is a construct of a pipeline: a stage or storage.
type part interface {
	membership() *member
}

func (m *member) membership() *member { return m }

// chartInfo is what stagecraft reads from the pipeline's cdk8s Chart: cdk8s
// applies a chart's labels and namespace to every object in it.
type chartInfo struct {
	chart     cdk8s.Chart
	path      string
	labels    map[string]string
	namespace string
}

// NewPipeline creates a pipeline in scope, a cdk8s Chart owned by the app
// (or a construct inside one). Problems with props are reported when the
// app is validated or synthesized, and so is misuse: a scope outside any
// Chart, or a nil scope (the pipeline then belongs to no app, and the next
// Validate or Synthesize in the process reports it). NewPipeline may be
// called from several goroutines, as the other constructors may.
func NewPipeline(scope constructs.Construct, id string, props PipelineProps) *Pipeline {
	defer lockConstructs()()
	p := &Pipeline{path: id, id: id, ids: map[string]bool{}, made: true}
	if nilScope(scope) {
		p.resolve(id, props)
		p.detached = true
		err := required(field.NewPath("scope"), "the cdk8s Chart to create the pipeline in; got nil")
		p.misuse = append(p.misuse, err)
		reportDetached(id, err)
		return p
	}
	if err := catch(func() { p.attach(scope, id, props) }); err != nil {
		p.misuse = append(p.misuse, refused(err))
		if p.state == nil {
			p.detached = true
			reportDetached(p.path, p.misuse[0])
		}
	}
	return p
}

// attach reads what the pipeline needs of its scope and chart, and
// creates it as a construct.
func (p *Pipeline) attach(scope constructs.Construct, id string, props PipelineProps) {
	node := scope.Node()
	p.path = joinPath(*node.Path(), id)
	p.state = stateOf(node.Root(), true)
	if p.state != nil {
		p.state.pipelines = append(p.state.pipelines, p)
	}
	if err := catch(func() { p.chart = readChart(cdk8s.Chart_Of(scope)) }); err != nil {
		p.misuse = append(p.misuse, forbidden(field.NewPath("scope"), *node.Path(), "a Pipeline must be created inside a cdk8s Chart (cdk8s.NewChart(app, ...)), not directly under the App"))
	}
	p.resolve(id, props)
	cid := id
	for n := 0; cid == ""; n++ {
		if node.TryFindChild(jsii.String(emptyID(n))) == nil {
			cid = emptyID(n)
			p.path = joinPath(*node.Path(), cid)
		}
	}
	if node.TryFindChild(jsii.String(cid)) != nil {
		p.clash = "a construct with this id already exists in " + *node.Path()
		cid = duplicateID(cid, p.state.count())
	}
	constructs.NewConstruct_Override(p, scope, jsii.String(cid))
	p.watchSynth()
}

// readChart reads the labels and namespace of chart, in three jsii calls.
func readChart(chart cdk8s.Chart) chartInfo {
	c := chartInfo{chart: chart, path: *chart.Node().Path()}
	if ns := chart.Namespace(); ns != nil {
		c.namespace = *ns
	}
	if l := chart.Labels(); l != nil && len(*l) > 0 {
		c.labels = make(map[string]string, len(*l))
		for k, v := range *l {
			if v != nil {
				c.labels[k] = *v
			}
		}
	}
	return c
}

// resolve applies every default of the pipeline's props.
func (p *Pipeline) resolve(id string, props PipelineProps) {
	p.props = props
	p.props.Labels = copyMap(props.Labels)
	p.props.NotSecrets = append([]string(nil), props.NotSecrets...)
	p.namespace = props.Namespace
	if p.namespace == "" {
		p.namespace = p.chart.namespace
	}
	if p.namespace == "" {
		p.namespace = id
	}
	p.labels = copyMap(props.Labels)
	p.defaults = props.Defaults
	p.network = resolveNetwork(props.Network)
	p.gateImage, p.waitFor, p.gatePolicy = props.GateImage, props.WaitTimeout, !props.NoGateAdmissionPolicy
	if p.gateImage == "" {
		p.gateImage = defaultGateImage
	}
	if p.waitFor == 0 {
		p.waitFor = defaultWaitTimeout
	}
	p.workflows = resolveWorkflows(props.Workflows, p.namespace)
}

func resolveNetwork(n Network) Network {
	r := n
	if r.IngressControllerNamespace == "" {
		r.IngressControllerNamespace = defaultIngressControllerNamespace
	}
	if r.MonitoringNamespace == "" {
		r.MonitoringNamespace = defaultMonitoringNamespace
	}
	if r.DNSNamespace == "" {
		r.DNSNamespace = defaultDNSNamespace
	}
	if len(r.APIServerPorts) == 0 {
		r.APIServerPorts = defaultAPIServerPorts
	}
	return r
}

// Namespace returns the namespace the pipeline runs in.
func (p *Pipeline) Namespace() string {
	if p == nil {
		return ""
	}
	return p.namespace
}

// Path returns the pipeline's construct path, as used in problems.
func (p *Pipeline) Path() string {
	if p == nil {
		return ""
	}
	return p.path
}

// Override registers f, which stagecraft calls with each Kubernetes object
// of the pipeline itself (its Namespace and namespace-wide
// NetworkPolicies) after it has built the object and before it is written.
// It is the escape hatch for a field stagecraft has no prop for: f
// type-switches on the object (*corev1.Namespace, ...) and changes it.
// The result is checked again, as a stage's Override is; a nil f is a
// problem. On a nil *Pipeline, Override does nothing.
func (p *Pipeline) Override(f func(obj runtime.Object)) {
	if p == nil {
		return
	}
	defer lockConstructs()()
	if f == nil {
		p.misuse = append(p.misuse, required(field.NewPath("Override").Index(len(p.overrides)), "a function that changes the object; got nil"))
	}
	p.overrides = append(p.overrides, f)
}

// register adds a stage or storage to the pipeline, checking that its id
// is unique in it; it returns the id to create the construct with.
func (p *Pipeline) register(c part, cid string) string {
	if p.ids[cid] && c.membership().name != "" {
		c.membership().clash = "a construct with this id already exists in " + p.path + "; ids (and so resource names) must be unique in a pipeline"
		cid = duplicateID(cid, len(p.parts))
	}
	p.ids[cid] = true
	p.parts = append(p.parts, c)
	return cid
}

// stages returns the pipeline's stages, in creation order.
func (p *Pipeline) stages() []Stage {
	var out []Stage
	for _, c := range p.parts {
		if s, ok := c.(Stage); ok {
			out = append(out, s)
		}
	}
	return out
}

// storages returns the pipeline's storage, in creation order.
func (p *Pipeline) storages() []*PipelineStorage {
	var out []*PipelineStorage
	for _, c := range p.parts {
		if s, ok := c.(*PipelineStorage); ok {
			out = append(out, s)
		}
	}
	return out
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

package stagecraft

import (
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// rendering turns one validated, analyzed pipeline into its objects. It
// reads the resolved specs and the graph, and neither defaults nor
// validates anything, except the objects that overrides changed.
type rendering struct {
	p *Pipeline
	g *graph
	// cdk8sLabels leaves the chart's labels to cdk8s, which adds them to
	// the objects of a chart itself.
	cdk8sLabels bool
	// runs holds the Job name of each completing stage rendered so far.
	runs map[*stage]string
	// runDigests holds the digest of each of those runs (see nameRun).
	runDigests map[*stage]string
	// at records the construct being rendered, for a panic; may be nil.
	at *cursor
	// problems are those of the objects that overrides changed, and the
	// secrets the objects would hold.
	problems []Problem
	// secrets scans every object written, after its overrides.
	secrets *secretScan
}

// analyzed is a pipeline and its graph.
type analyzed struct {
	p *Pipeline
	g *graph
}

// syncWaveAnnotation orders the pipeline's objects when Argo CD syncs it:
// a wave starts when the previous one is healthy (Jobs complete).
const syncWaveAnnotation = "argocd.argoproj.io/sync-wave"

// source is the construct some objects belong to.
type source struct {
	path      string
	overrides []func(runtime.Object)
	owner     Stage // the stage whose Job gets its run's name; nil for none
	// privileged accepts overrides that break Pod Security "restricted".
	privileged bool
	// waitedFor is set for a stage whose Job other stages wait for.
	waitedFor bool
	// widen accepts overrides after which an object grants more than
	// stagecraft wrote (PipelineProps.AllowWideningOverride).
	widen bool
	// task names the Argo task ("<WorkflowTemplate>/<task>") whose pod the
	// object's pod template becomes; the rest of the object is not written.
	task string
	// privilegedTasks are the Argo tasks whose stages accept overrides that
	// break Pod Security "restricted", by template name.
	privilegedTasks map[string]bool
}

// sourceOf returns the source of a stage's own objects.
func (r *rendering) sourceOf(s Stage) source {
	b := s.base()
	return source{path: b.path, overrides: b.overrides, owner: s, privileged: b.work.given.Security.AllowPrivilegedOverride,
		waitedFor: r.g.waitedFor[b]}
}

// gateSource returns the source of the objects of a held stage's gate:
// stagecraft's own, which the stage's overrides do not reach.
func gateSource(s Stage) source {
	return source{path: s.base().path}
}

// each passes every object of the pipeline to f, in the order they are
// written: the namespace and network policies, storage, then each stage's
// objects in dependency order. Each carries its Argo CD sync wave and the
// chart's labels, and its construct's overrides have run on it (and it was
// checked again, see overridden); then a completing stage's Job gets the
// name of its run. Objects are built one construct at a time, so that a
// large pipeline never holds them all.
func (r *rendering) each(f func(obj runtime.Object, construct string) error) error {
	p, g := r.p, r.g
	r.secrets = newSecretScan(p)
	own := source{path: p.path, overrides: p.overrides, privileged: r.anyPrivileged(), privilegedTasks: r.privilegedTasks()}
	if err := r.emit(f, append([]runtime.Object{p.namespaceObject()}, r.gateAdmissionObjects()...), -1, own); err != nil {
		return err
	}
	if !p.network.Disabled {
		for _, np := range p.pipelinePolicies() {
			if err := r.emit(f, []runtime.Object{np}, -1, own); err != nil {
				return err
			}
		}
		callers := r.callers()
		for _, s := range g.order {
			r.at.at(s.Path(), "rendering")
			var nps []runtime.Object
			if np := p.stagePolicy(s, callers[s], r.waitsInInit(s.base())); np != nil {
				nps = append(nps, np)
			}
			src := r.sourceOf(s)
			src.owner = nil
			if err := r.emit(f, nps, g.level[s.base()], src); err != nil {
				return err
			}
			if np := r.gatePolicy(s.base()); np != nil {
				if err := r.emit(f, []runtime.Object{np}, g.level[s.base()], gateSource(s)); err != nil {
					return err
				}
			}
		}
	}
	for _, st := range p.storages() {
		r.at.at(st.path, "rendering")
		if err := r.emit(f, st.objects(), g.storageWave(st), source{path: st.path, overrides: st.overrides}); err != nil {
			return err
		}
	}
	for _, s := range g.order {
		r.at.at(s.Path(), "rendering")
		b := s.base()
		if err := r.emit(f, r.stageObjects(s), g.level[b], r.sourceOf(s)); err != nil {
			return err
		}
		// The gate names the run, so it comes once the run is named.
		if err := r.emit(f, r.gateObjects(b, r.runName(s)), g.level[b], gateSource(s)); err != nil {
			return err
		}
	}
	// An Argo chain comes last: its Workflows start once the rest is there.
	err := r.emit(f, r.workflowObjects(), r.lastWave(), own)
	r.problems = append(r.problems, r.secrets.finish()...)
	if len(r.problems) > 0 {
		redactProblems(r.problems, r.secrets.reportedSecrets())
	}
	return err
}

// emit finishes the objects of one construct and passes them to f.
func (r *rendering) emit(f func(runtime.Object, string) error, objs []runtime.Object, wave int, src source) error {
	for _, o := range objs {
		setWave(o, wave)
		if !r.cdk8sLabels {
			addChartLabels(o, r.p.chart.labels)
		}
		var before map[string]bool
		if len(src.overrides) > 0 {
			before = flagged(o)
			r.checkOverridesAndAccess(o, src)
		}
		if job, ok := o.(*batchv1.Job); ok && src.owner != nil && src.owner.base().completes {
			r.nameRun(src.owner, job)
		}
		r.secrets.object(o, src.path, before)
		if err := f(o, src.path); err != nil {
			return err
		}
	}
	return nil
}

// stageObjects returns the objects of one stage: the service account and
// Role its init container's wait for upstream Jobs needs, the kind's own
// objects (none for a task of an Argo chain: the WorkflowTemplate runs
// it), and the monitor of its metrics. A held stage's gate follows
// them (gateObjects).
func (r *rendering) stageObjects(s Stage) []runtime.Object {
	b := s.base()
	out := r.waitObjects(b)
	if !inChain(b) {
		out = append(out, s.objects(r)...)
	}
	if m := b.work.metrics; m != nil {
		out = append(out, monitor(&b.member, m, len(b.servicePorts) > 0))
	}
	return out
}

// anyPrivileged reports whether a stage of the pipeline is deliberately
// privileged (Security.AllowPrivilegedOverride): the pipeline's Override
// may then lower its namespace's Pod Security enforcement.
func (r *rendering) anyPrivileged() bool {
	for _, s := range r.g.order {
		if s.base().work.given.Security.AllowPrivilegedOverride {
			return true
		}
	}
	return false
}

// privilegedTasks returns the Argo tasks whose stages are deliberately
// privileged, by the name of their container template.
func (r *rendering) privilegedTasks() map[string]bool {
	out := map[string]bool{}
	for _, s := range r.g.chainStages() {
		if s.base().work.given.Security.AllowPrivilegedOverride {
			out[s.Name()] = true
		}
	}
	return out
}

// callers returns the calls each stage receives, with their callers, in
// the order of the graph.
func (r *rendering) callers() map[Stage][]inboundCall {
	out := map[Stage][]inboundCall{}
	for _, from := range r.g.order {
		for _, c := range from.base().validCalls() {
			out[c.callee] = append(out[c.callee], inboundCall{from: from, call: c})
		}
	}
	return out
}

// namespaceObject is the pipeline's Namespace, which enforces Pod Security
// "restricted".
func (p *Pipeline) namespaceObject() *corev1.Namespace {
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: p.namespace, Labels: p.objectLabels(p.namespace, componentPipeline)},
	}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		ns.Labels["pod-security.kubernetes.io/"+mode] = "restricted"
		ns.Labels["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	return ns
}

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

// addChartLabels adds the labels of the object's cdk8s Chart, as cdk8s
// adds them to the objects of a chart: a label the object sets itself
// wins.
func addChartLabels(obj runtime.Object, labels map[string]string) {
	if len(labels) == 0 {
		return
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	l := m.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range labels {
		if _, ok := l[k]; !ok {
			l[k] = v
		}
	}
	m.SetLabels(l)
}

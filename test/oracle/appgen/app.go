package appgen

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	sc "github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
)

// Kind chooses what an app is mostly made of, so that each fuzz target
// spends its inputs on one construct.
type Kind int

// The kinds of apps.
const (
	// Mixed apps have one or two charts, up to three pipelines, and stages
	// of every kind wired to each other.
	Mixed Kind = iota
	// Processors, Batches and Schedules are one pipeline whose stages are
	// of that kind (with storage to mount).
	Processors
	Batches
	Schedules
	// Storage is one pipeline of storage, mounted by a stage or two.
	Storage
)

// stageKind is a construct that can be wired: every stage kind has these
// methods.
type wirable interface {
	sc.Stage
	Calls(callee sc.Stage, port ...string)
	RunsAfter(upstreams ...sc.Stage)
}

// Build declares an app from data in app. It may panic only where
// stagecraft's constructors do; the caller treats a panic as a failure.
func Build(app cdk8s.App, data []byte, kind Kind) {
	in := &input{data: data}
	charts := 1
	if kind == Mixed && in.chance(3) {
		charts = 2
	}
	for c := 0; c < charts; c++ {
		var scope constructs.Construct = app
		id := "test"
		if c > 0 && in.bool() {
			// Another scope, where the chart may take the first one's id.
			scope = constructs.NewConstruct(app, jsii.String("group"))
			id = in.pick("test", "other")
		} else if c > 0 {
			id = "other"
		}
		chart := cdk8s.NewChart(scope, jsii.String(id), chartProps(in))
		pipelines := 1
		if kind == Mixed {
			pipelines = 1 + in.n(3)
		}
		for p := 0; p < pipelines; p++ {
			buildPipeline(in, chart, kind)
		}
	}
}

func chartProps(in *input) *cdk8s.ChartProps {
	if in.chance(6) {
		return nil
	}
	p := &cdk8s.ChartProps{}
	if ns := in.opt(namespaces...); ns != "" {
		p.Namespace = jsii.String(ns)
	}
	if l := in.strMap(1, labelKeys, labelValues); l != nil {
		p.Labels = &map[string]*string{}
		for k, v := range l {
			(*p.Labels)[k] = jsii.String(v)
		}
	}
	return p
}

func buildPipeline(in *input, chart cdk8s.Chart, kind Kind) {
	id := "p"
	if kind == Mixed || in.chance(1) {
		id = in.pick(ids...)
	}
	p := sc.NewPipeline(chart, id, pipelineProps(in))
	var stores []*sc.PipelineStorage
	nstores := in.n(3)
	if kind == Storage {
		nstores = 1 + in.n(2)
	}
	for i := 0; i < nstores; i++ {
		stores = append(stores, sc.NewPipelineStorage(p, in.pick(ids...), storageProps(in)))
	}
	var stages []wirable
	nstages := 1 + in.n(3)
	for i := 0; i < nstages; i++ {
		stages = append(stages, buildStage(in, p, kind, stores))
	}
	wire(in, stages)
}

// buildStage adds one stage: of the target's kind, or any.
func buildStage(in *input, p *sc.Pipeline, kind Kind, stores []*sc.PipelineStorage) wirable {
	var scope constructs.Construct = p
	if in.chance(1) {
		scope = constructs.NewConstruct(p, jsii.String(in.pick("group", "g2")))
	}
	k := kind
	if k == Mixed || k == Storage {
		k = Kind(1 + in.n(3))
	}
	id := in.pick(ids...)
	switch k {
	case Processors:
		return sc.NewProcessorStage(scope, id, processorProps(in, stores))
	case Batches:
		return sc.NewBatchStage(scope, id, sc.BatchStageProps{
			Workload: workload(in, stores), JobSettings: jobSettings(in),
			Revision: in.opt("1", "v2", "bad value!"), FixedJobName: in.chance(1),
		})
	default:
		return sc.NewScheduledStage(scope, id, scheduledProps(in, stores))
	}
}

// wire declares calls and orderings between the stages of a pipeline,
// including to themselves.
func wire(in *input, stages []wirable) {
	n := in.n(4)
	for i := 0; i < n; i++ {
		a, b := stages[in.n(len(stages))], stages[in.n(len(stages))]
		switch in.n(3) {
		case 0:
			a.Calls(b)
		case 1:
			a.Calls(b, in.pick("http", "grpc", "metrics", "tcp", "dns"))
		default:
			a.RunsAfter(b)
		}
	}
}

func pipelineProps(in *input) sc.PipelineProps {
	p := sc.PipelineProps{
		Namespace: in.opt(namespaces...),
		Labels:    in.strMap(2, labelKeys, labelValues),
	}
	if in.chance(3) {
		p.Defaults = sc.Defaults{
			Resources:          resources(in),
			ImagePullPolicy:    in.opt("Always", "IfNotPresent", "Never", "always"),
			NodeSelector:       in.strMap(1, labelKeys, labelValues),
			ServiceAccountName: in.opt("runner", "default", "Bad_SA"),
		}
	}
	if in.chance(3) {
		p.Network = sc.Network{
			IngressControllerNamespace: in.opt(namespaces...),
			MonitoringNamespace:        in.opt(namespaces...),
			DNSNamespace:               in.opt(namespaces...),
			APIServerCIDRs:             list(in, 2, func() string { return in.pick(cidrs...) }),
			APIServerPorts:             list(in, 2, func() int32 { return in.int32(443, 6443, 0, 65536) }),
			Disabled:                   in.chance(1),
		}
		p.WaitImage = in.opt("registry.k8s.io/kubectl:v1.36.3", "kubectl:latest", "bitnami/kubectl:1.36")
		p.WaitTimeout = in.duration(durations...)
	}
	return p
}

func resources(in *input) sc.Resources {
	if in.chance(4) {
		return sc.Resources{}
	}
	return sc.Resources{
		CPURequest: in.opt(cpus...), CPULimit: in.opt(cpus...),
		MemoryRequest: in.opt(memories...), MemoryLimit: in.opt(memories...),
		EphemeralStorageRequest: in.opt(ephemerals...), EphemeralStorageLimit: in.opt(ephemerals...),
	}
}

func storageProps(in *input) sc.PipelineStorageProps {
	p := sc.PipelineStorageProps{
		Size:             in.pick(sizes...),
		AccessModes:      list(in, 2, func() string { return in.pick(modes...) }),
		StorageClassName: in.opt("gp3", "standard", "Bad_Class", ""),
		VolumeMode:       in.opt("Filesystem", "Block", "block"),
		Labels:           in.strMap(1, labelKeys, labelValues),
	}
	switch in.n(4) {
	case 1:
		p.Existing = &sc.ExistingVolume{NFS: &sc.NFSVolume{Server: in.pick("nfs.example.com", "10.0.0.5", "", "bad host!"), Path: in.pick(paths...)}}
	case 2:
		p.Existing = &sc.ExistingVolume{CSI: &sc.CSIVolume{
			Driver: in.pick("ebs.csi.aws.com", "efs.csi.aws.com", "Bad_Driver", ""), VolumeHandle: in.pick("vol-0123", "", "fs-1::a"),
			FSType: in.opt("ext4", "xfs"), VolumeAttributes: in.strMap(1, []string{"a", "storage.kubernetes.io/csiProvisionerIdentity"}, labelValues),
		}}
	case 3:
		if in.bool() {
			p.Existing = &sc.ExistingVolume{}
		}
	}
	if p.Existing != nil {
		p.Existing.MountOptions = list(in, 1, func() string { return in.pick("nfsvers=4.1", "ro", "") })
	}
	return p
}

package appgen

import (
	"strings"

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

// wirable is a stage with its wiring methods, which every kind has.
type wirable interface {
	sc.Stage
	Calls(callee sc.Stage, port ...string)
	RunsAfter(upstreams ...sc.Stage)
}

// built is a stage with what the generator knows of it.
type built struct {
	stage wirable
	ports []string // the names of its Service's ports
}

// Build declares an app from data in app (see input for how it chooses).
// It may panic only where stagecraft's constructors do; the caller treats
// a panic as a failure.
func Build(app cdk8s.App, data []byte, kind Kind) {
	in := &input{data: data}
	in.budget = []int{0, 0, 0, 0, 1, 1, 1, 2}[in.n(8)]
	charts, pipelines := 1, 1
	if kind == Mixed {
		charts, pipelines = 1+in.n(2), 1+in.n(3)
	}
	used := map[string]bool{} // pipeline ids, and so namespaces
	for c := 0; c < charts; c++ {
		var scope constructs.Construct = app
		id := "test"
		if c > 0 && in.bool() {
			// Another scope, where the chart may take the first one's id.
			scope = constructs.NewConstruct(app, jsii.String("group"))
			id = "other"
			if in.risky() {
				id = "test"
			}
		} else if c > 0 {
			id = "other"
		}
		chart := cdk8s.NewChart(scope, jsii.String(id), chartProps(in, pipelines))
		for p := 0; p < pipelines; p++ {
			buildPipeline(in, chart, kind, fresh(in, ids, used))
		}
	}
}

// fresh picks an id not in used (unless a risky choice reuses one), and
// records it.
func fresh(in *input, d dict, used map[string]bool) string {
	id := in.pick(d)
	if !used[id] || !in.keep() {
		used[id] = true
		return id
	}
	for i := 0; used[id] && i < len(d.good); i++ {
		id = d.good[i]
	}
	if used[id] {
		id += "-x"
	}
	used[id] = true
	return id
}

func chartProps(in *input, pipelines int) *cdk8s.ChartProps {
	if in.chance(5) {
		return nil
	}
	p := &cdk8s.ChartProps{}
	if pipelines == 1 || in.risky() {
		if ns := in.opt(namespaces); ns != "" {
			p.Namespace = jsii.String(ns)
		}
	}
	if l := in.strMap(1, labelKeys, labelValues); l != nil {
		p.Labels = &map[string]*string{}
		for k, v := range l {
			(*p.Labels)[k] = jsii.String(v)
		}
	}
	return p
}

func buildPipeline(in *input, chart cdk8s.Chart, kind Kind, id string) {
	p := sc.NewPipeline(chart, id, pipelineProps(in))
	used := map[string]bool{}
	var stores []*sc.PipelineStorage
	nstores := in.n(3)
	if kind == Storage {
		nstores = 1 + in.n(2)
	}
	for i := 0; i < nstores; i++ {
		stores = append(stores, sc.NewPipelineStorage(p, fresh(in, ids, used), storageProps(in)))
	}
	var stages []built
	groups := map[string]constructs.Construct{}
	for i, n := 0, 1+in.n(3); i < n; i++ {
		var scope constructs.Construct = p
		if in.chance(1) {
			// A construct of the user's own between pipeline and stage.
			g := []string{"group", "g2"}[in.n(2)]
			if groups[g] == nil {
				groups[g] = constructs.NewConstruct(p, jsii.String(g))
			}
			scope = groups[g]
		}
		stages = append(stages, buildStage(in, scope, kind, fresh(in, ids, used), stores))
	}
	wire(in, stages)
}

// buildStage adds one stage to scope: of the target's kind, or any.
func buildStage(in *input, scope constructs.Construct, kind Kind, id string, stores []*sc.PipelineStorage) built {
	k := kind
	if k == Mixed || k == Storage {
		k = Kind(1 + in.n(3))
	}
	switch k {
	case Processors:
		props := processorProps(in, stores)
		b := built{stage: sc.NewProcessorStage(scope, id, props)}
		for _, p := range props.Ports {
			b.ports = append(b.ports, p.Name)
		}
		return b
	case Batches:
		w, js := workload(in, stores, false), jobSettings(in)
		if in.keep() {
			// A BatchStage's Job has no TTL: the deploy tool would re-create it.
			js.TTLAfterFinished = 0
		}
		return built{stage: sc.NewBatchStage(scope, id, sc.BatchStageProps{
			Workload: w, JobSettings: js,
			Revision: in.opt(dict{good: []string{"1", "v2"}, bad: []string{"bad value!"}}), FixedJobName: in.chance(1),
		})}
	default:
		return built{stage: sc.NewScheduledStage(scope, id, scheduledProps(in, stores))}
	}
}

// wire declares calls and orderings between the stages of a pipeline: it
// calls only other stages with ports, on one of them, and orders a stage
// only after an earlier one, unless a risky choice does otherwise.
func wire(in *input, stages []built) {
	for i, n := 0, in.n(4); i < n; i++ {
		ai, bi := in.n(len(stages)), in.n(len(stages))
		a, b := stages[ai], stages[bi]
		switch in.n(3) {
		case 0, 1:
			if (ai == bi || len(b.ports) == 0) && in.keep() {
				continue
			}
			if in.bool() && len(b.ports) > 0 {
				a.stage.Calls(b.stage, b.ports[in.n(len(b.ports))])
			} else {
				a.stage.Calls(b.stage)
			}
		default:
			if ai <= bi && in.keep() {
				continue
			}
			a.stage.RunsAfter(b.stage)
		}
	}
}

var netNamespaces = dict{good: []string{"kube-system", "ingress-nginx", "monitoring", "observability"}, bad: namespaces.bad}

func pipelineProps(in *input) sc.PipelineProps {
	p := sc.PipelineProps{Labels: in.strMap(2, labelKeys, labelValues), NotSecrets: notSecretsList(in)}
	if in.risky() {
		p.Namespace = in.opt(namespaces)
	}
	if in.chance(3) {
		p.Defaults = sc.Defaults{
			Resources:          resources(in),
			ImagePullPolicy:    in.opt(dict{good: []string{"Always", "IfNotPresent", "Never"}, bad: []string{"always"}}),
			NodeSelector:       in.strMap(1, labelKeys, labelValues),
			ServiceAccountName: in.opt(dict{good: []string{"runner", "default"}, bad: []string{"Bad_SA"}}),
		}
	}
	if in.chance(3) {
		p.Network = sc.Network{
			IngressControllerNamespace: in.opt(netNamespaces),
			MonitoringNamespace:        in.opt(netNamespaces),
			DNSNamespace:               in.opt(netNamespaces),
			APIServerCIDRs:             list(in, 2, func() string { return in.pick(cidrs) }),
			APIServerPorts:             list(in, 2, func() int32 { return []int32{443, 6443}[in.n(2)] }),
			Disabled:                   in.chance(1),
		}
		p.GateImage = in.opt(dict{good: []string{"ghcr.io/stagecraft-dev/gate:0.1.0", "registry.example.com/gate@sha256:" + strings.Repeat("ab", 32)}, bad: []string{"gate:latest"}})
		p.WaitTimeout = in.duration()
		p.NoGateAdmissionPolicy = in.chance(1)
	} else {
		// Without Network, still state the API server (a pipeline that
		// waits needs it), so that most inputs with waits are accepted.
		p.Network.APIServerCIDRs = []string{"192.0.2.10/32"}
	}
	return p
}

// resources sets, for each resource, both the request and the limit or
// neither, so that it never asks for more than its limit (unless a risky
// choice sets them one by one).
func resources(in *input) sc.Resources {
	var r sc.Resources
	if in.chance(4) {
		return r
	}
	pair := func(reqs, lims dict) (string, string) {
		switch in.n(3) {
		case 0:
			return "", ""
		case 1:
			if in.keep() {
				return "", ""
			}
			return in.opt(reqs), in.opt(lims)
		}
		i := in.n(len(reqs.good))
		return reqs.good[i], lims.good[i]
	}
	r.CPURequest, r.CPULimit = pair(cpus, dict{good: []string{"1", "1", "2", "2", "1500m", "1"}, bad: cpus.bad})
	r.MemoryRequest, r.MemoryLimit = pair(memories, dict{good: []string{"256Mi", "1Gi", "1Gi", "8Gi", "2G", "1Gi", "1e9"}, bad: memories.bad})
	r.EphemeralStorageRequest, r.EphemeralStorageLimit = pair(ephemerals, dict{good: []string{"1Gi", "1Gi", "2Gi", "10Gi"}, bad: ephemerals.bad})
	return r
}

func storageProps(in *input) sc.PipelineStorageProps {
	p := sc.PipelineStorageProps{
		Size:             in.pick(sizes),
		AccessModes:      list(in, 2, func() string { return in.pick(modes) }),
		StorageClassName: in.opt(dict{good: []string{"gp3", "standard"}, bad: []string{"Bad_Class"}}),
		VolumeMode:       in.opt(dict{good: []string{"Filesystem"}, bad: []string{"Block", "block"}}),
		Labels:           in.strMap(1, labelKeys, labelValues),
		NotSecrets:       notSecretsList(in),
	}
	switch in.n(4) {
	case 1:
		p.Existing = &sc.ExistingVolume{NFS: &sc.NFSVolume{
			Server: in.pick(dict{good: []string{"nfs.example.com", "10.0.0.5"}, bad: []string{"", "bad host!"}}),
			Path:   in.pick(dict{good: []string{"/exports", "/exports/models"}, bad: []string{"", "exports"}})}}
	case 2:
		p.Existing = &sc.ExistingVolume{CSI: &sc.CSIVolume{
			Driver:       in.pick(dict{good: []string{"ebs.csi.aws.com", "efs.csi.aws.com"}, bad: []string{"Bad_Driver", ""}}),
			VolumeHandle: in.pick(dict{good: []string{"vol-0123", "fs-1::a"}, bad: []string{""}}),
			FSType:       in.opt(dict{good: []string{"ext4", "xfs"}}),
			VolumeAttributes: in.strMap(1, dict{good: []string{"a"}, bad: []string{"storage.kubernetes.io/csiProvisionerIdentity"}},
				labelValues)}}
	case 3:
		if in.risky() {
			p.Existing = &sc.ExistingVolume{}
		}
	}
	if p.Existing != nil {
		p.Existing.MountOptions = list(in, 1, func() string { return in.pick(dict{good: []string{"nfsvers=4.1", "ro"}, bad: []string{""}}) })
	}
	return p
}

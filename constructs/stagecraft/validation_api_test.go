package stagecraft

import (
	"testing"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"k8s.io/utils/ptr"
)

// TestValidationAPIServerRules holds the inputs a v1.36 API server refuses,
// or accepts in a form that cannot work, that stagecraft once let through:
// the examples of issue 17 and the findings of the oracle and the
// differential fuzzers (test/oracle). Each bad input is a problem naming
// the field, the bad value and what is allowed; each valid neighbour
// renders, and test/oracle checks its manifests with the API server's own
// validation.
func TestValidationAPIServerRules(t *testing.T) {
	var cases []vtCase
	cases = append(cases, vtQuantityCases()...)
	cases = append(cases, vtIndexedCases()...)
	cases = append(cases, vtNetworkRuleCases()...)
	cases = append(cases, vtPodRuleCases()...)
	cases = append(cases, vtCollisionCases()...)
	vtRows(t, cases)
}

func vtQuantityCases() []vtCase {
	return []vtCase{
		{name: "bytes/memory limit in milli", build: vtWork(func(w *Workload) { w.Resources.MemoryLimit = "512m" }),
			want: []vtWant{vtS("Resources.MemoryLimit", tInvalid, "512m").saying(`the suffix "m" is a thousandth); use whole bytes with a binary suffix, such as "512Mi"`)}},
		{name: "bytes/memory request fractional", build: vtWork(func(w *Workload) { w.Resources.MemoryRequest, w.Resources.MemoryLimit = "1.1Gi", "2Gi" }),
			want: []vtWant{vtS("Resources.MemoryRequest", tInvalid, "1.1Gi").saying(`is a fractional number of bytes; use whole bytes with a binary suffix, such as "1127Mi"`)}},
		{name: "bytes/ephemeral storage fractional", build: vtWork(func(w *Workload) { w.Resources.EphemeralStorageLimit = "1.5m" }),
			want: []vtWant{vtS("Resources.EphemeralStorageLimit", tInvalid, "1.5m")}},
		{name: "bytes/pipeline default memory fractional", build: vtPipe(PipelineProps{Defaults: Defaults{Resources: Resources{MemoryLimit: "0.3Gi"}}}),
			want: []vtWant{vtAt("test/p", "Defaults.Resources.MemoryLimit", tInvalid, "0.3Gi")}},
		{name: "bytes/storage size fractional", build: vtStore(func(s *PipelineStorageProps) { s.Size = "1.1Gi" }),
			want: []vtWant{vtS("Size", tInvalid, "1.1Gi")}},
		{name: "bytes/scratch size in milli", build: vtWork(func(w *Workload) { w.Security.ScratchSize = "512m" }),
			want: []vtWant{vtS("Security.ScratchSize", tInvalid, "512m")}},
		{name: "bytes/shared memory fractional", build: vtWork(func(w *Workload) { w.SharedMemory = "100.1Mi" }),
			want: []vtWant{vtS("SharedMemory", tInvalid, "100.1Mi")}},
		{name: "bytes/stateful volume fractional", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: "state", Path: "/state", Size: "2.2Gi"}}}
		}), want: []vtWant{vtS("Stateful.Volumes[0].Size", tInvalid, "2.2Gi")}},
		{name: "bytes/half a gibibyte is whole bytes", build: vtWork(func(w *Workload) { w.Resources.MemoryRequest, w.Resources.MemoryLimit = "0.5Gi", "0.5Gi" })},
		{name: "bytes/decimal and exponent forms", build: vtWork(func(w *Workload) { w.Resources.MemoryRequest, w.Resources.MemoryLimit = "1e8", "1G" })},

		{name: "scratch/above the ephemeral limit", build: vtWork(func(w *Workload) {
			w.Security.ScratchPaths, w.Security.ScratchSize, w.Resources.EphemeralStorageLimit = []string{"/tmp", "/cache"}, "1Gi", "1536Mi"
		}), want: []vtWant{vtS("Security.ScratchSize", tInvalid, "1Gi").saying("2 scratch directories of 1Gi may hold 2Gi, above the ephemeral-storage limit 1536Mi")}},
		{name: "scratch/above the pipeline's ephemeral limit", build: func(c cdk8s.Chart) {
			p := NewPipeline(c, "p", PipelineProps{Defaults: Defaults{Resources: Resources{EphemeralStorageLimit: "2Gi"}}})
			NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: vtImage, Security: Security{ScratchSize: "3Gi"}}})
		}, want: []vtWant{vtS("Security.ScratchSize", tInvalid, "3Gi")}},
		{name: "scratch/the default limit follows the scratch directories", build: vtWork(func(w *Workload) {
			w.Security.ScratchPaths, w.Security.ScratchSize = []string{"/tmp", "/cache", "/models"}, "4Gi"
		})},
		{name: "scratch/none, and HOME set by the user", build: vtWork(func(w *Workload) {
			w.Security.ScratchPaths = []string{}
			w.Env = []EnvVar{Env("HOME", "/home/app")}
		})},
	}
}

func vtIndexedCases() []vtCase {
	indexed := func(j JobSettings) func(*JobSettings) {
		return func(s *JobSettings) { j.Indexed = true; *s = j }
	}
	return []vtCase{
		{name: "indexed/many completions with per-index retries", build: vtJob(indexed(JobSettings{Completions: ptr.To[int32](200000), Parallelism: ptr.To[int32](20000), BackoffLimitPerIndex: ptr.To[int32](1)})),
			want: []vtWant{vtS("Parallelism", tInvalid, int32(20000)).saying("must be at most 10000"), vtS("MaxFailedIndexes", tRequired, vtNone).saying("needs MaxFailedIndexes (at most 10000)")}},
		{name: "indexed/many completions, too many failed indexes", build: vtJob(indexed(JobSettings{Completions: ptr.To[int32](200000), Parallelism: ptr.To[int32](100),
			BackoffLimitPerIndex: ptr.To[int32](1), MaxFailedIndexes: ptr.To[int32](10001)})),
			want: []vtWant{vtS("MaxFailedIndexes", tInvalid, int32(10001))}},
		{name: "indexed/parallelism above the API's limit", build: vtJob(indexed(JobSettings{Completions: ptr.To[int32](200000), Parallelism: ptr.To[int32](100001)})),
			want: []vtWant{vtS("Parallelism", tInvalid, int32(100001))}},
		{name: "indexed/many completions within the limits", build: vtJob(indexed(JobSettings{Completions: ptr.To[int32](200000), Parallelism: ptr.To[int32](10000),
			BackoffLimitPerIndex: ptr.To[int32](1), MaxFailedIndexes: ptr.To[int32](10000)}))},
		{name: "indexed/user sets the completion index", build: vtBatch(func(_ *Pipeline, s *BatchStageProps) {
			s.Indexed, s.Completions = true, ptr.To[int32](4)
			s.Env = []EnvVar{Env("JOB_COMPLETION_INDEX", "0")}
		}), want: []vtWant{vtS("Env[0].Name", tDuplicate, "JOB_COMPLETION_INDEX").saying("already has JOB_COMPLETION_INDEX")}},
		{name: "indexed/scheduled stage sets the completion index", build: vtSched(func(s *ScheduledStageProps) {
			s.Indexed, s.Completions = true, ptr.To[int32](2)
			s.Env = []EnvVar{Env("LOG", "x"), Env("JOB_COMPLETION_INDEX", "0")}
		}), want: []vtWant{vtS("Env[1].Name", tDuplicate, "JOB_COMPLETION_INDEX")}},
		{name: "indexed/not indexed may set the variable", build: vtBatch(func(_ *Pipeline, s *BatchStageProps) {
			s.Env = []EnvVar{Env("JOB_COMPLETION_INDEX", "0")}
		})},
		{name: "indexed/63-character batch id", build: func(c cdk8s.Chart) {
			NewBatchStage(vtPipeline(c), vtLong(63), BatchStageProps{Workload: vtW(), JobSettings: JobSettings{Indexed: true, Completions: ptr.To[int32](2)}})
		}, want: []vtWant{vtAt("test/p/"+vtLong(63), "id", tTooLong, vtLong(63)).saying("no more than 52 characters")}},
		{name: "indexed/52-character scheduled id with 11 shards", build: func(c cdk8s.Chart) {
			NewScheduledStage(vtPipeline(c), vtLong(52), ScheduledStageProps{Workload: vtW(), Schedule: "@daily", JobSettings: JobSettings{Indexed: true, Completions: ptr.To[int32](11)}})
		}, want: []vtWant{vtAt("test/p/"+vtLong(52), "id", tTooLong, vtLong(52))}},
		{name: "indexed/52-character scheduled id with 10 shards", build: func(c cdk8s.Chart) {
			NewScheduledStage(vtPipeline(c), vtLong(52), ScheduledStageProps{Workload: vtW(), Schedule: "@daily", JobSettings: JobSettings{Indexed: true, Completions: ptr.To[int32](10)}})
		}},
		{name: "schedule/never fires", build: vtSched(func(s *ScheduledStageProps) { s.Schedule = "0 2 30 2 *" }),
			want: []vtWant{vtS("Schedule", tInvalid, "0 2 30 2 *").saying("never fires")}},
		{name: "schedule/April 31st never fires", build: vtSched(func(s *ScheduledStageProps) { s.Schedule = "0 0 31 4 *" }),
			want: []vtWant{vtS("Schedule", tInvalid, "0 0 31 4 *")}},
		{name: "schedule/leap day fires", build: vtSched(func(s *ScheduledStageProps) { s.Schedule = "0 0 29 2 *" })},
		{name: "budget/minimum wraps through int32", build: vtWeb(func(s *ProcessorStageProps) {
			s.Replicas, s.DisruptionBudget = ptr.To[int32](3), &DisruptionBudget{MinAvailable: "4294967295"}
		}), want: []vtWant{vtS("DisruptionBudget.MinAvailable", tInvalid, "4294967295").saying("a count from 0 to 2147483647")}},
		{name: "budget/maximum wraps to zero", build: vtWeb(func(s *ProcessorStageProps) {
			s.Replicas, s.DisruptionBudget = ptr.To[int32](3), &DisruptionBudget{MaxUnavailable: "4294967296"}
		}), want: []vtWant{vtS("DisruptionBudget.MaxUnavailable", tInvalid, "4294967296").saying("a count from 1 to 2147483647")}},
	}
}

func vtNetworkRuleCases() []vtCase {
	egress := func(r EgressRule) func(*Workload) { return func(w *Workload) { w.Egress = []EgressRule{r} } }
	return []vtCase{
		{name: "cidr/egress with host bits", build: vtWork(egress(EgressRule{CIDR: "10.20.0.5/16"})),
			want: []vtWant{vtS("Egress[0].CIDR", tInvalid, "10.20.0.5/16").saying(`the range is "10.20.0.0/16"`)}},
		{name: "cidr/except equal to its range", build: vtWork(egress(EgressRule{CIDR: "10.0.0.0/8", Except: []string{"10.0.0.0/8"}})),
			want: []vtWant{vtS("Egress[0].Except[0]", tInvalid, "10.0.0.0/8").saying("strictly inside CIDR 10.0.0.0/8")}},
		{name: "cidr/except of the other family", build: vtWork(egress(EgressRule{CIDR: "::/0", Except: []string{"10.0.0.0/8"}})),
			want: []vtWant{vtS("Egress[0].Except[0]", tInvalid, "10.0.0.0/8")}},
		{name: "cidr/except with host bits", build: vtWork(egress(EgressRule{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.5/16"}})),
			want: []vtWant{vtS("Egress[0].Except[0]", tInvalid, "10.1.0.5/16")}},
		{name: "cidr/IPv4 written as IPv6", build: vtWork(egress(EgressRule{CIDR: "::ffff:10.0.0.0/104"})),
			want: []vtWant{vtS("Egress[0].CIDR", tInvalid, "::ffff:10.0.0.0/104")}},
		{name: "cidr/API server range of every address", build: vtPipe(PipelineProps{Network: Network{APIServerCIDRs: []string{"0.0.0.0/0", "::/0"}}}),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs[0]", tInvalid, "0.0.0.0/0").saying("opens every address"), vtAt("test/p", "Network.APIServerCIDRs[1]", tInvalid, "::/0").saying("at most /28 for IPv4 and /124 for IPv6")}},
		{name: "cidr/API server range wider than a control plane subnet", build: vtPipe(PipelineProps{Network: Network{APIServerCIDRs: []string{"8.0.0.0/8"}}}),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs[0]", tInvalid, "8.0.0.0/8").saying("opens 2^24 addresses")}},
		{name: "cidr/API server's control plane subnet", build: vtPipe(PipelineProps{Network: Network{APIServerCIDRs: []string{"10.0.0.16/28", "2001:db8::10/124", "192.0.2.7/32"}}})},
		{name: "cidr/API server range with host bits", build: vtPipe(PipelineProps{Network: Network{APIServerCIDRs: []string{"10.96.0.1/12"}}}),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs[0]", tInvalid, "10.96.0.1/12").saying(`the range is "10.96.0.0/12"`)}},
		{name: "cidr/egress and exceptions valid", build: vtWork(egress(EgressRule{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16", "10.2.3.4/32"}, Ports: []int32{443}}))},
		{name: "cidr/IPv6 egress valid", build: vtWork(egress(EgressRule{CIDR: "2001:db8::/32", Except: []string{"2001:db8:1::/48"}, Protocol: "UDP", Ports: []int32{53}}))},

		{name: "udp/explicit readiness probe of a UDP port", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Ports = []Port{{Name: "dns", ContainerPort: 5353, Protocol: "UDP"}}
			s.Readiness = &Probe{}
		}), want: []vtWant{vtS("Readiness.Port", tInvalid, "dns").saying("is UDP")}},
		{name: "udp/HTTP liveness probe of a named UDP port", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Ports = []Port{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 5353, Protocol: "UDP"}}
			s.Liveness = &Probe{HTTPPath: "/healthz", Port: "dns"}
		}), want: []vtWant{vtS("Liveness.Port", tInvalid, "dns")}},
		{name: "udp/ingress to a UDP port", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Ports = []Port{{Name: "dns", ContainerPort: 5353, Protocol: "UDP"}}
			s.Ingress = &Ingress{Host: "dns.example.com"}
		}), want: []vtWant{vtS("Ingress.Port", tInvalid, "dns").saying("an Ingress carries HTTP, over TCP")}},
		{name: "udp/UDP-only stage gets no TCP readiness probe", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Ports = []Port{{Name: "dns", ContainerPort: 5353, Protocol: "UDP"}}
		})},
		{name: "udp/default probe checks the first TCP port", build: vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Ports = []Port{{Name: "dns", ContainerPort: 5353, Protocol: "UDP"}, {Name: "http", ContainerPort: 8080}}
			s.Ingress = &Ingress{Port: "http"}
		})},
	}
}

func vtPodRuleCases() []vtCase {
	return []vtCase{
		{name: "accelerators/quota prefix", build: vtWork(func(w *Workload) { w.Accelerators = &Accelerators{Count: 1, Resource: "requests.nvidia.com/gpu"} }),
			want: []vtWant{vtS("Accelerators.Resource", tInvalid, "requests.nvidia.com/gpu").saying(`such as "nvidia.com/gpu"`)}},
		{name: "accelerators/misspelt vendor", build: vtWork(func(w *Workload) { w.Accelerators = &Accelerators{Count: 1, Resource: "nvida.com/gpu"} }),
			want: []vtWant{vtS("Accelerators.Resource", tInvalid, "nvida.com/gpu").saying(`did you mean "nvidia.com/gpu"? Known accelerators:`)}},
		{name: "accelerators/misspelt AMD", build: vtWork(func(w *Workload) { w.Accelerators = &Accelerators{Count: 1, Resource: "amd.co/gpu"} }),
			want: []vtWant{vtS("Accelerators.Resource", tInvalid, "amd.co/gpu")}},
		{name: "accelerators/other vendor is valid", build: vtWork(func(w *Workload) {
			w.Accelerators = &Accelerators{Count: 1, Resource: "example.com/fpga", Product: "x1", ProductLabel: "example.com/product"}
		})},
		{name: "annotations/seccomp pod annotation", build: vtWork(func(w *Workload) {
			w.Annotations = map[string]string{"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}
		}), want: []vtWant{vtS("Annotations[seccomp.security.alpha.kubernetes.io/pod]", tForbidden, "unconfined").saying("must match the pod's seccompProfile")}},
		{name: "annotations/seccomp container annotation", build: vtWork(func(w *Workload) {
			w.Annotations = map[string]string{"container.seccomp.security.alpha.kubernetes.io/s": "runtime/default"}
		}), want: []vtWant{vtS("Annotations[container.seccomp.security.alpha.kubernetes.io/s]", tForbidden, "runtime/default")}},
		{name: "annotations/AppArmor runtime default", build: vtWork(func(w *Workload) {
			w.Annotations = map[string]string{"container.apparmor.security.beta.kubernetes.io/s": "runtime/default"}
		}), want: []vtWant{vtS("Annotations[container.apparmor.security.beta.kubernetes.io/s]", tForbidden, "runtime/default")}},
		{name: "labels/controller-uid on a scheduled stage", build: vtSched(func(s *ScheduledStageProps) { s.Labels = map[string]string{"controller-uid": "x"} }),
			want: []vtWant{vtS("Labels[controller-uid]", tForbidden, "controller-uid").saying("set by Kubernetes' Job controller")}},
		{name: "labels/job name on a scheduled stage", build: vtSched(func(s *ScheduledStageProps) { s.Labels = map[string]string{"batch.kubernetes.io/job-name": "x"} }),
			want: []vtWant{vtS("Labels[batch.kubernetes.io/job-name]", tForbidden, "batch.kubernetes.io/job-name").saying("set by Kubernetes' Job controller")}},
		{name: "labels/pod template hash on a processor", build: vtWork(func(w *Workload) { w.Labels = map[string]string{"pod-template-hash": "x"} }),
			want: []vtWant{vtS("Labels[pod-template-hash]", tForbidden, "pod-template-hash")}},
		{name: "labels/job name on the pipeline", build: vtPipe(PipelineProps{Labels: map[string]string{"job-name": "x"}}),
			want: []vtWant{vtAt("test/p", "Labels[job-name]", tForbidden, "job-name")}},
		{name: "labels/controller-uid on the chart", build: func(c cdk8s.Chart) {
			app := c.Node().Scope().(constructs.Construct)
			NewPipeline(cdk8s.NewChart(app, jsii.String("other"), &cdk8s.ChartProps{Labels: &map[string]*string{"controller-uid": jsii.String("x")}}), "p", PipelineProps{Network: testAPI})
		}, want: []vtWant{vtAt("other", "ChartProps.Labels[controller-uid]", tForbidden, "controller-uid")}},
		{name: "storage/block volume mounted as a filesystem", build: vtProc(func(p *Pipeline, s *ProcessorStageProps) {
			s.Mounts = []Mount{{Storage: NewPipelineStorage(p, "raw", PipelineStorageProps{Size: "1Gi", VolumeMode: "Block", AccessModes: []string{"ReadWriteOnce"}}), Path: "/raw"}}
		}), want: []vtWant{vtS("Mounts[0].Storage", tForbidden, "test/p/raw").saying("VolumeMode Block")}},
		{name: "storage/block volume not mounted is valid", build: vtStore(func(s *PipelineStorageProps) { s.VolumeMode = "Block" })},
	}
}

func vtCollisionCases() []vtCase {
	nfs := &ExistingVolume{NFS: &NFSVolume{Server: "nfs.example.com", Path: "/exports"}}
	web := ProcessorStageProps{Workload: vtW(), Ports: []Port{{Name: "http", ContainerPort: 8080}}}
	return []vtCase{
		{name: "collision/stage named default-deny", build: func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), "default-deny", web)
		}, want: []vtWant{vtAt("test/p/default-deny", "id", tDuplicate, "default-deny").saying(`pipeline test/p names its own NetworkPolicy "default-deny"`)}},
		{name: "collision/stage named allow-dns", build: func(c cdk8s.Chart) {
			NewBatchStage(vtPipeline(c), "allow-dns", BatchStageProps{Workload: vtW()})
		}, want: []vtWant{vtAt("test/p/allow-dns", "id", tDuplicate, "allow-dns").saying(`pipeline test/p names its own NetworkPolicy "allow-dns"`)}},
		{name: "collision/stage named default-deny without network policies", build: func(c cdk8s.Chart) {
			NewProcessorStage(NewPipeline(c, "p", PipelineProps{Network: Network{Disabled: true}}), "default-deny", web)
		}},
		{name: "collision/persistent volumes across pipelines", build: func(c cdk8s.Chart) {
			NewPipelineStorage(NewPipeline(c, "a", PipelineProps{Network: testAPI}), "b-c", PipelineStorageProps{Size: "1Gi", Existing: nfs})
			NewPipelineStorage(NewPipeline(c, "a-b", PipelineProps{Network: testAPI}), "c", PipelineStorageProps{Size: "1Gi", Existing: nfs})
		}, want: []vtWant{vtAt("test/a-b/c", "id", tDuplicate, "c").saying(`PersistentVolume "a-b-c" (cluster-wide, named <namespace>-<id>) is also the volume of storage test/a/b-c`)}},
		{name: "collision/claims of one name in two pipelines", build: func(c cdk8s.Chart) {
			NewPipelineStorage(NewPipeline(c, "a", PipelineProps{Network: testAPI}), "data", PipelineStorageProps{Size: "1Gi", Existing: nfs})
			NewPipelineStorage(NewPipeline(c, "b", PipelineProps{Network: testAPI}), "data", PipelineStorageProps{Size: "1Gi", Existing: nfs})
		}},
		{name: "collision/two charts with one id", build: func(c cdk8s.Chart) {
			vtPipeline(c)
			group := constructs.NewConstruct(c.Node().Scope().(constructs.Construct), jsii.String("group"))
			NewPipeline(cdk8s.NewChart(group, jsii.String("test"), nil), "q", PipelineProps{Network: testAPI})
		}, want: []vtWant{vtAt("group/test", "id", tDuplicate, "test").saying("chart test has the same id")}},
		{name: "collision/waiting stage named default", build: func(c cdk8s.Chart) {
			p := vtPipeline(c)
			up := NewBatchStage(p, "prepare", BatchStageProps{Workload: vtW()})
			NewScheduledStage(p, "default", ScheduledStageProps{Workload: vtW(), Schedule: "@daily"}).RunsAfter(up)
		}, want: []vtWant{vtAt("test/p/default", "id", tDuplicate, "default").saying("waits for test/p/prepare and runs as a ServiceAccount named after it")}},
		{name: "collision/held batch stage named default", build: func(c cdk8s.Chart) {
			// Held by a scheduling gate, it runs as no account of its own;
			// its gate's account is "default-gate".
			p := vtPipeline(c)
			up := NewBatchStage(p, "prepare", BatchStageProps{Workload: vtW()})
			NewBatchStage(p, "default", BatchStageProps{Workload: vtW()}).RunsAfter(up)
		}},
		{name: "collision/stage named default that does not wait", build: func(c cdk8s.Chart) {
			NewBatchStage(vtPipeline(c), "default", BatchStageProps{Workload: vtW()})
		}},
		{name: "collision/waiting stage named default with its own account", build: func(c cdk8s.Chart) {
			p := vtPipeline(c)
			up := NewBatchStage(p, "prepare", BatchStageProps{Workload: vtW()})
			NewScheduledStage(p, "default", ScheduledStageProps{Workload: Workload{Image: vtImage, ServiceAccountName: "runner"}, Schedule: "@daily"}).RunsAfter(up)
		}},
		{name: "collision/storage named like a replica's claim", build: vtProc(func(p *Pipeline, s *ProcessorStageProps) {
			NewPipelineStorage(p, "state-s-1", PipelineStorageProps{Size: "1Gi"})
			s.Replicas = ptr.To[int32](2)
			s.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: "state", Path: "/state", Size: "1Gi"}}}
		}), want: []vtWant{vtAt("test/p/state-s-1", "id", tDuplicate, "state-s-1").saying("stage test/p/s claims a volume \"state\" per replica")}},
		{name: "collision/storage named like a claim of a replica beyond the count", build: vtProc(func(p *Pipeline, s *ProcessorStageProps) {
			NewPipelineStorage(p, "state-s-2", PipelineStorageProps{Size: "1Gi"})
			s.Replicas = ptr.To[int32](2)
			s.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: "state", Path: "/state", Size: "1Gi"}}}
		})},
		{name: "version/service name starting with a digit", build: func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), "1st", web)
		}, want: []vtWant{vtAt("test/p/1st", "id", tInvalid, "1st").saying("must start with a letter on Kubernetes 1.33 to 1.35")}},
		{name: "version/stage without a service may start with a digit", build: func(c cdk8s.Chart) {
			NewBatchStage(vtPipeline(c), "1st", BatchStageProps{Workload: vtW()})
		}},
	}
}

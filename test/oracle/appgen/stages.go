package appgen

import (
	"time"

	sc "github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
)

func workload(in *input, stores []*sc.PipelineStorage) sc.Workload {
	w := sc.Workload{
		Image:                  in.pick(images...),
		AllowLatestTag:         in.chance(1),
		Command:                list(in, 2, func() string { return in.pick("/bin/run", "python", "-c", "\u0085", "") }),
		Args:                   list(in, 2, func() string { return in.pick("--in", "/data", "$(HOME)", "") }),
		Env:                    list(in, 3, func() sc.EnvVar { return envVar(in) }),
		Resources:              resources(in),
		Labels:                 in.strMap(2, labelKeys, labelValues),
		Annotations:            in.strMap(2, annKeys, annValues),
		ImagePullPolicy:        in.opt("Always", "IfNotPresent", "Never", "Sometimes"),
		NodeSelector:           in.strMap(1, labelKeys, labelValues),
		ServiceAccountName:     in.opt("runner", "default", "Bad_SA"),
		ServiceAccountToken:    in.chance(1),
		SharedMemory:           in.opt("1Gi", "64Mi", "512m", "0", "x"),
		PriorityClassName:      in.opt("high", "system-node-critical", "Bad_PC"),
		TerminationGracePeriod: in.duration(durations...),
	}
	if len(stores) > 0 {
		w.Mounts = list(in, 2, func() sc.Mount {
			return sc.Mount{Storage: stores[in.n(len(stores))], Path: in.pick(paths...), SubPath: in.opt("a", "../x", "/abs", "b/c"), ReadOnly: in.bool()}
		})
	}
	if in.chance(3) {
		w.Security = sc.Security{
			RunAsUser: int64(in.int32(0, 1000, 65532, -1)), RunAsGroup: int64(in.int32(0, 1000, -1)), FSGroup: int64(in.int32(0, 2000, -1)),
			WritableRootFilesystem: in.chance(1),
			ScratchSize:            in.opt("1Gi", "2Gi", "100Mi", "10Gi", "512m", "0"),
		}
		switch in.n(3) {
		case 1:
			w.Security.ScratchPaths = []string{}
		case 2:
			w.Security.ScratchPaths = list(in, 3, func() string { return in.pick(paths...) })
		}
	}
	if in.chance(2) {
		w.Accelerators = accelerators(in)
	}
	if in.chance(2) {
		w.Metrics = &sc.Metrics{Port: in.opt("metrics", "http", "prom"), ContainerPort: in.int32(0, 9090, 8080, 70000),
			Path: in.opt("/metrics", "metrics", "/m"), Interval: in.duration(durations...)}
	}
	w.Egress = list(in, 2, func() sc.EgressRule {
		return sc.EgressRule{CIDR: in.pick(cidrs...), Except: list(in, 2, func() string { return in.pick(cidrs...) }),
			Ports: list(in, 2, func() int32 { return in.int32(443, 53, 5432, 0, 65536) }), Protocol: in.pick(protocols...)}
	})
	return w
}

func envVar(in *input) sc.EnvVar {
	e := sc.EnvVar{Name: in.pick(envNames...)}
	switch in.n(4) {
	case 0, 1:
		e.Value = in.pick(envValues...)
	case 2:
		e.Secret = &sc.KeyRef{Name: in.pick("creds", "", "Bad_Name"), Key: in.pick("token", "", "a/b"), Optional: in.bool()}
	default:
		e.ConfigMap = &sc.KeyRef{Name: in.pick("config", ""), Key: in.pick("k", ".dot")}
		if in.chance(1) {
			e.Value = "both"
		}
	}
	return e
}

func accelerators(in *input) *sc.Accelerators {
	a := &sc.Accelerators{
		Count:            in.int32(1, 2, 8, 0, -1),
		Resource:         in.pick(accelResources...),
		Product:          in.opt("NVIDIA-A100-SXM4-80GB", "bad value!"),
		ProductLabel:     in.opt("nvidia.com/gpu.product", "example.com/product", "bad key"),
		RuntimeClassName: in.opt("nvidia", "Bad_RC"),
	}
	a.Tolerations = list(in, 2, func() sc.Toleration {
		return sc.Toleration{Key: in.pick("nvidia.com/gpu", "", "bad key"), Value: in.opt("present", "bad value!"), Effect: in.opt("NoSchedule", "PreferNoSchedule", "NoExecute", "Never")}
	})
	return a
}

func probe(in *input) *sc.Probe {
	if in.chance(5) {
		return nil
	}
	p := &sc.Probe{HTTPPath: in.pick(probePaths...), Port: in.opt("http", "grpc", "dns", "nope"),
		InitialDelay: in.duration(durations...), Period: in.duration(durations...), Timeout: in.duration(durations...),
		FailureThreshold: in.int32(0, 1, 3, -1)}
	if p.HTTPPath == "-" {
		p.HTTPPath, p.Command = "", []string{"/bin/check"}
	}
	return p
}

func processorProps(in *input, stores []*sc.PipelineStorage) sc.ProcessorStageProps {
	p := sc.ProcessorStageProps{
		Workload: workload(in, stores),
		Replicas: in.optInt32(counts...),
		Ports: list(in, 3, func() sc.Port {
			return sc.Port{Name: in.pick("http", "grpc", "metrics", "dns", "tcp", "Bad_Port", ""), ContainerPort: in.int32(8080, 9000, 53, 80, 0, 70000),
				ServicePort: in.int32(0, 80, 443, 53, 70000), Protocol: in.pick(protocols...)}
		}),
	}
	p.Readiness, p.Liveness, p.Startup = probe(in), probe(in), probe(in)
	if in.chance(3) {
		p.Ingress = &sc.Ingress{Host: in.pick(hosts...), Path: in.opt("/", "/api", "/a//b", "api"), PathType: in.opt("Prefix", "Exact", "ImplementationSpecific", "Regex"),
			Port: in.opt("http", "grpc", "dns", "nope"), TLSSecretName: in.opt("tls", "Bad_TLS"), ClassName: in.opt("nginx", "Bad_Class"),
			Annotations: in.strMap(1, annKeys, annValues)}
	}
	if in.chance(2) {
		p.Stateful = &sc.Stateful{ParallelStart: in.bool(), Volumes: list(in, 2, func() sc.VolumeClaim {
			return sc.VolumeClaim{Name: in.pick("state", "data", "scratch", "Bad_Vol", ""), Path: in.pick(paths...), Size: in.pick(sizes...),
				StorageClassName: in.opt("gp3", "Bad_Class"), AccessModes: list(in, 2, func() string { return in.pick(modes...) })}
		})}
	}
	switch in.n(4) {
	case 1:
		p.Autoscaling = &sc.Autoscaling{MinReplicas: in.int32(counts...), MaxReplicas: in.int32(counts...), CPUUtilization: in.int32(0, 50, 80, 101, -1),
			MemoryUtilization: in.int32(0, 70, 200), ScaleDownStabilization: in.duration(durations...)}
	case 2:
		p.EventScaling = eventScaling(in)
	}
	if in.chance(2) {
		p.DisruptionBudget = &sc.DisruptionBudget{MaxUnavailable: in.pick(budgets...), MinAvailable: in.pick(budgets...), Disabled: in.chance(1)}
	}
	if in.chance(1) {
		p.Spread = &sc.Spread{Required: in.bool(), Disabled: in.bool()}
	}
	return p
}

func eventScaling(in *input) *sc.EventScaling {
	return &sc.EventScaling{
		MinReplicas: in.int32(0, 1, 2, -1), MaxReplicas: in.int32(1, 4, 10, 0),
		Cooldown: in.duration(durations...), PollingInterval: in.duration(durations...),
		Triggers: list(in, 2, func() sc.Trigger {
			return sc.Trigger{Type: in.pick("prometheus", "rabbitmq", "kafka", "", "Bad Type"),
				Metadata: in.strMap(2, []string{"serverAddress", "query", "threshold", "queueName"}, []string{"http://prom:9090", "sum(x)", "10", ""}),
				Secrets: list(in, 1, func() sc.TriggerSecret {
					return sc.TriggerSecret{Parameter: in.pick("host", ""), Secret: in.pick("creds", "Bad_S"), Key: in.pick("k", "")}
				}),
				MetricType: in.opt("AverageValue", "Value", "Utilization", "Average")}
		}),
	}
}

func jobSettings(in *input) sc.JobSettings {
	return sc.JobSettings{
		BackoffLimit: in.optInt32(counts...), ActiveDeadline: in.duration(durations...), TTLAfterFinished: in.duration(durations...),
		Parallelism: in.optInt32(counts...), Completions: in.optInt32(counts...), Indexed: in.chance(3),
		BackoffLimitPerIndex: in.optInt32(counts...), MaxFailedIndexes: in.optInt32(counts...),
		FailFastExitCodes: list(in, 2, func() int32 { return in.int32(1, 2, 42, 0, 255, 256, -1) }),
		CountDisruptions:  in.chance(1), Queue: in.opt("gpu-batch", "Bad_Queue"),
	}
}

func scheduledProps(in *input, stores []*sc.PipelineStorage) sc.ScheduledStageProps {
	return sc.ScheduledStageProps{
		Workload: workload(in, stores), JobSettings: jobSettings(in),
		Schedule: in.pick(cronSpecs...), TimeZone: in.pick(zones...),
		ConcurrencyPolicy:          in.opt("Allow", "Forbid", "Replace", "Queue"),
		StartingDeadline:           in.duration(append(durations, 5*time.Second)...),
		SuccessfulJobsHistoryLimit: in.optInt32(counts...), FailedJobsHistoryLimit: in.optInt32(counts...),
		Suspend: in.chance(1),
	}
}

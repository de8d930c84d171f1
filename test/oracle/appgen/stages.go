package appgen

import (
	"strconv"
	"strings"

	sc "github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
)

// workload fills the props every stage has. served tells whether the stage
// has a Service (metrics then go through one of its ports, "http").
func workload(in *input, stores []*sc.PipelineStorage, served bool) sc.Workload {
	w := sc.Workload{
		Image:          in.pick(images),
		AllowLatestTag: in.chance(1),
		Command: list(in, 2, func() string {
			return in.pick(dict{good: []string{"/bin/run", "python", "-c"}, bad: []string{"\u0085", ""}})
		}),
		Args:                   list(in, 2, func() string { return in.pick(dict{good: []string{"--in", "/data", "$(HOME)"}, bad: []string{""}}) }),
		Env:                    envVars(in),
		Resources:              resources(in),
		Labels:                 in.strMap(2, labelKeys, labelValues),
		Annotations:            in.strMap(2, annKeys, annValues),
		ImagePullPolicy:        in.opt(dict{good: []string{"Always", "IfNotPresent", "Never"}, bad: []string{"Sometimes"}}),
		NodeSelector:           in.strMap(1, labelKeys, labelValues),
		ServiceAccountName:     in.opt(dict{good: []string{"runner", "default"}, bad: []string{"Bad_SA"}}),
		ServiceAccountToken:    in.chance(1),
		SharedMemory:           in.opt(dict{good: []string{"64Mi", "128Mi"}, bad: []string{"1Gi", "512m", "0", "x"}}),
		PriorityClassName:      in.opt(dict{good: []string{"high", "batch-low"}, bad: []string{"Bad_PC"}}),
		TerminationGracePeriod: in.duration(),
	}
	w.Mounts = mounts(in, stores)
	if in.chance(3) {
		w.Security = security(in)
	}
	if in.chance(2) {
		w.Accelerators = accelerators(in)
	}
	if in.chance(2) {
		w.Metrics = &sc.Metrics{Path: in.opt(dict{good: []string{"/metrics", "/m"}, bad: []string{"metrics"}}), Interval: in.duration()}
		if served {
			w.Metrics.Port = "http"
		} else {
			w.Metrics.Port = in.opt(dict{good: []string{"metrics", "prom"}, bad: []string{"Bad_Port"}})
			w.Metrics.ContainerPort = []int32{9090, 8081}[in.n(2)]
		}
		if in.risky() {
			w.Metrics.ContainerPort = []int32{0, 70000, 9090}[in.n(3)]
		}
	}
	w.Egress = list(in, 2, func() sc.EgressRule { return egress(in) })
	w.NotSecrets = notSecretsList(in)
	return w
}

// envVars are up to three variables with distinct names (unless a risky
// choice repeats one).
func envVars(in *input) []sc.EnvVar {
	seen := map[string]bool{}
	return list(in, 3, func() sc.EnvVar {
		e := sc.EnvVar{Name: in.pick(envNames)}
		if seen[e.Name] && in.keep() {
			e.Name += "_2"
		}
		seen[e.Name] = true
		switch in.n(4) {
		case 0, 1:
			e.Value = in.pick(envValues)
		case 2:
			e.Secret = &sc.KeyRef{Name: in.pick(dict{good: []string{"creds"}, bad: []string{"", "Bad_Name"}}),
				Key: in.pick(dict{good: []string{"token", "a.b"}, bad: []string{"", "a/b"}}), Optional: in.bool()}
		default:
			e.ConfigMap = &sc.KeyRef{Name: "config", Key: in.pick(dict{good: []string{"k", ".dot"}, bad: []string{"", "a b"}})}
			if in.risky() {
				e.Value = "both"
			}
		}
		return e
	})
}

// mounts mounts up to two of the pipeline's storages at distinct paths,
// read-only when the storage is only ReadOnlyMany.
func mounts(in *input, stores []*sc.PipelineStorage) []sc.Mount {
	if len(stores) == 0 {
		return nil
	}
	paths := map[string]bool{}
	return list(in, 2, func() sc.Mount {
		m := sc.Mount{Storage: stores[in.n(len(stores))], Path: in.pick(mountPaths), ReadOnly: in.bool(),
			SubPath: in.opt(dict{good: []string{"a", "b/c"}, bad: []string{"../x", "/abs"}})}
		if in.chance(2) {
			m.WaitForWriters = ptr(in.bool())
		}
		if paths[m.Path] && in.keep() {
			m.Path += "-2"
		}
		paths[m.Path] = true
		return m
	})
}

func security(in *input) sc.Security {
	ids := func() int64 {
		if in.risky() {
			return []int64{-1, 0, 2147483648}[in.n(3)]
		}
		return []int64{0, 1000, 65532}[in.n(3)]
	}
	s := sc.Security{RunAsUser: ids(), RunAsGroup: ids(), FSGroup: ids(),
		WritableRootFilesystem: in.chance(1), ScratchSize: in.opt(scratchSizes), AllowPrivilegedOverride: in.chance(1)}
	switch in.n(3) {
	case 1:
		s.ScratchPaths = []string{}
	case 2:
		seen := map[string]bool{}
		s.ScratchPaths = list(in, 2, func() string {
			p := in.pick(scratchPaths)
			if seen[p] && in.keep() {
				p += "-2"
			}
			seen[p] = true
			return p
		})
	}
	return s
}

func accelerators(in *input) *sc.Accelerators {
	a := &sc.Accelerators{
		Count:            []int32{1, 2, 8}[in.n(3)],
		Resource:         in.pick(accelResources),
		RuntimeClassName: in.opt(dict{good: []string{"nvidia"}, bad: []string{"Bad_RC"}}),
	}
	if in.risky() {
		a.Count = []int32{0, -1}[in.n(2)]
	}
	if in.bool() {
		a.Product = in.pick(dict{good: []string{"NVIDIA-A100-SXM4-80GB", "MI300X"}, bad: []string{"bad value!"}})
		a.ProductLabel = in.opt(dict{good: []string{"example.com/product"}, bad: []string{"bad key"}})
		if a.ProductLabel == "" && !strings.HasPrefix(a.Resource, "amd.com/") && !strings.HasPrefix(a.Resource, "nvidia.com/") && a.Resource != "" && in.keep() {
			a.ProductLabel = "example.com/product"
		}
	}
	a.Tolerations = list(in, 2, func() sc.Toleration {
		return sc.Toleration{Key: in.pick(dict{good: []string{"nvidia.com/gpu", "dedicated"}, bad: []string{"", "bad key"}}),
			Value:  in.opt(dict{good: []string{"present", "gpu"}, bad: []string{"bad value!"}}),
			Effect: in.opt(dict{good: []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}, bad: []string{"Never"}})}
	})
	return a
}

func egress(in *input) sc.EgressRule {
	r := sc.EgressRule{CIDR: in.pick(cidrs), Protocol: in.pick(dict{good: []string{"", "TCP", "UDP"}, bad: protocols.bad}),
		Ports: list(in, 2, func() int32 { return []int32{443, 53, 5432}[in.n(3)] })}
	if in.risky() {
		r.Ports = append(r.Ports, []int32{0, 65536}[in.n(2)])
	}
	if r.CIDR == "10.20.0.0/16" && in.bool() {
		r.Except = []string{"10.20.1.0/24"}
	}
	if in.risky() {
		r.Except = append(r.Except, in.pick(cidrs))
	}
	return r
}

func probe(in *input, ports []sc.Port) *sc.Probe {
	if in.chance(5) {
		return nil
	}
	p := &sc.Probe{InitialDelay: in.duration(), Period: in.duration(), Timeout: in.duration(), FailureThreshold: []int32{0, 1, 3}[in.n(3)]}
	switch in.n(3) {
	case 0:
		p.Command = []string{"/bin/check"}
	case 1:
		p.HTTPPath = in.pick(dict{good: []string{"/healthz", "/"}, bad: []string{"healthz", "/a b"}})
	}
	if len(ports) > 0 && in.bool() {
		p.Port = ports[in.n(len(ports))].Name
	}
	if p.Command == nil && len(ports) == 0 && in.keep() {
		p.Command = []string{"/bin/check"}
	}
	if in.risky() {
		p.Port, p.FailureThreshold = "nope", -1
	}
	return p
}

// ports are up to three ports of any names, numbers and protocols.
func ports(in *input) []sc.Port {
	return list(in, 3, func() sc.Port {
		return sc.Port{Name: in.pick(portNames), ContainerPort: []int32{8080, 9000, 53, 80}[in.n(4)],
			ServicePort: []int32{0, 80, 443, 5353}[in.n(4)], Protocol: in.pick(protocols)}
	})
}

// strictPorts makes ports consistent: unique names and numbers, the first
// one "http" on TCP.
func strictPorts(ps []sc.Port) []sc.Port {
	for i := range ps {
		ps[i].Name, ps[i].ContainerPort, ps[i].ServicePort = []string{"http", "grpc", "web"}[i], int32(8080+i), 0
		if i == 0 {
			ps[i].Protocol = ""
		}
	}
	return ps
}

func processorProps(in *input, stores []*sc.PipelineStorage) sc.ProcessorStageProps {
	p := sc.ProcessorStageProps{Ports: ports(in)}
	if in.keep() {
		p.Ports = strictPorts(p.Ports)
	}
	p.Workload = workload(in, stores, len(p.Ports) > 0 && p.Ports[0].Name == "http")
	if p.Metrics != nil && len(p.Ports) == 0 && in.keep() {
		p.Metrics = nil
	}
	p.Replicas = in.optCount()
	p.Readiness, p.Liveness, p.Startup = probe(in, p.Ports), probe(in, p.Ports), probe(in, p.Ports)
	if in.chance(3) && (len(p.Ports) > 0 || in.risky()) {
		p.Ingress = &sc.Ingress{Host: in.pick(hosts), Path: in.opt(dict{good: []string{"/", "/api"}, bad: []string{"/a//b", "api"}}),
			PathType:  in.opt(dict{good: []string{"Prefix", "Exact", "ImplementationSpecific"}, bad: []string{"Regex"}}),
			ClassName: in.opt(dict{good: []string{"nginx"}, bad: []string{"Bad_Class"}}), Annotations: in.strMap(1, annKeys, annValues)}
		if p.Ingress.Host != "" {
			p.Ingress.TLSSecretName = in.opt(dict{good: []string{"tls"}, bad: []string{"Bad_TLS"}})
		}
		if len(p.Ports) > 0 && in.bool() {
			p.Ingress.Port = p.Ports[in.n(len(p.Ports))].Name
		}
	}
	if in.chance(2) {
		p.Stateful = stateful(in)
	}
	scaling(in, &p)
	if in.chance(2) {
		p.DisruptionBudget = &sc.DisruptionBudget{Disabled: in.chance(1)}
		if in.bool() {
			p.DisruptionBudget.MaxUnavailable = in.pick(budgets)
		} else if in.risky() {
			p.DisruptionBudget.MinAvailable = in.pick(budgets)
		}
	}
	if in.chance(1) {
		p.Spread = &sc.Spread{Required: in.bool(), Disabled: in.bool()}
	}
	if in.chance(1) && (p.Stateful == nil || in.risky()) {
		bounds := dict{good: []string{"0", "1", "25%"}, bad: []string{"-1", "101%", "x", "1.5"}}
		p.Rollout = &sc.Rollout{MaxSurge: in.opt(bounds), MaxUnavailable: in.opt(bounds)}
	}
	return p
}

func stateful(in *input) *sc.Stateful {
	names := []string{"state", "data", "cache"}
	i := 0
	return &sc.Stateful{ParallelStart: in.bool(), Volumes: list(in, 2, func() sc.VolumeClaim {
		v := sc.VolumeClaim{Name: names[i%3], Path: "/var/lib/" + strconv.Itoa(i), Size: in.pick(sizes),
			StorageClassName: in.opt(dict{good: []string{"gp3"}, bad: []string{"Bad_Class"}}),
			AccessModes: list(in, 1, func() string {
				return in.pick(dict{good: []string{"ReadWriteOnce", "ReadWriteOncePod"}, bad: []string{"RWX"}})
			})}
		i++
		if in.risky() {
			v.Name, v.Path = in.pick(dict{good: []string{"scratch", "storage-data", "shm", ""}}), in.pick(mountPaths)
		}
		return v
	})}
}

// scaling sets Autoscaling or EventScaling (never with Replicas, unless a
// risky choice does).
func scaling(in *input, p *sc.ProcessorStageProps) {
	kind := in.n(4)
	if kind == 0 || (p.Replicas != nil && in.keep()) {
		return
	}
	if kind == 1 {
		min := in.count()
		p.Autoscaling = &sc.Autoscaling{MinReplicas: min, MaxReplicas: min + []int32{0, 1, 5}[in.n(3)],
			CPUUtilization: []int32{0, 50, 80}[in.n(3)], MemoryUtilization: []int32{0, 70}[in.n(2)], ScaleDownStabilization: in.duration()}
		if in.risky() {
			p.Autoscaling.MinReplicas, p.Autoscaling.CPUUtilization = 5, 1001
		}
		return
	}
	p.EventScaling = &sc.EventScaling{
		MinReplicas: []int32{0, 1}[in.n(2)], MaxReplicas: []int32{1, 4, 10}[in.n(3)],
		Cooldown: in.duration(), PollingInterval: in.duration(),
		Triggers: []sc.Trigger{trigger(in)},
	}
	if kind == 3 && in.risky() {
		p.Autoscaling = &sc.Autoscaling{MaxReplicas: 3}
	}
}

// trigger is a KEDA trigger whose metadata follows its scaler's rules,
// or, as a risky choice, breaks one (a missing parameter, a zero target,
// a metric type the scaler refuses).
func trigger(in *input) sc.Trigger {
	typ := in.pick(dict{good: []string{"prometheus", "rabbitmq", "kafka"}, bad: []string{"", "Bad Type", "cpu"}})
	md := map[string]string{}
	switch typ {
	case "prometheus":
		md["serverAddress"], md["query"], md["threshold"] = "http://prom.monitoring:9090", "sum(rate(jobs_total[2m]))", in.pick(dict{good: []string{"10", "0.5"}, bad: []string{"0", "", "0.0001", "x"}})
	case "rabbitmq":
		md["queueName"], md["mode"], md["value"] = "jobs", in.pick(dict{good: []string{"QueueLength", "MessageRate"}, bad: []string{"Length", ""}}), in.pick(dict{good: []string{"20"}, bad: []string{"0", ""}})
		if md["mode"] == "MessageRate" {
			md["protocol"] = "http"
		}
	default:
		md["bootstrapServers"], md["consumerGroup"], md["topic"] = "kafka:9092", "g", "t"
		md["lagThreshold"] = in.pick(dict{good: []string{"10", "100"}, bad: []string{"0", "-1", "2.5"}})
	}
	t := sc.Trigger{Type: typ, Metadata: md,
		MetricType: in.opt(dict{good: []string{"AverageValue", "Value"}, bad: []string{"Average", "Utilization"}})}
	if typ == "rabbitmq" || in.risky() {
		t.Secrets = []sc.TriggerSecret{{Parameter: "host", Secret: in.pick(dict{good: []string{"creds"}, bad: []string{"Bad_S"}}), Key: "k"}}
	}
	return t
}

// jobSettings are consistent (unless a risky choice leaves them as drawn):
// Completions with Indexed, per-index retries only when Indexed and without
// BackoffLimit, MaxFailedIndexes only with them and at most Completions.
func jobSettings(in *input) sc.JobSettings {
	j := sc.JobSettings{
		BackoffLimit: in.optCount(), ActiveDeadline: in.duration(), TTLAfterFinished: in.duration(),
		Parallelism: in.optCount(), Completions: in.optCount(), Indexed: in.chance(3),
		CountDisruptions: in.chance(1), Queue: in.opt(dict{good: []string{"gpu-batch", "default"}, bad: []string{"Bad_Queue"}}),
	}
	seen := map[int32]bool{}
	for _, c := range list(in, 2, func() int32 { return []int32{1, 2, 42, 137}[in.n(4)] }) {
		if !seen[c] || in.risky() {
			j.FailFastExitCodes = append(j.FailFastExitCodes, c)
		}
		seen[c] = true
	}
	if in.risky() {
		j.FailFastExitCodes = append(j.FailFastExitCodes, []int32{0, 256, -1}[in.n(3)])
	}
	if j.Indexed && in.bool() {
		j.BackoffLimitPerIndex, j.MaxFailedIndexes = in.optCount(), in.optCount()
	}
	if in.risky() {
		return j
	}
	if j.Indexed {
		if j.Completions == nil {
			j.Completions = j.Parallelism
		}
		if j.Completions == nil {
			j.Completions = &counts[2]
		}
		if j.Parallelism != nil && *j.Parallelism > *j.Completions {
			j.Parallelism = j.Completions
		}
	}
	if j.BackoffLimitPerIndex != nil {
		j.BackoffLimit = nil
	} else {
		j.MaxFailedIndexes = nil
	}
	if j.MaxFailedIndexes != nil && *j.MaxFailedIndexes > *j.Completions {
		j.MaxFailedIndexes = j.Completions
	}
	return j
}

func scheduledProps(in *input, stores []*sc.PipelineStorage) sc.ScheduledStageProps {
	return sc.ScheduledStageProps{
		Workload: workload(in, stores, false), JobSettings: jobSettings(in),
		Schedule: in.pick(cronSpecs), TimeZone: in.pick(zones),
		ConcurrencyPolicy:          in.opt(dict{good: []string{"Allow", "Forbid", "Replace"}, bad: []string{"Queue"}}),
		StartingDeadline:           in.duration(),
		SuccessfulJobsHistoryLimit: in.optCount(), FailedJobsHistoryLimit: in.optCount(),
		Suspend: in.chance(1),
	}
}

// notSecretsList is, as a risky choice, a NotSecrets list of one path:
// stagecraft refuses one that names no literal prop.
func notSecretsList(in *input) []string {
	if !in.risky() {
		return nil
	}
	return []string{in.pick(notSecrets)}
}

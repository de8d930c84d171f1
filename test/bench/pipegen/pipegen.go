// Package pipegen builds the synthetic pipeline of stagecraft's synth
// benchmark: n stages in one pipeline, with deterministic names and wiring.
//
// Stage i (0 <= i < n) is, by i mod 3:
//
//   - 0: a ProcessorStage "proc-NNNN" with a port, an Ingress and an
//     autoscaler (MinReplicas 2, so it also gets a PodDisruptionBudget);
//     every other processor from the second on calls the processor three
//     stages before it.
//   - 1: a BatchStage "batch-NNNN" that calls processor i-1; every other
//     one is an Indexed job with 4 shards, 2 at a time.
//   - 2: a ScheduledStage "sched-NNNN" that calls processor i-2, runs
//     after batch i-1 when i mod 6 == 5, and may reach HTTPS outside the
//     cluster.
//
// The stages are grouped by tens, one PipelineStorage "data-GGG" per group:
// the group's first batch stage writes it, and the even-numbered stages
// after it in the group read it. Those readers wait (init container,
// service account, Role, RoleBinding) for the writer's Job. Every ordering
// edge points from a lower to a higher index, so there is no cycle.
package pipegen

import (
	"fmt"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"k8s.io/utils/ptr"
)

// Namespace is the benchmark pipeline's namespace and construct id.
const Namespace = "bench"

// Define adds the benchmark pipeline with n stages to scope, normally a
// cdk8s Chart.
func Define(scope constructs.Construct, n int) *stagecraft.Pipeline {
	p := stagecraft.NewPipeline(scope, Namespace, stagecraft.PipelineProps{
		Labels: map[string]string{"team": "bench"},
		// A documentation address (RFC 5737) for the API server the waits reach.
		Network: stagecraft.Network{APIServerCIDRs: []string{"192.0.2.10/32"}},
		Defaults: stagecraft.Defaults{
			Resources: stagecraft.Resources{CPURequest: "250m", MemoryRequest: "512Mi", MemoryLimit: "512Mi"},
		},
	})
	https := []stagecraft.EgressRule{{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}, Ports: []int32{443}}}

	stages := make([]stagecraft.Stage, n)
	var storage *stagecraft.PipelineStorage
	writer := -1 // index of the current group's writer
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			storage = stagecraft.NewPipelineStorage(p, fmt.Sprintf("data-%03d", i/10), stagecraft.PipelineStorageProps{
				Size:             "10Gi",
				StorageClassName: "shared-files",
			})
			writer = -1
		}
		var mounts []stagecraft.Mount
		switch {
		case i%3 == 1 && writer < 0:
			writer = i
			mounts = []stagecraft.Mount{{Storage: storage, Path: "/data"}}
		case writer >= 0 && i%2 == 0:
			mounts = []stagecraft.Mount{{Storage: storage, Path: "/data", ReadOnly: true}}
		}
		w := stagecraft.Workload{
			Image:  fmt.Sprintf("ghcr.io/acme/bench-%d:1.%d.0", i%3, i%7),
			Args:   []string{"--stage", fmt.Sprint(i), "--data", "/data"},
			Env:    []stagecraft.EnvVar{stagecraft.Env("STAGE_INDEX", fmt.Sprint(i)), stagecraft.EnvFromSecret("API_TOKEN", "bench-token", "token")},
			Mounts: mounts,
		}
		switch i % 3 {
		case 0:
			name := fmt.Sprintf("proc-%04d", i)
			s := stagecraft.NewProcessorStage(p, name, stagecraft.ProcessorStageProps{
				Workload:    w,
				Ports:       []stagecraft.Port{{Name: "http", ContainerPort: 8080, ServicePort: 80}},
				Readiness:   &stagecraft.Probe{HTTPPath: "/ready"},
				Autoscaling: &stagecraft.Autoscaling{MinReplicas: 2, MaxReplicas: 10, CPUUtilization: 70},
				Ingress:     &stagecraft.Ingress{Host: name + ".bench.example.com", ClassName: "nginx"},
			})
			if i >= 3 && (i/3)%2 == 1 {
				s.Calls(stages[i-3].(*stagecraft.ProcessorStage))
			}
			stages[i] = s
		case 1:
			j := stagecraft.JobSettings{ActiveDeadline: time.Hour}
			if (i/3)%2 == 1 {
				j.Indexed, j.Completions, j.Parallelism = true, ptr.To[int32](4), ptr.To[int32](2)
			}
			s := stagecraft.NewBatchStage(p, fmt.Sprintf("batch-%04d", i), stagecraft.BatchStageProps{Workload: w, JobSettings: j})
			s.Calls(stages[i-1].(*stagecraft.ProcessorStage))
			stages[i] = s
		case 2:
			w.Egress = https
			s := stagecraft.NewScheduledStage(p, fmt.Sprintf("sched-%04d", i), stagecraft.ScheduledStageProps{
				Workload:    w,
				JobSettings: stagecraft.JobSettings{ActiveDeadline: 2 * time.Hour},
				Schedule:    fmt.Sprintf("%d %d * * *", i%60, i%24),
			})
			s.Calls(stages[i-2].(*stagecraft.ProcessorStage))
			if i%6 == 5 {
				s.RunsAfter(stages[i-1])
			}
			stages[i] = s
		}
	}
	return p
}

package stagecraft_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// events declares a stage for each custom resource stagecraft writes: a
// KEDA ScaledObject (with a TriggerAuthentication), a ServiceMonitor and a
// PodMonitor.
func events(chart cdk8s.Chart) {
	p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: stagecraft.Network{MonitoringNamespace: "observability"}})
	stagecraft.NewProcessorStage(p, "worker", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image, Accelerators: &stagecraft.Accelerators{Count: 1}, Metrics: &stagecraft.Metrics{Port: "http", Interval: time.Minute}},
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
		EventScaling: &stagecraft.EventScaling{
			MaxReplicas: 8, Cooldown: 15 * time.Minute, PollingInterval: 10 * time.Second,
			Triggers: []stagecraft.Trigger{
				{Type: "rabbitmq", Metadata: map[string]string{"queueName": "jobs", "mode": "QueueLength", "value": "20"},
					Secrets: []stagecraft.TriggerSecret{{Parameter: "host", Secret: "rabbitmq", Key: "amqp-url"}}},
				{Type: "cpu", Metadata: map[string]string{"value": "80"}, MetricType: "Utilization"},
			},
		},
	})
	stagecraft.NewBatchStage(p, "train", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{Image: image, Metrics: &stagecraft.Metrics{ContainerPort: 9100, Path: "/stats"}},
	})
	stagecraft.NewScheduledStage(p, "report", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{Image: image, Metrics: &stagecraft.Metrics{Port: "prom", ContainerPort: 9090}},
		Schedule: "@hourly",
	})
}

func TestGoldenEventScalingAndMetrics(t *testing.T) {
	t.Parallel()
	m := stagetest.SynthChart(t, "golden", events)
	m.Golden(t, "events")
	m.AssertRestricted(t)
	// Scale to zero: the Deployment leaves the replica count to KEDA, and
	// no disruption budget blocks scaling in.
	dep := m.Find(t, "Deployment", "demo", "worker")
	if _, err := stagetest.Lookup(dep.Object, "spec.replicas"); err == nil {
		t.Errorf("the Deployment sets replicas; KEDA owns them")
	}
	// A budget of one pod at a time: it never blocks a drain, at zero or
	// one pod, and keeps a drain from evicting every pod at once.
	pdb := m.Find(t, "PodDisruptionBudget", "demo", "worker")
	if got := m.Get(t, pdb, "spec.maxUnavailable"); got != int64(1) {
		t.Errorf("maxUnavailable = %v, want 1", got)
	}
	if len(m.Objects("HorizontalPodAutoscaler")) != 0 {
		t.Errorf("stagecraft wrote an HPA besides KEDA's")
	}
	so := m.Find(t, "ScaledObject", "demo", "worker")
	if got := m.Get(t, so, "spec.minReplicaCount"); got != int64(0) {
		t.Errorf("minReplicaCount = %v, want 0", got)
	}
	ta := m.Find(t, "TriggerAuthentication", "demo", "worker-0")
	if got := m.Get(t, ta, "spec.secretTargetRef[0].name"); got != "rabbitmq" {
		t.Errorf("secretTargetRef name = %v", got)
	}
	// Prometheus may reach the metrics ports.
	np := m.Find(t, "NetworkPolicy", "demo", "train")
	if got := m.Get(t, np, `spec.ingress[0].from[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"]`); got != "observability" {
		t.Errorf("train's metrics are reachable from %v", got)
	}
}

func TestEventScalingAndMetricsValidation(t *testing.T) {
	t.Parallel()
	worker := func(props stagecraft.ProcessorStageProps) func(p *stagecraft.Pipeline) {
		return func(p *stagecraft.Pipeline) {
			props.Image = image
			if props.Ports == nil {
				props.Ports = []stagecraft.Port{{Name: "http", ContainerPort: 8080}}
			}
			stagecraft.NewProcessorStage(p, "s", props)
		}
	}
	queue := []stagecraft.Trigger{{Type: "rabbitmq", Metadata: map[string]string{"queueName": "q", "hostFromEnv": "RABBITMQ_URL"}}}
	cases := []struct {
		name, field string
		typ         field.ErrorType
		define      func(p *stagecraft.Pipeline)
	}{
		{"both autoscalers", "EventScaling", field.ErrorTypeForbidden, worker(stagecraft.ProcessorStageProps{
			Autoscaling: &stagecraft.Autoscaling{MaxReplicas: 3}, EventScaling: &stagecraft.EventScaling{MaxReplicas: 3, Triggers: queue}})},
		{"event scaling and replicas", "Replicas", field.ErrorTypeForbidden, worker(stagecraft.ProcessorStageProps{
			Replicas: ptr.To[int32](2), EventScaling: &stagecraft.EventScaling{MaxReplicas: 3, Triggers: queue}})},
		{"trigger without metadata", "EventScaling.Triggers[0].Metadata", field.ErrorTypeRequired, worker(stagecraft.ProcessorStageProps{
			EventScaling: &stagecraft.EventScaling{MaxReplicas: 3, Triggers: []stagecraft.Trigger{{Type: "prometheus"}}}})},
		{"no triggers", "EventScaling.Triggers", field.ErrorTypeRequired, worker(stagecraft.ProcessorStageProps{
			EventScaling: &stagecraft.EventScaling{MaxReplicas: 3}})},
		{"trigger without type", "EventScaling.Triggers[0].Type", field.ErrorTypeRequired, worker(stagecraft.ProcessorStageProps{
			EventScaling: &stagecraft.EventScaling{MaxReplicas: 3, Triggers: []stagecraft.Trigger{{Metadata: map[string]string{"a": "b"}}}}})},
		{"trigger secret without key", "EventScaling.Triggers[0].Secrets[0].Key", field.ErrorTypeRequired, worker(stagecraft.ProcessorStageProps{
			EventScaling: &stagecraft.EventScaling{MaxReplicas: 3, Triggers: []stagecraft.Trigger{{Type: "kafka", Metadata: map[string]string{"topic": "t", "bootstrapServers": "kafka:9092", "consumerGroup": "g"},
				Secrets: []stagecraft.TriggerSecret{{Parameter: "sasl", Secret: "kafka"}}}}}})},
		{"bad metric type", "EventScaling.Triggers[0].MetricType", field.ErrorTypeNotSupported, worker(stagecraft.ProcessorStageProps{
			EventScaling: &stagecraft.EventScaling{MinReplicas: 1, MaxReplicas: 3, Triggers: []stagecraft.Trigger{{Type: "cpu", Metadata: map[string]string{"value": "1"}, MetricType: "Average"}}}})},
		{"event scaling minimum above maximum", "EventScaling.MinReplicas", field.ErrorTypeInvalid, worker(stagecraft.ProcessorStageProps{
			EventScaling: &stagecraft.EventScaling{MinReplicas: 3, MaxReplicas: 2, Triggers: queue}})},
		{"metrics port the container does not expose", "Metrics.Port", field.ErrorTypeNotSupported, worker(stagecraft.ProcessorStageProps{
			Workload: stagecraft.Workload{Metrics: &stagecraft.Metrics{Port: "prom"}}})},
		{"metrics container port on a processor", "Metrics.ContainerPort", field.ErrorTypeForbidden, worker(stagecraft.ProcessorStageProps{
			Workload: stagecraft.Workload{Metrics: &stagecraft.Metrics{Port: "http", ContainerPort: 9090}}})},
		{"batch metrics without a port number", "Metrics.ContainerPort", field.ErrorTypeRequired, func(p *stagecraft.Pipeline) {
			stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image, Metrics: &stagecraft.Metrics{}}})
		}},
		{"metrics interval below a second", "Metrics.Interval", field.ErrorTypeInvalid, func(p *stagecraft.Pipeline) {
			stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image, Metrics: &stagecraft.Metrics{ContainerPort: 9100, Interval: time.Millisecond}}})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			stagetest.Do(func() {
				app := cdk8s.NewApp(nil)
				c.define(stagecraft.NewPipeline(cdk8s.NewChart(app, jsii.String("c"), nil), "p", stagecraft.PipelineProps{Network: testAPI}))
				err = stagecraft.Validate(app)
			})
			var verr *stagecraft.ValidationError
			if !errors.As(err, &verr) || len(verr.Problems) != 1 {
				t.Fatalf("want exactly one problem, got %v", err)
			}
			if pr := verr.Problems[0]; pr.Field != c.field || pr.Type != c.typ || pr.Detail == "" {
				t.Errorf("got %s; want field %s, type %s, with a detail", pr, c.field, c.typ)
			}
		})
	}
}

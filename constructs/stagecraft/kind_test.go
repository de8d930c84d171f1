package stagecraft

// A new kind of stage, defined here in a test file and nowhere else: a
// stream consumer, a Deployment without a Service that KEDA scales on the
// length of a queue. It proves that the Stage interface is the only seam a
// kind needs: wiring (Calls, RunsAfter), waits for upstream Jobs, network
// policies, monitors, sync waves, the diagram and validation all work
// for it without a change to any other file.

import (
	"strings"
	"testing"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// streamStageProps configures a streamStage.
type streamStageProps struct {
	Workload
	// Scaling is required: a consumer runs while its queue has messages.
	Scaling EventScaling
}

// streamStage is a queue consumer scaled by KEDA.
type streamStage struct {
	constructs.Construct
	stage
	props   streamStageProps
	scaling *eventScalingSpec
}

var _ Stage = (*streamStage)(nil)

func newStreamStage(scope constructs.Construct, id string, props streamStageProps) *streamStage {
	s := &streamStage{props: props}
	cid := s.join(s, scope, id, "stream", 63, props.Labels)
	s.work = resolveWorkload(s.name, props.Workload, s.defaults())
	s.scaling = resolveEventScaling(&props.Scaling)
	s.ports = metricsPorts(s.work.metrics)
	s.maxPods = int64(s.scaling.max)
	constructs.NewConstruct_Override(s, scope, &cid)
	return s
}

func (s *streamStage) validate() field.ErrorList {
	errs := validateWorkload(s.pipeline, s.work)
	errs = append(errs, validateEventScaling(&s.props.Scaling, false, nil)...)
	return append(errs, validateMetrics(s.work, nil, false)...)
}

func (s *streamStage) objects(r *rendering) []runtime.Object {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: s.meta(),
		Spec: appsv1.DeploymentSpec{
			Selector: s.selector(),
			Template: podTemplate(r, &s.stage, podOptions{}),
		},
	}
	return append([]runtime.Object{d}, scaledObjects(&s.member, scaleTarget{kind: "Deployment", name: s.name}, s.scaling)...)
}

func (s *streamStage) shape(r *rendering) (open, close, text string) {
	return "{{", "}}", "Deployment · KEDA consumer"
}

func TestNewStageKind(t *testing.T) {
	app := cdk8s.NewApp(nil)
	p := NewPipeline(cdk8s.NewChart(app, jsii.String("c"), nil), "media", PipelineProps{Network: testAPI})
	fill := NewBatchStage(p, "fill", BatchStageProps{Workload: Workload{Image: "ghcr.io/acme/fill:1.0.0"}})
	model := NewProcessorStage(p, "model", ProcessorStageProps{
		Workload: Workload{Image: "ghcr.io/acme/model:1.0.0"},
		Ports:    []Port{{Name: "http", ContainerPort: 8080}},
	})
	consumer := newStreamStage(p, "transcribe", streamStageProps{
		Workload: Workload{Image: "ghcr.io/acme/transcribe:1.0.0", Metrics: &Metrics{ContainerPort: 9090}},
		Scaling:  EventScaling{MaxReplicas: 4, Triggers: []Trigger{{Type: "rabbitmq", Metadata: map[string]string{"queueName": "media", "hostFromEnv": "RABBITMQ_URL"}}}},
	})
	consumer.Calls(model)
	consumer.RunsAfter(fill)

	s, err := Synthesize(app)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]any{}
	var order []string
	for _, o := range s.Manifests[0].Objects {
		var m map[string]any
		if err := yaml.Unmarshal(o.YAML, &m); err != nil {
			t.Fatal(err)
		}
		objs[o.Kind+"/"+o.Name] = m
		order = append(order, o.Kind+"/"+o.Name)
	}
	for _, want := range []string{"Deployment/transcribe", "ScaledObject/transcribe", "PodMonitor/transcribe",
		"NetworkPolicy/transcribe", "Role/transcribe-wait", "ServiceAccount/transcribe"} {
		if objs[want] == nil {
			t.Errorf("no %s among %v", want, order)
		}
	}
	text := string(mustYAML(t, objs["Deployment/transcribe"]))
	for _, want := range []string{"MODEL_ENDPOINT", "model.media.svc:8080", "wait-upstream", "--upstream=fill-",
		"argocd.argoproj.io/sync-wave: \"1\"", "readOnlyRootFilesystem: true"} {
		if !strings.Contains(text, want) {
			t.Errorf("the consumer's Deployment lacks %q:\n%s", want, text)
		}
	}
	policy := string(mustYAML(t, objs["NetworkPolicy/transcribe"]))
	for _, want := range []string{"app.kubernetes.io/name: model", "port: http", "port: metrics", "192.0.2.10/32"} {
		if !strings.Contains(policy, want) {
			t.Errorf("the consumer's NetworkPolicy lacks %q:\n%s", want, policy)
		}
	}
	for _, want := range []string{`media_s_transcribe{{"transcribe<br/>Deployment · KEDA consumer"}}`,
		`media_s_transcribe -- "calls :8080 http" --> media_s_model`, `media_s_fill == "runs before" ==> media_s_transcribe`} {
		if !strings.Contains(s.Diagram, want) {
			t.Errorf("the diagram lacks %q:\n%s", want, s.Diagram)
		}
	}

	bad := cdk8s.NewApp(nil)
	bp := NewPipeline(cdk8s.NewChart(bad, jsii.String("c"), nil), "media", PipelineProps{Network: testAPI})
	newStreamStage(bp, "transcribe", streamStageProps{Workload: Workload{Image: "ghcr.io/acme/transcribe"}})
	var verr *ValidationError
	if err := Validate(bad); !asValidation(err, &verr) {
		t.Fatalf("Validate = %v", err)
	}
	want := field.ErrorList{
		field.Invalid(field.NewPath("Image"), "", ""),
		field.Invalid(field.NewPath("EventScaling", "MaxReplicas"), "", ""),
		field.Required(field.NewPath("EventScaling", "Triggers"), ""),
	}
	field.ErrorMatcher{}.ByType().ByField().Test(t, want, verr.For("c/media/transcribe"))
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func asValidation(err error, verr **ValidationError) bool {
	v, ok := err.(*ValidationError)
	*verr = v
	return ok
}

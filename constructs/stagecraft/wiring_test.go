package stagecraft_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// wired declares a small pipeline with every kind of edge: a job that
// fills storage, a processor that reads it (an inferred edge: it comes
// after the job, but does not wait for it at run time), a declared
// RunsAfter (a wait), calls, and an egress allow-list.
func wired(chart cdk8s.Chart) {
	p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{
		Network: stagecraft.Network{IngressControllerNamespace: "ingress", APIServerCIDRs: []string{"10.0.0.1/32"}, APIServerPorts: []int32{6443}},
	})
	cache := stagecraft.NewPipelineStorage(p, "cache", stagecraft.PipelineStorageProps{Size: "10Gi"})
	fill := stagecraft.NewBatchStage(p, "fill", stagecraft.BatchStageProps{Workload: stagecraft.Workload{
		Image: image, Mounts: []stagecraft.Mount{{Storage: cache, Path: "/cache"}},
		Egress: []stagecraft.EgressRule{{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}, Ports: []int32{443}}},
	}})
	model := stagecraft.NewProcessorStage(p, "model", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image, Mounts: []stagecraft.Mount{{Storage: cache, Path: "/cache", ReadOnly: true}}},
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8080}, {Name: "grpc", ContainerPort: 9090}},
	})
	api := stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image, ServiceAccountName: "api-runner"},
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8000, ServicePort: 80}},
		Ingress:  &stagecraft.Ingress{Host: "api.example.com"},
	})
	report := stagecraft.NewScheduledStage(p, "report", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{Image: image}, Schedule: "@hourly",
	})
	// A processor with no callers and no calls: default deny covers it.
	stagecraft.NewProcessorStage(p, "idle", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image},
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
	})
	api.Calls(model)
	api.Calls(model, "grpc")
	api.RunsAfter(fill)
	report.Calls(api)
}

func TestGoldenWiring(t *testing.T) {
	t.Parallel()
	m := stagetest.SynthChart(t, "golden", wired)
	m.Golden(t, "wiring")
	m.AssertRestricted(t)

	// The order: what a stage depends on comes first, in the file and in
	// the sync waves.
	var names []string
	for _, o := range m.Objects("") {
		if o.GetKind() == "Job" || o.GetKind() == "Deployment" || o.GetKind() == "CronJob" {
			names = append(names, o.GetLabels()["app.kubernetes.io/name"]+"@"+o.GetAnnotations()["argocd.argoproj.io/sync-wave"])
		}
	}
	if got := strings.Join(names, " "); got != "fill@0 report@0 idle@0 model@1 api@1" {
		t.Errorf("workloads in order with their waves: %s", got)
	}

	// Discovery variables.
	api := m.Find(t, "Deployment", "demo", "api")
	env := m.Get(t, api, "spec.template.spec.containers[0].env")
	for _, want := range []string{"MODEL_ENDPOINT model.demo.svc:8080", "MODEL_GRPC_ENDPOINT model.demo.svc:9090"} {
		name, value, _ := strings.Cut(want, " ")
		if !hasEnv(env, name, value) {
			t.Errorf("api lacks %s=%s: %v", name, value, env)
		}
	}
	// The wait runs as the stage's own account; only the init container
	// holds a token.
	if got := m.Get(t, api, "spec.template.spec.serviceAccountName"); got != "api-runner" {
		t.Errorf("serviceAccountName = %v", got)
	}
	if got := m.Get(t, api, "spec.template.spec.automountServiceAccountToken"); got != false {
		t.Errorf("automountServiceAccountToken = %v", got)
	}
	if got := m.Get(t, api, "spec.template.spec.initContainers[0].args"); !strings.Contains(strings.Join(toStrings(got), " "), "--upstream=fill-") {
		t.Errorf("init container args = %v", got)
	}
	binding := m.Find(t, "RoleBinding", "demo", "api-wait")
	if got := m.Get(t, binding, "subjects[0].name"); got != "api-runner" {
		t.Errorf("RoleBinding subject = %v", got)
	}
	role := m.Find(t, "Role", "demo", "api-wait")
	if got := toStrings(m.Get(t, role, "rules[0].verbs")); strings.Join(got, ",") != "get" {
		t.Errorf("Role verbs = %v", got)
	}
}

// TestStageWithoutCallersReceivesNoIngress checks that only declared
// traffic is allowed: a stage nobody calls has no policy allowing ingress,
// so the namespace's default deny applies to it.
func TestStageWithoutCallersReceivesNoIngress(t *testing.T) {
	t.Parallel()
	m := stagetest.SynthChart(t, "golden", wired)
	deny := m.Find(t, "NetworkPolicy", "demo", "default-deny")
	if got := m.Get(t, deny, "spec.podSelector"); len(got.(map[string]any)) != 0 {
		t.Errorf("default-deny selects %v, want every pod", got)
	}
	for _, np := range m.Objects("NetworkPolicy") {
		sel, _ := stagetest.Lookup(np.Object, `spec.podSelector.matchLabels["app.kubernetes.io/name"]`)
		ingress, _ := stagetest.Lookup(np.Object, "spec.ingress")
		switch sel {
		case "idle", "fill", "report":
			if ingress != nil {
				t.Errorf("%s allows ingress to %s: %v", np.GetName(), sel, ingress)
			}
		}
	}
	// The model receives only the api's calls, on the called ports.
	model := m.Find(t, "NetworkPolicy", "demo", "model")
	from := m.Get(t, model, `spec.ingress[0].from[0].podSelector.matchLabels["app.kubernetes.io/name"]`)
	if from != "api" {
		t.Errorf("model's ingress comes from %v, want api", from)
	}
	if n := len(m.Get(t, model, "spec.ingress").([]any)); n != 2 {
		t.Errorf("model has %d ingress rules, want 2 (http and grpc)", n)
	}
}

func TestCycleNamesItsStages(t *testing.T) {
	t.Parallel()
	var err error
	stagetest.Do(func() {
		app := cdk8s.NewApp(nil)
		p := stagecraft.NewPipeline(cdk8s.NewChart(app, jsii.String("c"), nil), "p", stagecraft.PipelineProps{Network: testAPI})
		a := stagecraft.NewBatchStage(p, "extract", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
		b := stagecraft.NewBatchStage(p, "transform", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
		c := stagecraft.NewBatchStage(p, "load", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
		b.RunsAfter(a)
		c.RunsAfter(b)
		a.RunsAfter(c)
		err = stagecraft.Validate(app)
	})
	var verr *stagecraft.ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 1 {
		t.Fatalf("want one problem, got %v", err)
	}
	if got := verr.Problems[0].String(); !strings.Contains(got, `"extract -> transform -> load -> extract"`) || !strings.Contains(got, "cycle") {
		t.Errorf("got %s", got)
	}
}

func TestCycleThroughStorage(t *testing.T) {
	t.Parallel()
	var err error
	stagetest.Do(func() {
		app := cdk8s.NewApp(nil)
		p := stagecraft.NewPipeline(cdk8s.NewChart(app, jsii.String("c"), nil), "p", stagecraft.PipelineProps{Network: testAPI})
		raw := stagecraft.NewPipelineStorage(p, "raw", stagecraft.PipelineStorageProps{Size: "1Gi"})
		clean := stagecraft.NewPipelineStorage(p, "clean", stagecraft.PipelineStorageProps{Size: "1Gi"})
		stagecraft.NewBatchStage(p, "a", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image, Mounts: []stagecraft.Mount{
			{Storage: raw, Path: "/raw"}, {Storage: clean, Path: "/clean", ReadOnly: true}}}})
		stagecraft.NewBatchStage(p, "b", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image, Mounts: []stagecraft.Mount{
			{Storage: clean, Path: "/clean"}, {Storage: raw, Path: "/raw", ReadOnly: true}}}})
		err = stagecraft.Validate(app)
	})
	if err == nil || !strings.Contains(err.Error(), `"a -> b -> a"`) {
		t.Errorf("want a cycle a -> b -> a, got %v", err)
	}
}

func TestWiringValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, field string
		typ         field.ErrorType
		define      func(p, other *stagecraft.Pipeline)
	}{
		{"call to another pipeline", "Calls[0]", field.ErrorTypeInvalid, func(p, other *stagecraft.Pipeline) {
			s := stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
			s.Calls(stagecraft.NewProcessorStage(other, "x", stagecraft.ProcessorStageProps{Workload: stagecraft.Workload{Image: image}, Ports: []stagecraft.Port{{Name: "http", ContainerPort: 80}}}))
		}},
		{"call to self", "Calls[0]", field.ErrorTypeInvalid, func(p, _ *stagecraft.Pipeline) {
			s := stagecraft.NewProcessorStage(p, "s", stagecraft.ProcessorStageProps{Workload: stagecraft.Workload{Image: image}, Ports: []stagecraft.Port{{Name: "http", ContainerPort: 80}}})
			s.Calls(s)
		}},
		{"call to a stage without ports", "Calls[0]", field.ErrorTypeInvalid, func(p, _ *stagecraft.Pipeline) {
			s := stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
			s.Calls(stagecraft.NewProcessorStage(p, "x", stagecraft.ProcessorStageProps{Workload: stagecraft.Workload{Image: image}}))
		}},
		{"call to an unknown port", "Calls[0]", field.ErrorTypeNotSupported, func(p, _ *stagecraft.Pipeline) {
			s := stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
			s.Calls(stagecraft.NewProcessorStage(p, "x", stagecraft.ProcessorStageProps{Workload: stagecraft.Workload{Image: image}, Ports: []stagecraft.Port{{Name: "http", ContainerPort: 80}}}), "grpc")
		}},
		{"call to nil", "Calls[0]", field.ErrorTypeRequired, func(p, _ *stagecraft.Pipeline) {
			stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}}).Calls(nil)
		}},
		{"runs after itself", "RunsAfter[0]", field.ErrorTypeInvalid, func(p, _ *stagecraft.Pipeline) {
			s := stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
			s.RunsAfter(s)
		}},
		{"runs after a stage of another pipeline", "RunsAfter[0]", field.ErrorTypeInvalid, func(p, other *stagecraft.Pipeline) {
			s := stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
			s.RunsAfter(stagecraft.NewBatchStage(other, "x", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}}))
		}},
		{"discovery variable clashes with Env", "Env", field.ErrorTypeDuplicate, func(p, _ *stagecraft.Pipeline) {
			s := stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image, Env: []stagecraft.EnvVar{stagecraft.Env("X_ENDPOINT", "mine")}}})
			s.Calls(stagecraft.NewProcessorStage(p, "x", stagecraft.ProcessorStageProps{Workload: stagecraft.Workload{Image: image}, Ports: []stagecraft.Port{{Name: "http", ContainerPort: 80}}}))
		}},
		{"egress with a bad CIDR", "Egress[0].CIDR", field.ErrorTypeInvalid, func(p, _ *stagecraft.Pipeline) {
			stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image, Egress: []stagecraft.EgressRule{{CIDR: "10.0.0.0"}}}})
		}},
		{"egress exception outside its range", "Egress[0].Except[0]", field.ErrorTypeInvalid, func(p, _ *stagecraft.Pipeline) {
			stagecraft.NewBatchStage(p, "s", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image, Egress: []stagecraft.EgressRule{{CIDR: "10.0.0.0/8", Except: []string{"192.168.0.0/16"}}}}})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			stagetest.Do(func() {
				app := cdk8s.NewApp(nil)
				chart := cdk8s.NewChart(app, jsii.String("c"), nil)
				c.define(stagecraft.NewPipeline(chart, "p", stagecraft.PipelineProps{Network: testAPI}), stagecraft.NewPipeline(chart, "other", stagecraft.PipelineProps{Network: testAPI}))
				err = stagecraft.Validate(app)
			})
			var verr *stagecraft.ValidationError
			if !errors.As(err, &verr) || len(verr.Problems) != 1 {
				t.Fatalf("want exactly one problem, got %v", err)
			}
			pr := verr.Problems[0]
			if pr.Field != c.field || pr.Type != c.typ || pr.Detail == "" || !strings.HasPrefix(pr.Construct, "c/p/") {
				t.Errorf("got %s; want field %s, type %s, with a detail", pr, c.field, c.typ)
			}
		})
	}
}

func hasEnv(env any, name, value string) bool {
	list, _ := env.([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m["name"] == name && m["value"] == value {
			return true
		}
	}
	return false
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, len(list))
	for i, x := range list {
		out[i], _ = x.(string)
	}
	return out
}

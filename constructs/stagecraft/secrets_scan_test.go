package stagecraft

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/internal/yamlout"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
)

// ssRow is a secret in a field that no prop check reads, found in the
// rendered objects: build declares it in chart "test" (pipeline "p",
// construct "s"); construct, object and field are the problem's, or field
// is "" when the value is no secret and synth must pass. secret is the
// text the problem must not repeat.
type ssRow struct {
	name                     string
	build                    func(app cdk8s.App)
	construct, object, field string
	secret                   string
}

// ssPipeline is pipeline "p" in chart "test" with chart labels.
func ssPipeline(app cdk8s.App, chartLabels map[string]string, props PipelineProps) *Pipeline {
	var cp *cdk8s.ChartProps
	if chartLabels != nil {
		l := map[string]*string{}
		for k, v := range chartLabels {
			l[k] = jsii.String(v)
		}
		cp = &cdk8s.ChartProps{Labels: &l}
	}
	return NewPipeline(cdk8s.NewChart(app, jsii.String("test"), cp), "p", props)
}

// ssProcessor is a ProcessorStage "s" with a port, changed by mod.
func ssProcessor(mod func(p *ProcessorStageProps)) func(app cdk8s.App) {
	return func(app cdk8s.App) {
		props := ProcessorStageProps{Workload: Workload{Image: muImage}, Ports: []Port{{Name: "http", ContainerPort: 8080}}}
		mod(&props)
		NewProcessorStage(ssPipeline(app, nil, PipelineProps{}), "s", props)
	}
}

// ssStorage is existing storage "s".
func ssStorage(e ExistingVolume) func(app cdk8s.App) {
	return func(app cdk8s.App) {
		NewPipelineStorage(ssPipeline(app, nil, PipelineProps{}), "s", PipelineStorageProps{Size: "1Gi", Existing: &e})
	}
}

// ssBatchOverride is a BatchStage "s" whose Job an override changes.
func ssBatchOverride(w Workload, ov func(obj runtime.Object)) func(app cdk8s.App) {
	return func(app cdk8s.App) {
		w.Image = muImage
		s := NewBatchStage(ssPipeline(app, nil, PipelineProps{}), "s", BatchStageProps{Workload: w})
		if ov != nil {
			s.Override(ov)
		}
	}
}

const (
	ssDeployment = "Deployment p/s"
	ssContainer  = "spec.template.spec.containers[0]"
	ssPW         = "hunter2xyz"
	ssAzureKey   = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A="
)

var ssRows = []ssRow{
	{"token in an HTTP probe's path", ssProcessor(func(p *ProcessorStageProps) {
		p.Liveness = &Probe{HTTPPath: "/healthz?api_key=q8Zr2LmX0vB7nK4sT1wY9pQ3"}
	}), "test/p/s", ssDeployment, ssContainer + ".livenessProbe.httpGet.path", "q8Zr2LmX0vB7nK4sT1wY9pQ3"},
	{"bearer token in an exec probe's shell command", ssProcessor(func(p *ProcessorStageProps) {
		p.Readiness = &Probe{Command: []string{"sh", "-c", "curl -fsS -H 'Authorization: Bearer 9fQx2LmZ7vKp3RtY8wNb' localhost:8080/ready"}}
	}), "test/p/s", ssDeployment, ssContainer + ".readinessProbe.exec.command[2]", "9fQx2LmZ7vKp3RtY8wNb"},
	{"redis-cli -a <password> in an exec probe", ssProcessor(func(p *ProcessorStageProps) {
		p.Liveness = &Probe{Command: []string{"redis-cli", "-a", "S3cr3tPass", "ping"}}
	}), "test/p/s", ssDeployment, ssContainer + ".livenessProbe.exec.command[2]", "S3cr3tPass"},
	{"token in a metrics path", ssProcessor(func(p *ProcessorStageProps) {
		p.Ports = append(p.Ports, Port{Name: "metrics", ContainerPort: 9090})
		p.Workload.Metrics = &Metrics{Path: "/metrics?token=" + ssPW}
	}), "test/p/s", "ServiceMonitor p/s", "spec.endpoints[0].path", ssPW},
	{"token in a chart label", func(app cdk8s.App) {
		NewBatchStage(ssPipeline(app, map[string]string{"ci-token": "glpat-Ab3dEf6hIj9kLm2nOp5q"}, PipelineProps{}), "s", BatchStageProps{Workload: Workload{Image: muImage}})
	}, "test/p", "Namespace p", "metadata.labels[ci-token]", "glpat-Ab3dEf6hIj9kLm2nOp5q"},
	{"password in a pipeline annotation an override writes", func(app cdk8s.App) {
		p := ssPipeline(app, nil, PipelineProps{})
		NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: muImage}})
		p.Override(func(obj runtime.Object) {
			if ns, ok := obj.(*corev1.Namespace); ok {
				ns.Annotations["example.com/db-password"] = ssPW
			}
		})
	}, "test/p", "Namespace p", "metadata.annotations[example.com/db-password]", ssPW},
	{"AWS key in a CSI volume handle", ssStorage(ExistingVolume{CSI: &CSIVolume{Driver: "s3.csi.aws.com", VolumeHandle: "datasets#" + scAWSID}}),
		"test/p/s", "PersistentVolume p-s", "spec.csi.volumeHandle", scAWSID},
	{"connection string in a CSI volume attribute", ssStorage(ExistingVolume{CSI: &CSIVolume{Driver: "blob.csi.azure.com", VolumeHandle: "rg#acct#data",
		VolumeAttributes: map[string]string{"connection": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + ssAzureKey}}}),
		"test/p/s", "", "Existing.CSI.VolumeAttributes[connection]", ssAzureKey},
	{"password in an NFS path", ssStorage(ExistingVolume{NFS: &NFSVolume{Server: "nfs.example.com", Path: "/exports/data;password=" + ssPW}}),
		"test/p/s", "PersistentVolume p-s", "spec.nfs.path", ssPW},
	{"connection string in KEDA trigger metadata", ssProcessor(func(p *ProcessorStageProps) {
		p.EventScaling = &EventScaling{MaxReplicas: 2, Triggers: []Trigger{{Type: "azure-servicebus", Metadata: map[string]string{"queueName": "jobs", "messageCount": "5",
			"connectionFromEnv": "SB", "namespace": "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=app;SharedAccessKey=" + ssAzureKey}}}}
	}), "test/p/s", "", "EventScaling.Triggers[0].Metadata[namespace]", ssAzureKey},
	{"env var an override adds", ssBatchOverride(Workload{}, func(obj runtime.Object) {
		if j, ok := obj.(*batchv1.Job); ok {
			c := &j.Spec.Template.Spec.Containers[0]
			c.Env = append(c.Env, corev1.EnvVar{Name: "API_TOKEN", Value: "abc123xyz"})
		}
	}), "test/p/s", "Job p/s", ssContainer + ".env[", "abc123xyz"},
	{"bearer token in a WorkflowTemplate annotation an override writes", func(app cdk8s.App) {
		p := ssPipeline(app, nil, PipelineProps{Workflows: &Workflows{}, Network: testAPI})
		NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: muImage, Command: []string{"/run"}}})
		p.Override(func(obj runtime.Object) {
			if c, ok := obj.(*customObject); ok && c.Kind == "WorkflowTemplate" {
				c.Annotations["example.com/notify"] = "curl -H 'Authorization: Bearer 9fQx2LmZ7vKp3RtY8wNb' https://hooks.example.com"
			}
		})
	}, "test/p", "WorkflowTemplate p/p", "metadata.annotations[example.com/notify]", "9fQx2LmZ7vKp3RtY8wNb"},

	{"curl -fsu user:password in a liveness probe", ssProcessor(func(p *ProcessorStageProps) {
		p.Liveness = &Probe{Command: []string{"sh", "-c", "curl -fsu admin:" + scPw + " http://127.0.0.1:8080/health"}}
	}), "test/p/s", ssDeployment, ssContainer + ".livenessProbe.exec.command[2]", scPw},
	{"SendGrid key in the args of an Argo task", func(app cdk8s.App) {
		p := ssPipeline(app, nil, PipelineProps{Workflows: &Workflows{}, Network: testAPI})
		NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: muImage, Command: []string{"/run"}, Args: []string{"--sendgrid", scSendGrid}}})
	}, "test/p/s", "", "Args[1]", scSendGrid},

	// No secrets, in fields of every kind: synth passes.
	{"object paths under key-like names", ssBatchOverride(Workload{Env: []EnvVar{Env("S3_KEY", "models/a.bin"), Env("MODEL_KEY", "/data/keys/x"),
		Env("SHARD_KEY", "datasets/2024/shard-00017-of-00100.parquet"), Env("PARTITION_KEY", "region")}}, nil), "", "", "", ""},
	{"digests and UUIDs", ssBatchOverride(Workload{Env: []EnvVar{Env("CACHE_KEY", "sha256:3f9a1c7e5b2d8f406a9c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f"),
		Env("IDEMPOTENCY_KEY", "6f1c2b9e-3d4a-4e8b-9c7d-1a2b3c4d5e6f")}}, nil), "", "", "", ""},
	{"issuer and audience URLs, algorithm names", ssBatchOverride(Workload{Env: []EnvVar{Env("TOKEN_ISSUER", "https://issuer.example.com"),
		Env("TOKEN_AUDIENCE", "https://api.example.com"), Env("JWT_SIGNING_ALG", "RS256"), Env("TOKEN_ALGORITHM", "HS512"),
		Env("SECRET_CIPHER", "AES-256-GCM")}}, nil), "", "", "", ""},
	{"image references and Kubernetes names", func(app cdk8s.App) {
		p := ssPipeline(app, map[string]string{"team": "api-token-service"}, PipelineProps{})
		NewBatchStage(p, "api-token-rotator", BatchStageProps{Workload: Workload{
			Image: "ghcr.io/acme/token-rotator@sha256:3f9a1c7e5b2d8f406a9c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f",
			Env:   []EnvVar{Env("BASE_IMAGE", "registry.k8s.io/pause:3.10"), Env("AUTH_KEY_SECRET_NAME", "llm-keys")}}})
	}, "", "", "", ""},
	{"probes, metrics paths and volumes without secrets", func(app cdk8s.App) {
		p := ssPipeline(app, nil, PipelineProps{})
		NewProcessorStage(p, "s", ProcessorStageProps{Workload: Workload{Image: muImage, Metrics: &Metrics{Path: "/metrics"}}, Ports: []Port{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
			Liveness: &Probe{HTTPPath: "/healthz"}, Readiness: &Probe{Command: []string{"sh", "-c", "mysql -h db -u app -p$(DB_PASSWORD) -e 'select 1'"}}})
		NewPipelineStorage(p, "nfs", PipelineStorageProps{Size: "1Gi", Existing: &ExistingVolume{NFS: &NFSVolume{Server: "nfs.example.com", Path: "/exports/keys"}}})
		NewPipelineStorage(p, "csi", PipelineStorageProps{Size: "1Gi", Existing: &ExistingVolume{CSI: &CSIVolume{Driver: "efs.csi.aws.com",
			VolumeHandle: "fs-0123456789abcdef0::fsap-0fedcba9876543210"}}})
	}, "", "", "", ""},
	{"a rendered field listed in NotSecrets", ssProcessor(func(p *ProcessorStageProps) {
		p.Liveness = &Probe{HTTPPath: "/healthz?api_key=public-demo-key-1234567890"}
		p.Workload.NotSecrets = []string{"Deployment:" + ssContainer + ".livenessProbe.httpGet.path"}
	}), "", "", "", ""},
}

// ssWhy is what the detail of a row's problem must say, by row name.
var ssWhy = map[string]string{
	"curl -fsu user:password in a liveness probe": "passes a literal user:password to -u/--user",
	"SendGrid key in the args of an Argo task":    "holds what looks like a SendGrid API key",
}

// TestSecretsInRenderedObjects: a secret in a field that no prop check
// reads (a probe, a metrics path, a volume, a chart label, KEDA
// metadata, what an override writes) is a problem naming the construct,
// the object and its JSON field, without the secret; values that are no
// secrets pass.
func TestSecretsInRenderedObjects(t *testing.T) {
	refused := 0
	for _, row := range ssRows {
		t.Run(row.name, func(t *testing.T) {
			app := cdk8s.NewApp(nil)
			row.build(app)
			_, err := Synthesize(app)
			if row.field == "" {
				if err != nil {
					t.Fatalf("want no problem, got %v", err)
				}
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Problems) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			pr := verr.Problems[0]
			if pr.Construct != row.construct || !strings.HasPrefix(pr.Object, row.object) || !strings.HasPrefix(pr.Field, row.field) ||
				pr.Type != tForbidden || !strings.Contains(pr.Detail, "NotSecrets") {
				t.Fatalf("want a Forbidden problem of %s %s %s, got %v", row.construct, row.object, row.field, pr)
			}
			if strings.Contains(err.Error(), row.secret) {
				t.Errorf("the problem repeats the secret: %v", err)
			}
			if why := ssWhy[row.name]; !strings.Contains(pr.Detail, why) {
				t.Errorf("want the detail to say %q, got %v", why, pr)
			}
			t.Log(pr)
			refused++
		})
	}
	t.Logf("rendered secrets table: %d refused, %d rows without a secret passed", refused, len(ssRows)-refused)
}

// TestNotSecretsObjectEntryMustMatch: an entry of the Kind:field form
// that names no field of the construct's objects is a problem.
func TestNotSecretsObjectEntryMustMatch(t *testing.T) {
	app := cdk8s.NewApp(nil)
	p := ssPipeline(app, nil, PipelineProps{})
	NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: muImage, NotSecrets: []string{"Job:spec.nothing"}}})
	_, err := Synthesize(app)
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 1 || verr.Problems[0].Field != "NotSecrets[0]" || verr.Problems[0].Construct != "test/p/s" {
		t.Fatalf("want one problem of test/p/s NotSecrets[0], got %v", err)
	}
}

// TestSecretScanSeesEveryString: the scan's walk reads every non-empty string value
// that is written, in every kind of object (the JSON of each object, as
// the YAML encoder sees it, holds no string the walk missed), so a new
// field is scanned without a list to update. Quantities are written as
// strings but hold none of the user's text, and the walk skips them.
func TestSecretScanSeesEveryString(t *testing.T) {
	app := cdk8s.NewApp(nil)
	benchDefine(cdk8s.NewChart(app, jsii.String("bench"), nil), 30)
	p := NewPipeline(cdk8s.NewChart(app, jsii.String("wf"), nil), "wf", PipelineProps{Workflows: &Workflows{}, Network: testAPI})
	NewBatchStage(p, "s", BatchStageProps{Workload: Workload{Image: muImage, Command: []string{"/run"}, Env: []EnvVar{Env("MODE", "full")}}})
	for _, row := range ssRows {
		if row.field == "" && !strings.Contains(row.name, "NotSecrets") {
			sub := cdk8s.NewApp(nil)
			row.build(sub)
			checkWalkSeesAll(t, sub)
		}
	}
	checkWalkSeesAll(t, app)
}

func checkWalkSeesAll(t *testing.T, app cdk8s.App) {
	t.Helper()
	st, err := appStateOf(app, false)
	if err != nil {
		t.Fatal(err)
	}
	pipelines, problems := check(st, &cursor{})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	kinds := map[string]bool{}
	for _, a := range pipelines {
		r := &rendering{p: a.p, g: a.g}
		err := r.each(func(o runtime.Object, _ string) error {
			seen := map[string]bool{}
			w := walker{visit: func(_ *walker, _, value string) bool { seen[value] = true; return false }}
			w.value(reflect.ValueOf(o), "")
			m, err := yamlout.ToMap(o)
			if err != nil {
				return err
			}
			kinds[describe(o)[:strings.IndexByte(describe(o), ' ')]] = true
			for _, s := range jsonStrings(m) {
				if _, qerr := resource.ParseQuantity(s); s != "" && !seen[s] && qerr != nil {
					t.Errorf("%s: the walk does not read %q", describe(o), s)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("kinds walked: %d", len(kinds))
}

// jsonStrings returns every string value of a decoded JSON document.
func jsonStrings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case map[string]any:
		var out []string
		for _, x := range t {
			out = append(out, jsonStrings(x)...)
		}
		return out
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, jsonStrings(x)...)
		}
		return out
	}
	return nil
}

package stagecraft_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/cdk8s-team/cdk8s-plus-go/cdk8splus28/v2/k8s"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"github.com/stagecraft-dev/stagecraft/internal/l1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// chartProps are the props of the charts of TestRenderersAgree: labels
// and a namespace, which cdk8s applies to every object of a chart.
var chartProps = &cdk8s.ChartProps{
	Labels:    &map[string]*string{"cost-center": jsii.String("search"), "app.kubernetes.io/name": jsii.String("chart-name")},
	Namespace: jsii.String("charted"),
}

// TestRenderersAgree synthesizes the same apps, in charts with labels and
// a namespace, three ways: stagecraft's own writer (Synthesize); cdk8s's
// App.Synth, which gets stagecraft's objects from each pipeline's
// validation hook and applies the chart's labels and namespace by its own
// rules; and each object created again as a cdk8s-plus L1 object, whose
// schema (Kubernetes 1.28) must hold every field. The objects must be the
// same, in the same order. Two differences are allowed: cdk8s also puts
// the chart's namespace on cluster-scoped objects (Namespace,
// PersistentVolume), where the API server ignores it; and the 1.28 L1
// schema requires a list that k8s.io/api omits when empty.
func TestRenderersAgree(t *testing.T) {
	defines := map[string]func(cdk8s.Chart){
		"wiring":  wired,
		"events":  events,
		"options": everyRenderedOption,
	}
	for name, define := range defines {
		t.Run(name, func(t *testing.T) {
			ours, viaCDK8s, viaL1 := renderThreeWays(t, define)
			if len(ours) == 0 {
				t.Fatal("no objects")
			}
			for path, other := range map[string][]map[string]any{"cdk8s": viaCDK8s, "L1": viaL1} {
				if len(other) != len(ours) {
					t.Fatalf("%d objects from stagecraft, %d through %s", len(ours), len(other), path)
				}
				for i := range ours {
					x, y := dropEmptyLists(ours[i]), dropEmptyLists(clusterScoped(t, other[i]))
					if !reflect.DeepEqual(x, y) {
						t.Errorf("object %d differs:\nstagecraft: %v\n%s: %v", i, x, path, y)
					}
				}
			}
			for _, o := range ours {
				md := o["metadata"].(map[string]any)
				labels, _ := md["labels"].(map[string]any)
				if labels["cost-center"] != "search" {
					t.Errorf("%s %s lacks the chart's label cost-center=search: %v", o["kind"], md["name"], labels)
				}
				if labels["app.kubernetes.io/name"] == "chart-name" {
					t.Errorf("%s %s: the chart's label replaced the object's own", o["kind"], md["name"])
				}
				if ns, ok := md["namespace"]; ok && ns != "charted" && o["kind"] != "ConfigMap" {
					t.Errorf("%s %s in namespace %v, want the chart's", o["kind"], md["name"], ns)
				}
			}
		})
	}
}

// renderThreeWays synthesizes define's app as TestRenderersAgree says.
func renderThreeWays(t *testing.T, define func(cdk8s.Chart)) (ours, viaCDK8s, viaL1 []map[string]any) {
	t.Helper()
	out := t.TempDir()
	stagetest.Do(func() {
		app := cdk8s.NewApp(&cdk8s.AppProps{Outdir: jsii.String(out)})
		define(cdk8s.NewChart(app, jsii.String("c"), chartProps))
		s, err := stagecraft.Synthesize(app)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range s.Manifests[0].Objects {
			ours = append(ours, parseObject(t, o.YAML))
		}
		app.Synth()
		data, err := os.ReadFile(filepath.Join(out, "c.k8s.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			viaCDK8s = append(viaCDK8s, parseObject(t, []byte(doc)))
		}
		l1App := cdk8s.NewApp(nil)
		l1Chart := cdk8s.NewChart(l1App, jsii.String("c"), chartProps)
		for i, o := range s.Manifests[0].Objects {
			if err := l1.Create(l1Chart, fmt.Sprint(i), parseObject(t, o.YAML)); err != nil {
				t.Fatal(err)
			}
		}
		for _, o := range *l1Chart.ToJson() {
			viaL1 = append(viaL1, o.(map[string]any))
		}
	})
	return ours, viaCDK8s, viaL1
}

func parseObject(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// clusterScoped drops the namespace cdk8s gives a cluster-scoped object,
// after checking that it is the chart's.
func clusterScoped(t *testing.T, o map[string]any) map[string]any {
	if o["kind"] != "Namespace" && o["kind"] != "PersistentVolume" {
		return o
	}
	md := o["metadata"].(map[string]any)
	if md["namespace"] != "charted" {
		t.Errorf("cdk8s gave %s %s the namespace %v, not the chart's", o["kind"], md["name"], md["namespace"])
	}
	delete(md, "namespace")
	return o
}

// everyRenderedOption declares a pipeline with storage, processors, a
// stateful set and an indexed, queued scheduled stage.
func everyRenderedOption(chart cdk8s.Chart) {
	p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
	data := stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{Size: "10Gi",
		Existing: &stagecraft.ExistingVolume{NFS: &stagecraft.NFSVolume{Server: "nfs", Path: "/x"}}})
	stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
		Workload:    everyWorkloadOption(data),
		Ports:       []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
		Readiness:   &stagecraft.Probe{HTTPPath: "/ready"},
		Autoscaling: &stagecraft.Autoscaling{MinReplicas: 2, MaxReplicas: 4},
		Ingress:     &stagecraft.Ingress{Host: "a.example.com", TLSSecretName: "tls"},
	})
	stagecraft.NewProcessorStage(p, "index", stagecraft.ProcessorStageProps{
		Workload: stagecraft.Workload{Image: image, Accelerators: &stagecraft.Accelerators{Count: 1, Product: "L4"}},
		Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 6333}},
		Stateful: &stagecraft.Stateful{Volumes: []stagecraft.VolumeClaim{{Name: "d", Path: "/d", Size: "1Gi"}}},
	})
	stagecraft.NewScheduledStage(p, "nightly", stagecraft.ScheduledStageProps{
		Workload:    stagecraft.Workload{Image: image},
		JobSettings: stagecraft.JobSettings{Indexed: true, Completions: ptr.To[int32](4), BackoffLimitPerIndex: ptr.To[int32](1), FailFastExitCodes: []int32{2}, Queue: "q"},
		Schedule:    "@daily",
	})
}

func dropEmptyLists(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			if l, ok := e.([]any); ok && len(l) == 0 {
				continue
			}
			out[k] = dropEmptyLists(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = dropEmptyLists(e)
		}
		return out
	}
	return v
}

// TestEscapeHatches checks the two ways past stagecraft's props: Override
// changes a typed object before it is written, and objects that other
// cdk8s constructs add to the chart are written after the pipeline's.
func TestEscapeHatches(t *testing.T) {
	t.Parallel()
	m := stagetest.SynthChart(t, "c", func(chart cdk8s.Chart) {
		p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{Network: testAPI})
		api := stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
			Workload: stagecraft.Workload{Image: image},
			Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
		})
		api.Override(func(obj runtime.Object) {
			switch o := obj.(type) {
			case *appsv1.Deployment:
				o.Spec.RevisionHistoryLimit = ptr.To[int32](3)
			case *corev1.Service:
				o.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			}
		})
		p.Override(func(obj runtime.Object) {
			if ns, ok := obj.(*corev1.Namespace); ok {
				ns.Labels["istio-injection"] = "disabled"
			}
		})
		k8s.NewKubeConfigMap(chart, jsii.String("Settings"), &k8s.KubeConfigMapProps{
			Metadata: &k8s.ObjectMeta{Name: jsii.String("settings"), Namespace: jsii.String("demo")},
			Data:     &map[string]*string{"mode": jsii.String("fast")},
		})
	})
	if got := m.Get(t, m.Find(t, "Deployment", "demo", "api"), "spec.revisionHistoryLimit"); got != int64(3) {
		t.Errorf("revisionHistoryLimit = %v", got)
	}
	if got := m.Get(t, m.Find(t, "Service", "demo", "api"), "spec.sessionAffinity"); got != "ClientIP" {
		t.Errorf("sessionAffinity = %v", got)
	}
	if got := m.Get(t, m.Find(t, "Namespace", "", "demo"), `metadata.labels["istio-injection"]`); got != "disabled" {
		t.Errorf("namespace label = %v", got)
	}
	objs := m.Objects("")
	if last := objs[len(objs)-1]; last.GetKind() != "ConfigMap" || !strings.HasPrefix(last.GetName(), "settings") {
		t.Errorf("the chart's own ConfigMap should come last, got %s %s", last.GetKind(), last.GetName())
	}
}

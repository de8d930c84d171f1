package stagecraft_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/cdk8s-team/cdk8s-plus-go/cdk8splus28/v2/k8s"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// TestRenderersAgree synthesizes the same apps twice: objects written by
// stagecraft in Go (the default), and objects created as cdk8s L1 objects
// and written by cdk8s. The objects must be the same, in the same order.
// The only difference allowed is a list that the 1.28 L1 schema requires
// and k8s.io/api omits when empty (it means the same to the API server).
func TestRenderersAgree(t *testing.T) {
	defines := map[string]func(cdk8s.Chart){
		"wiring": wired,
		"events": events,
		"options": func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{})
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
		},
	}
	for name, define := range defines {
		t.Setenv(stagecraft.RendererEnv, "")
		fast := stagetest.SynthChart(t, "c", define)
		t.Setenv(stagecraft.RendererEnv, "l1")
		viaL1 := stagetest.SynthChart(t, "c", define)
		a, b := fast.Objects(""), viaL1.Objects("")
		if len(a) != len(b) {
			t.Fatalf("%s: %d objects in Go, %d through L1", name, len(a), len(b))
		}
		for i := range a {
			x, y := dropEmptyLists(a[i].Object), dropEmptyLists(b[i].Object)
			if !reflect.DeepEqual(x, y) {
				t.Errorf("%s: object %d differs:\nGo: %v\nL1: %v", name, i, x, y)
			}
		}
	}
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
		p := stagecraft.NewPipeline(chart, "demo", stagecraft.PipelineProps{})
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

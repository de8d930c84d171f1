package distcheck

import (
	"strings"
	"testing"

	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Waiting without waste, checked on what is committed in dist/: no pod
// template both waits in an init container and requests an accelerator
// (a held Job's pods, behind a scheduling gate, hold nothing), and a
// long-running stage that waits for nothing has no API token and no
// egress to the API server.

// podTemplates returns the pod templates of a manifest by the name of the
// object that holds them.
func podTemplates(t *testing.T, m *stagetest.Manifest) map[string]corev1.PodTemplateSpec {
	t.Helper()
	out := map[string]corev1.PodTemplateSpec{}
	paths := map[string][]string{
		"Deployment": {"spec", "template"}, "StatefulSet": {"spec", "template"}, "Job": {"spec", "template"},
		"CronJob": {"spec", "jobTemplate", "spec", "template"},
	}
	for _, o := range m.Objects("") {
		path, ok := paths[o.GetKind()]
		if !ok {
			continue
		}
		raw, _, _ := unstructured.NestedMap(o.Object, path...)
		var tmpl corev1.PodTemplateSpec
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tmpl); err != nil {
			t.Fatalf("%s: %v", stagetest.Describe(o), err)
		}
		out[o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName()] = tmpl
	}
	return out
}

// accelerators returns the extended resources the pod's containers ask
// for (anything but CPU, memory, ephemeral storage and huge pages).
func accelerators(spec corev1.PodSpec) []string {
	var out []string
	for _, c := range append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...) {
		for name := range c.Resources.Limits {
			n := string(name)
			if n != "cpu" && n != "memory" && n != "ephemeral-storage" && !strings.HasPrefix(n, "hugepages-") {
				out = append(out, c.Name+": "+n)
			}
		}
	}
	return out
}

// waitsInInit reports whether a pod waits for upstream Jobs in an init
// container (the gate's wait mode).
func waitsInInit(spec corev1.PodSpec) bool {
	for _, c := range spec.InitContainers {
		if len(c.Args) > 0 && c.Args[0] == "wait" {
			return true
		}
	}
	return false
}

func gated(spec corev1.PodSpec) bool {
	for _, g := range spec.SchedulingGates {
		if g.Name == "stagecraft.dev/upstream" {
			return true
		}
	}
	return false
}

func TestDistNoWaitingPodHoldsAccelerators(t *testing.T) {
	var held, waiting int
	eachManifest(t, func(t *testing.T, _ string, m *stagetest.Manifest) {
		for name, tmpl := range podTemplates(t, m) {
			acc := accelerators(tmpl.Spec)
			switch {
			case waitsInInit(tmpl.Spec) && len(acc) > 0:
				t.Errorf("%s waits for upstream Jobs in an init container and requests accelerators %v", name, acc)
			case waitsInInit(tmpl.Spec):
				waiting++
			case gated(tmpl.Spec):
				held++
			}
		}
	})
	if held == 0 {
		t.Error("no pod template in dist/ is held by a scheduling gate: the check proves nothing")
	}
	t.Logf("%d pod templates held by a scheduling gate, %d waiting in an init container without accelerators", held, waiting)
}

// hasToken reports whether the pod gets an API token: mounted by the
// service account admission, or projected by a volume.
func hasToken(spec corev1.PodSpec) bool {
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		return true
	}
	for _, v := range spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				return true
			}
		}
	}
	return false
}

// apiEgress reports whether a policy lets pods reach the API server's
// secure port 6443 (443 is also the port of many other services).
func apiEgress(np networkingv1.NetworkPolicy) bool {
	for _, r := range np.Spec.Egress {
		for _, p := range r.Ports {
			if p.Port != nil && p.Port.IntValue() == 6443 {
				return true
			}
		}
	}
	return false
}

func TestDistLongRunningStagesThatWaitForNothingHaveNoToken(t *testing.T) {
	checked := 0
	eachManifest(t, func(t *testing.T, _ string, m *stagetest.Manifest) {
		policies := map[string]networkingv1.NetworkPolicy{}
		for _, o := range m.Objects("NetworkPolicy") {
			var np networkingv1.NetworkPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &np); err != nil {
				t.Fatal(err)
			}
			policies[np.Namespace+"/"+np.Name] = np
		}
		for name, tmpl := range podTemplates(t, m) {
			kind, key, _ := strings.Cut(name, " ")
			if (kind != "Deployment" && kind != "StatefulSet") || waitsInInit(tmpl.Spec) || tmpl.Labels["app.kubernetes.io/component"] != "processor" {
				continue
			}
			checked++
			if hasToken(tmpl.Spec) {
				t.Errorf("%s waits for nothing, yet its pods get an API token", name)
			}
			if apiEgress(policies[key]) {
				t.Errorf("%s waits for nothing, yet its NetworkPolicy lets it reach the API server", name)
			}
		}
	})
	if checked == 0 {
		t.Error("no long-running stage in dist/: the check proves nothing")
	}
}

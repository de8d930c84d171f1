package distcheck

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// builtin knows the Go types of the built-in API groups stagecraft writes.
var builtin = runtime.NewScheme()

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		admissionv1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, batchv1.AddToScheme, corev1.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme,
	} {
		if err := add(builtin); err != nil {
			panic(err)
		}
	}
}

// manifests returns every *.k8s.yaml file under dist/.
func manifests(t *testing.T) []string {
	t.Helper()
	dist := os.Getenv("STAGECRAFT_DIST")
	if dist == "" {
		dist = filepath.Join("..", "..", "dist")
	}
	var files []string
	err := filepath.WalkDir(dist, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".k8s.yaml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no manifests under %s: run make synth", dist)
	}
	return files
}

// eachManifest runs check on every manifest file under dist/, parsed.
func eachManifest(t *testing.T, check func(t *testing.T, file string, m *stagetest.Manifest)) {
	for _, f := range manifests(t) {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := stagetest.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			check(t, f, m)
		})
	}
}

func TestDistPassesPodSecurityRestricted(t *testing.T) {
	eachManifest(t, func(t *testing.T, _ string, m *stagetest.Manifest) { m.AssertRestricted(t) })
}

// TestDistDecodesStrictly decodes every object of a built-in kind into its
// Go type with unknown fields disallowed, so that a misspelt or misplaced
// field fails here rather than on a cluster.
func TestDistDecodesStrictly(t *testing.T) {
	eachManifest(t, func(t *testing.T, f string, m *stagetest.Manifest) {
		checked := 0
		for _, o := range m.Objects("") {
			gvk := schema.FromAPIVersionAndKind(o.GetAPIVersion(), o.GetKind())
			typed, err := builtin.New(gvk)
			if runtime.IsNotRegisteredError(err) {
				continue // a custom resource; the e2e tests check it against its CRD
			}
			if err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(typed); err != nil {
				t.Errorf("%s: %v", stagetest.Describe(o), err)
			}
			checked++
		}
		if checked == 0 {
			t.Errorf("no built-in objects in %s", f)
		}
	})
}

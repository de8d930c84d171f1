package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	handleSignals()
	code := m.Run()
	killAll() // normally a no-op: every test stops its processes in Cleanup
	os.Exit(code)
}

// distDir is where the synthesized apps are: $STAGECRAFT_DIST, or the
// repository's dist/.
func distDir() string {
	if d := os.Getenv("STAGECRAFT_DIST"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "dist")
}

// TestApps proves each app in dist/ on a fresh control plane of its own:
//
//	apply:    every object is accepted by server-side apply with strict field
//	          validation and no warning, in namespaces enforcing Pod Security
//	          "restricted";
//	reapply:  applying the same objects again changes nothing;
//	pipeline: with controllers, scheduler and kwok nodes running, the
//	          workloads run (see runPipeline).
func TestApps(t *testing.T) {
	dist := distDir()
	dirs, err := discoverApps(dist)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		abs, _ := filepath.Abs(dist)
		t.Skipf("no apps to prove: %s has no app directories (synthesize the apps first, or set STAGECRAFT_DIST)", abs)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ap, err := loadApp(dir)
			if err != nil {
				t.Fatalf("read app %s:\n%v", dir, err)
			}
			for _, s := range ap.skipped {
				t.Logf("skipped %s", s)
			}
			if len(ap.manifests) == 0 {
				t.Fatalf("app %s has no Kubernetes objects in its YAML files", dir)
			}
			c := startControlPlane(t)
			a, err := newApplier(c.cfg, appFieldManager)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			ok := t.Run("apply", func(t *testing.T) {
				nss, _, err := a.applyApp(ctx, ap)
				if err != nil {
					t.Fatalf("app %s failed to apply:\n%v", ap.name, err)
				}
				t.Logf("app %s: %d objects applied in namespaces %s (Pod Security enforce=restricted), no warnings",
					ap.name, len(ap.manifests), strings.Join(nss, ", "))
			})
			if !ok {
				return
			}
			t.Run("reapply", func(t *testing.T) {
				n, err := a.reapplyUnchanged(ctx, ap)
				if err != nil {
					t.Fatalf("app %s:\n%v", ap.name, err)
				}
				t.Logf("app %s: second apply of %d objects changed nothing (resourceVersions unchanged), no warnings", ap.name, n)
			})
			t.Run("pipeline", func(t *testing.T) {
				runPipeline(t, c, ap)
			})
		})
	}
}

// TestBrokenManifests applies deliberately broken apps (testdata/broken/*)
// through the same code path as the real apps and checks that the harness
// fails them with the API server's own words.
func TestBrokenManifests(t *testing.T) {
	cases := []struct {
		dir  string
		want []string // substrings of the reported error
	}{
		{"selector-mismatch", []string{
			`deployments.apps "selector-mismatch" is invalid`,
			"`selector` does not match template `labels`",
		}},
		{"privileged-deployment", []string{
			"API server warning(s)",
			`would violate PodSecurity "restricted:latest"`,
			`privileged (container "app" must not set securityContext.privileged=true)`,
		}},
		{"privileged-pod", []string{
			`pods "privileged-pod" is forbidden`,
			`violates PodSecurity "restricted:latest"`,
			`privileged (container "app" must not set securityContext.privileged=true)`,
		}},
		{"unknown-field", []string{
			"strict decoding error",
			`unknown field "spec.replicaCount"`,
		}},
	}
	c := startControlPlane(t)
	a, err := newApplier(c.cfg, appFieldManager)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			ap, err := loadApp(filepath.Join("testdata", "broken", tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(ap.manifests) == 0 {
				t.Fatal("no manifests")
			}
			_, _, err = a.applyApp(context.Background(), ap)
			if err == nil {
				t.Fatalf("applying testdata/broken/%s succeeded; want an error containing %q", tc.dir, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			t.Logf("rejected as expected:\n%v", err)
		})
	}
}

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stagecraft-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratchRoot = dir
	handleSignals()
	code := m.Run()
	killAll() // normally a no-op: every test stops its processes in Cleanup
	if code == 0 || os.Getenv("STAGECRAFT_E2E_KEEP") == "" {
		os.RemoveAll(dir)
	}
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

// crdDirs lists the folders of CustomResourceDefinitions (or other objects
// the target cluster is expected to have) installed before each app:
// $STAGECRAFT_CRDS (colon-separated), or the repository's imports/crds.
func crdDirs() []string {
	if v := os.Getenv("STAGECRAFT_CRDS"); v != "" {
		return filepath.SplitList(v)
	}
	d := filepath.Join("..", "..", "imports", "crds")
	if _, err := os.Stat(d); err != nil {
		return nil
	}
	return []string{d}
}

// TestApps proves each app in dist/ (each environment of it, when it is
// synthesized per environment) on a fresh control plane of its own:
//
//	apply:    after the cluster's CRDs (crdDirs) are installed, every object
//	          is accepted by server-side apply with strict field validation
//	          and no warning, in namespaces enforcing Pod Security
//	          "restricted";
//	reapply:  applying the same objects again changes nothing (see
//	          reapplyUnchanged);
//	pipeline: with controllers, scheduler and kwok nodes running, the
//	          workloads run (see runPipeline), Jobs released by sync wave;
//	order:    the Jobs ran in the order the pipeline declares, and each
//	          declared wait for an upstream Job could work, and no more
//	          (see checkOrder).
func TestApps(t *testing.T) {
	dist := distDir()
	units, err := discoverApps(dist)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) == 0 {
		abs, _ := filepath.Abs(dist)
		t.Skipf("no apps to prove: %s has no app directories (synthesize the apps first, or set STAGECRAFT_DIST)", abs)
	}
	for i := 0; i < len(units); {
		app := units[i].app
		var mine []unit
		for ; i < len(units) && units[i].app == app; i++ {
			mine = append(mine, units[i])
		}
		t.Run(app, func(t *testing.T) {
			for _, u := range mine {
				if u.env == "" {
					proveApp(t, u)
					continue
				}
				t.Run(u.env, func(t *testing.T) { proveApp(t, u) })
			}
		})
	}
}

// proveApp runs the apply, reapply, pipeline and order phases for one unit.
func proveApp(t *testing.T, u unit) {
	ap, err := loadApp(u.name(), u.dir)
	if err != nil {
		t.Fatalf("read app %s:\n%v", u.dir, err)
	}
	for _, s := range ap.skipped {
		t.Logf("skipped %s", s)
	}
	if len(ap.manifests) == 0 {
		if len(ap.skipped) > 0 {
			t.Skipf("app %s has no Kubernetes objects besides what was skipped", u.dir)
		}
		t.Fatalf("app %s has no Kubernetes objects in its YAML files", u.dir)
	}
	c := startControlPlane(t)
	ctx := context.Background()
	if dirs := crdDirs(); len(dirs) > 0 {
		n, err := installPrerequisites(ctx, c, dirs)
		if err != nil {
			t.Fatalf("install the cluster's CRDs from %s: %v", strings.Join(dirs, ", "), err)
		}
		t.Logf("installed %d objects the cluster is expected to have (CRDs) from %s", n, strings.Join(dirs, ", "))
	}
	installKueueCRD(t, c)
	a, err := newApplier(c.cfg, appFieldManager)
	if err != nil {
		t.Fatal(err)
	}
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
		res, err := a.reapplyUnchanged(ctx, ap)
		if err != nil {
			t.Fatalf("app %s:\n%v", ap.name, err)
		}
		for _, r := range res.rewritten {
			t.Logf("note: second apply stored %s again with identical content (API server rewrites some kinds once after creation)", r)
		}
		t.Logf("app %s: re-applying %d objects changed no field; a third apply left every resourceVersion unchanged; no warnings", ap.name, res.checked)
	})
	var report *PipelineReport
	pipelineOK := t.Run("pipeline", func(t *testing.T) {
		rep, err := runPipeline(t, c, ap, pipelineTimeout())
		report = rep
		if err != nil {
			t.Errorf("app %s: pipeline did not run:\n%v", ap.name, err)
		}
	})
	t.Run("order", func(t *testing.T) {
		if report == nil {
			t.Skip("the pipeline phase stopped before it recorded any run")
		}
		res, err := checkOrder(ctx, c, ap, report, pipelineOK)
		for _, np := range res.NotProven {
			t.Logf("NOT PROVEN (not a failure): %s", np)
		}
		if err != nil {
			t.Errorf("app %s: Jobs do not run in the order the pipeline declares, or a declared wait could not work:\n%v", ap.name, err)
		}
		t.Log(res.Summary)
	})
}

// TestBrokenManifests applies deliberately broken apps (testdata/broken/*)
// through the same code path as the real apps and checks that the harness
// fails them with the API server's own words.
func TestBrokenManifests(t *testing.T) {
	cases := []struct {
		dir  string
		want []string // substrings of the reported error
		// stored: the API server accepted the object (it only warned), so
		// it is the harness that fails the app
		stored bool
	}{
		{"selector-mismatch", []string{
			`Deployment.apps "selector-mismatch" is invalid`,
			"`selector` does not match template `labels`",
		}, false},
		{"privileged-deployment", []string{
			"API server warning(s)",
			`would violate PodSecurity "restricted:latest"`,
			`privileged (container "app" must not set securityContext.privileged=true)`,
		}, true},
		{"privileged-pod", []string{
			`pods "privileged-pod" is forbidden`,
			`violates PodSecurity "restricted:latest"`,
			`privileged (container "app" must not set securityContext.privileged=true)`,
		}, false},
		{"unknown-field", []string{
			".spec.replicaCount: field not declared in schema",
		}, false},
	}
	c := startControlPlane(t)
	a, err := newApplier(c.cfg, appFieldManager)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			ap, err := loadApp(tc.dir, filepath.Join("testdata", "broken", tc.dir))
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
			if tc.stored {
				for _, m := range ap.manifests {
					if _, err := a.get(context.Background(), m.obj); err != nil {
						t.Errorf("%s: the API server should have stored it (it only warns): %v", m, err)
					}
				}
			}
			t.Logf("rejected as expected:\n%v", err)
		})
	}
}

// TestBrokenPipeline runs the pipeline phase on apps that apply cleanly but
// cannot run (testdata/broken-pipeline/*) and checks that the harness fails
// them with what the scheduler or controllers said.
func TestBrokenPipeline(t *testing.T) {
	cases := []struct {
		dir  string
		want []string
	}{
		{"too-many-gpus", []string{
			"apps/v1 Deployment e2e-broken-gpus/greedy available",
			"FailedScheduling",
			"Insufficient nvidia.com/gpu",
		}},
		{"gate-denied", []string{
			"GateFailed",
			"the gate is misconfigured: read Job e2e-broken-gate/first-6786dfa5",
			"forbidden",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			ap, c := applyTestdataApp(t, "broken-pipeline", tc.dir)
			_, err := runPipeline(t, c, ap, 15*time.Second)
			if err == nil {
				t.Fatalf("pipeline of testdata/broken-pipeline/%s succeeded; want an error containing %q", tc.dir, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			t.Logf("failed as expected:\n%v", err)
		})
	}
}

// TestBrokenOrder runs the pipeline and order phases on apps that run
// cleanly but whose declared order or waits are wrong
// (testdata/broken-order/*), and checks that the order phase names each
// problem.
func TestBrokenOrder(t *testing.T) {
	cases := []struct {
		dir     string
		want    []string
		notWant []string
	}{
		{dir: "bad-waits", notWant: []string{"e2e-broken-order/third"}, want: []string{
			// 1: waits against waves and runs
			"Job e2e-broken-order/second waits for job/missing, which is not a Job of the app in namespace e2e-broken-order",
			"Job e2e-broken-order/second (sync wave 0) waits for Job e2e-broken-order/first in sync wave 0",
			"Job e2e-broken-order/second: its Job e2e-broken-order/second started before upstream Job e2e-broken-order/first completed",
			// 2: RBAC and token, in the manifests and by SubjectAccessReview
			"Job e2e-broken-order/second: Role second-wait grants Jobs [first]; the wait is for [first, missing]",
			"Job e2e-broken-order/second: ServiceAccount second may not get jobs/missing",
			"Deployment e2e-broken-order/greedy: Role greedy-wait rule 0 grants [get list watch] on [batch]/[jobs] names []",
			"Deployment e2e-broken-order/greedy: Role greedy-wait rule 1 grants [list] on []/[pods]",
			"Deployment e2e-broken-order/greedy: ServiceAccount greedy may list pods",
			"Deployment e2e-broken-order/greedy: ServiceAccount greedy may get jobs/second",
			"Deployment e2e-broken-order/greedy: automountServiceAccountToken is not false",
			"container app got an API token",
		}},
		{dir: "bad-gates", want: []string{
			"batch/v1 Job e2e-broken-gates/held: its pods get an API token; only its gate needs one",
			"ServiceAccount held-gate may delete pods any-pod; the gate should not",
			"ServiceAccount held-gate may get jobs held-gate-0; the gate should not",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			ap, c := applyTestdataApp(t, "broken-order", tc.dir)
			rep, err := runPipeline(t, c, ap, time.Minute)
			if err != nil {
				t.Fatalf("testdata/broken-order/%s must run: %v", tc.dir, err)
			}
			_, err = checkOrder(context.Background(), c, ap, rep, true)
			if err == nil {
				t.Fatalf("order of testdata/broken-order/%s passed; want errors containing %q", tc.dir, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error mentions %q, which is right", w)
				}
			}
			if t.Failed() {
				t.Logf("the error was:\n%v", err)
				return
			}
			t.Logf("failed as expected:\n%v", err)
		})
	}
}

// applyTestdataApp starts a control plane and applies testdata/<group>/<dir>,
// which must apply cleanly.
func applyTestdataApp(t *testing.T, group, dir string) (*app, *cluster) {
	t.Helper()
	ap, err := loadApp(dir, filepath.Join("testdata", group, dir))
	if err != nil {
		t.Fatal(err)
	}
	c := startControlPlane(t)
	a, err := newApplier(c.cfg, appFieldManager)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.applyApp(context.Background(), ap); err != nil {
		t.Fatalf("testdata/%s/%s must apply cleanly: %v", group, dir, err)
	}
	return ap, c
}

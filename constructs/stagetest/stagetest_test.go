package stagetest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/cdk8s-team/cdk8s-plus-go/cdk8splus28/v2/k8s"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"k8s.io/utils/ptr"
)

// fakeTB records the failures of the kit's assertions instead of failing
// the test, so that the tests can check what the kit reports.
type fakeTB struct {
	testing.TB // the real test, for Name, TempDir and the like

	mu     sync.Mutex
	errors []string
	fatal  bool
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) { f.add(fmt.Sprintf(format, args...)) }

func (f *fakeTB) Error(args ...any) { f.add(fmt.Sprint(args...)) }

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.add(fmt.Sprintf(format, args...))
	f.FailNow()
}

func (f *fakeTB) Fatal(args ...any) {
	f.add(fmt.Sprint(args...))
	f.FailNow()
}

func (f *fakeTB) FailNow() {
	f.mu.Lock()
	f.fatal = true
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errors) > 0 || f.fatal
}

func (f *fakeTB) add(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, msg)
}

// text is every recorded failure, joined.
func (f *fakeTB) text() string { return strings.Join(f.errors, "\n") }

// record runs fn with a fakeTB in a goroutine of its own (so that a fatal
// failure can end it as t.FailNow ends a test) and returns what it recorded.
func record(t *testing.T, fn func(tb testing.TB)) *fakeTB {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

// wantFailure checks that f recorded failures containing every one of
// wants.
func wantFailure(t *testing.T, f *fakeTB, wants ...string) {
	t.Helper()
	if !f.Failed() {
		t.Fatalf("the assertion passed; want a failure")
	}
	for _, w := range wants {
		if !strings.Contains(f.text(), w) {
			t.Errorf("the failure does not contain %q; it is:\n%s", w, f.text())
		}
	}
}

// teamApp declares a small pipeline; image, withJob and withCron vary it.
func teamApp(image string, withJob, withCron bool) func(cdk8s.Chart) {
	return func(chart cdk8s.Chart) {
		p := stagecraft.NewPipeline(chart, "team", stagecraft.PipelineProps{})
		stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
			Workload: stagecraft.Workload{Image: image},
			Replicas: ptr.To[int32](2),
			Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
		})
		if withJob {
			stagecraft.NewBatchStage(p, "import", stagecraft.BatchStageProps{
				Workload: stagecraft.Workload{Image: "ghcr.io/team/import:1.0.0"},
			})
		}
		if withCron {
			stagecraft.NewScheduledStage(p, "report", stagecraft.ScheduledStageProps{
				Workload: stagecraft.Workload{Image: "ghcr.io/team/report:1.0.0"},
				Schedule: "0 3 * * *",
			})
		}
	}
}

// setUpdate sets the -update flag for the rest of the test. The tests that
// call it do not run in parallel (they change directory too).
func setUpdate(t *testing.T, v bool) {
	old := *update
	*update = v
	t.Cleanup(func() { *update = old })
}

func TestGoldenMismatchNamesChangedObjects(t *testing.T) {
	t.Chdir(t.TempDir())
	setUpdate(t, false) // even when the kit's own tests run with -update
	old := Synth(t, teamApp("ghcr.io/team/api:1.0.0", true, false))
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/team.golden.yaml", old.YAML, 0o644); err != nil {
		t.Fatal(err)
	}
	old.Golden(t, "team") // the same YAML passes

	// A new image, a stage added and a stage removed.
	m := Synth(t, teamApp("ghcr.io/team/api:1.1.0", false, true))
	f := record(t, func(tb testing.TB) { m.Golden(tb, "team") })
	if f.fatal {
		t.Errorf("a mismatch should not stop the test")
	}
	wantFailure(t, f,
		"testdata/team.golden.yaml",
		"1 changed, 1 added, 1 removed",
		"~ Deployment team/api\n",
		"-        image: ghcr.io/team/api:1.0.0\n",
		"+        image: ghcr.io/team/api:1.1.0\n",
		"+ CronJob team/report\n",
		"- Job team/import-",
		"-update",
	)
	if strings.Contains(f.text(), "Service team/api") {
		t.Errorf("the unchanged Service is reported:\n%s", f.text())
	}
	t.Logf("the failure reads:\n%s", f.text())
}

func TestGoldenMissingFile(t *testing.T) {
	t.Chdir(t.TempDir())
	setUpdate(t, false)
	m, err := Parse([]byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := record(t, func(tb testing.TB) { m.Golden(tb, "absent") })
	if !f.fatal {
		t.Errorf("a missing golden file should stop the test")
	}
	wantFailure(t, f, "testdata/absent.golden.yaml does not exist", "-run '^TestGoldenMissingFile$' -update")

	for _, bad := range []string{"", "../escape", "/abs"} {
		f := record(t, func(tb testing.TB) { AssertGolden(tb, bad, nil) })
		wantFailure(t, f, "golden name")
	}
}

func TestUpdateRewritesGolden(t *testing.T) {
	t.Chdir(t.TempDir())
	setUpdate(t, true)

	stale := []byte("stale: true\n")
	for _, p := range []string{"testdata/ran.golden.yaml", "testdata/other.golden.yaml"} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, stale, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := Synth(t, teamApp("ghcr.io/team/api:1.0.0", false, false))
	f := record(t, func(tb testing.TB) {
		m.Golden(tb, "ran")
		m.Golden(tb, "sub/new") // created, with its directory
	})
	if f.Failed() {
		t.Fatalf("-update failed: %s", f.text())
	}
	for _, p := range []string{"testdata/ran.golden.yaml", "testdata/sub/new.golden.yaml"} {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(m.YAML) {
			t.Errorf("%s was not rewritten with the YAML:\n%s", p, got)
		}
	}
	if got, _ := os.ReadFile("testdata/other.golden.yaml"); string(got) != string(stale) {
		t.Errorf("the golden file of a test that did not run was rewritten")
	}

	// Back in comparing mode the rewritten file matches.
	*update = false
	m.Golden(t, "ran")
}

func TestDiff(t *testing.T) {
	want := `apiVersion: v1
kind: Namespace
metadata:
  name: ns
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: ns
data:
  a: "1"
  b: "2"
  c: "3"
  d: "4"
  e: "5"
  f: "6"
  g: "7"
  h: "8"
  i: "9"
`
	got := strings.Replace(strings.Replace(want, `b: "2"`, `b: "two"`, 1), `i: "9"`, "i: \"9\"\n  j: \"10\"", 1) +
		"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  namespace: ns\n"
	wantDiff := `1 changed, 1 added, 0 removed
~ ConfigMap ns/cfg
    @@ -10,7 +10,7 @@
       namespace: ns
     data:
       a: "1"
    -  b: "2"
    +  b: "two"
       c: "3"
       d: "4"
       e: "5"
    @@ -18,3 +18,4 @@
       g: "7"
       h: "8"
       i: "9"
    +  j: "10"
+ Service ns/x
    @@ -20,0 +23,5 @@
    +apiVersion: v1
    +kind: Service
    +metadata:
    +  name: x
    +  namespace: ns
`
	if d := Diff([]byte(want), []byte(got)); d != wantDiff {
		t.Errorf("Diff:\n%s\nwant:\n%s", d, wantDiff)
	}
	if d := Diff([]byte(want), []byte(strings.ReplaceAll(want, "\n", "\r\n"))); d != "" {
		t.Errorf("CRLF line endings differ:\n%s", d)
	}

	// Same objects, other order: a whole-text diff.
	parts := strings.SplitN(want, "---\n", 2)
	d := Diff([]byte(want), []byte(parts[1]+"---\n"+parts[0]))
	if !strings.Contains(d, "0 changed, 0 added, 0 removed; the order of the objects changed; whole-text diff") {
		t.Errorf("reordering:\n%s", d)
	}

	// Not Kubernetes objects: a whole-text diff.
	d = Diff([]byte("a: 1\n"), []byte("a: 2\n"))
	if !strings.Contains(d, "does not parse") || !strings.Contains(d, "-a: 1\n    +a: 2") {
		t.Errorf("unparsable:\n%s", d)
	}
}

func TestRestrictedViolationIsNamed(t *testing.T) {
	m, err := Parse([]byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
  namespace: team
spec:
  selector:
    matchLabels: {app: bad}
  template:
    metadata:
      labels: {app: bad}
    spec:
      containers:
      - name: app
        image: busybox:1.36
        securityContext:
          privileged: true
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: team
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          hostNetwork: true
          containers:
          - name: job
            image: busybox:1.36
`))
	if err != nil {
		t.Fatal(err)
	}
	f := record(t, m.AssertRestricted)
	wantFailure(t, f,
		`Deployment team/bad: privileged (container "app" must not set securityContext.privileged=true)`,
		"Deployment team/bad: runAsNonRoot != true",
		"CronJob team/nightly: host namespaces (hostNetwork=true)",
	)
	t.Logf("the failure reads:\n%s", f.text())
}

func TestRestrictedViolationOfL1Object(t *testing.T) {
	m := Synth(t, func(chart cdk8s.Chart) {
		labels := &map[string]*string{"app": jsii.String("raw")}
		k8s.NewKubeDeployment(chart, jsii.String("raw"), &k8s.KubeDeploymentProps{
			Metadata: &k8s.ObjectMeta{Name: jsii.String("raw"), Namespace: jsii.String("team")},
			Spec: &k8s.DeploymentSpec{
				Selector: &k8s.LabelSelector{MatchLabels: labels},
				Template: &k8s.PodTemplateSpec{
					Metadata: &k8s.ObjectMeta{Labels: labels},
					Spec: &k8s.PodSpec{Containers: &[]*k8s.Container{{
						Name:            jsii.String("app"),
						Image:           jsii.String("busybox:1.36"),
						SecurityContext: &k8s.SecurityContext{Privileged: jsii.Bool(true)},
					}}},
				},
			},
		})
	})
	f := record(t, m.AssertRestricted)
	wantFailure(t, f, `Deployment team/raw: privileged (container "app" must not set securityContext.privileged=true)`)
}

func TestPipelinePassesRestricted(t *testing.T) {
	t.Parallel()
	m := Synth(t, teamApp("ghcr.io/team/api:1.0.0", true, true))
	if n := len(m.Objects("Deployment")) + len(m.Objects("Job")) + len(m.Objects("CronJob")); n != 3 {
		t.Fatalf("%d workloads; want 3", n)
	}
	m.AssertRestricted(t)
}

func TestFindGetObjects(t *testing.T) {
	t.Parallel()
	m := Synth(t, teamApp("ghcr.io/team/api:1.0.0", false, false))

	var kinds []string
	for _, o := range m.Objects("") {
		kinds = append(kinds, o.GetKind())
	}
	if got := strings.Join(kinds, " "); got != "Namespace NetworkPolicy NetworkPolicy Service Deployment PodDisruptionBudget" {
		t.Errorf("objects in order: %s", got)
	}

	dep := m.Find(t, "Deployment", "team", "api")
	for path, want := range map[string]any{
		"spec.template.spec.containers[0].image":          "ghcr.io/team/api:1.0.0",
		"spec.replicas":                                   int64(2),
		`metadata.labels["app.kubernetes.io/name"]`:       "api",
		"metadata.labels['app.kubernetes.io/part-of']":    "team",
		"spec.template.spec.securityContext.runAsNonRoot": true,
	} {
		if got := m.Get(t, dep, path); got != want {
			t.Errorf("%s = %#v; want %#v", path, got, want)
		}
	}
	m.Find(t, "Namespace", "", "team")

	f := record(t, func(tb testing.TB) { m.Find(tb, "Deployment", "team", "nope") })
	wantFailure(t, f, "no Deployment team/nope", "Namespace team", "Service team/api", "Deployment team/api")

	f = record(t, func(tb testing.TB) { m.Get(tb, dep, "spec.template.spec.containers[3].image") })
	wantFailure(t, f, "Deployment team/api", "spec.template.spec.containers has 1 items; no [3]")
	f = record(t, func(tb testing.TB) { m.Get(tb, dep, "spec.nope") })
	wantFailure(t, f, `spec has no field "nope"`, "replicas")
}

func TestLookupPaths(t *testing.T) {
	obj := map[string]any{"a": map[string]any{"b.c": []any{map[string]any{"d": "x"}}}}
	if v, err := Lookup(obj, `a["b.c"][0].d`); err != nil || v != "x" {
		t.Errorf("Lookup = %v, %v", v, err)
	}
	for _, bad := range []string{"", ".a", "a..b", "a.", "a[x]", "a[0", `a["b.c"]d`, "a.[0]"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) accepted", bad)
		}
	}
	if _, err := Lookup(obj, "a.x"); err == nil || !strings.Contains(err.Error(), "fields: b.c") {
		t.Errorf("missing field: %v", err)
	}
	if _, err := Lookup(obj, `a["b.c"].d`); err == nil || !strings.Contains(err.Error(), "is a list") {
		t.Errorf("field of a list: %v", err)
	}
}

func TestSynthFailsWithTheErrorText(t *testing.T) {
	f := record(t, func(tb testing.TB) {
		Synth(tb, func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "Bad_Name", stagecraft.PipelineProps{})
			stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{})
		})
	})
	if !f.fatal {
		t.Errorf("an invalid app should stop the test")
	}
	wantFailure(t, f, "stagetest: synthesize", "Bad_Name", "Image")
	t.Logf("the failure reads:\n%s", f.text())

	// A panic in the jsii runtime fails the test instead of the binary,
	// and the runtime goes on working.
	f = record(t, func(tb testing.TB) {
		Synth(tb, func(chart cdk8s.Chart) {
			constructs.NewConstruct(chart, jsii.String("twice"))
			constructs.NewConstruct(chart, jsii.String("twice"))
		})
	})
	wantFailure(t, f, "panic", "twice")
	t.Logf("the failure reads:\n%s", f.text())
	Synth(t, teamApp("ghcr.io/team/api:1.0.0", false, false)).Find(t, "Deployment", "team", "api")
}

func TestSynthAppWithSeveralCharts(t *testing.T) {
	var app cdk8s.App
	Do(func() {
		app = cdk8s.NewApp(nil)
		teamApp("ghcr.io/team/api:1.0.0", false, false)(cdk8s.NewChart(app, jsii.String("b"), nil))
		c := cdk8s.NewChart(app, jsii.String("a"), nil)
		stagecraft.NewPipeline(c, "other", stagecraft.PipelineProps{})
	})
	m := SynthApp(t, app)
	if len(m.Files) != 2 {
		t.Fatalf("files: %d", len(m.Files))
	}
	if !strings.HasPrefix(string(m.YAML), "# Source: a.k8s.yaml\n") || !strings.Contains(string(m.YAML), "---\n# Source: b.k8s.yaml\n") {
		t.Errorf("YAML:\n%s", m.YAML)
	}
	m.Find(t, "Namespace", "", "other")
	m.Find(t, "Deployment", "team", "api")
}

func TestParallelSynth(t *testing.T) {
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			ns := fmt.Sprintf("team-%d", i)
			m := Synth(t, func(chart cdk8s.Chart) {
				p := stagecraft.NewPipeline(chart, ns, stagecraft.PipelineProps{})
				stagecraft.NewBatchStage(p, "job", stagecraft.BatchStageProps{
					Workload: stagecraft.Workload{Image: "ghcr.io/team/job:1.0.0"},
				})
			})
			if job := m.FindStage(t, "Job", ns, "job"); !strings.HasPrefix(job.GetName(), "job-") {
				t.Errorf("Job %s is not named after its stage and run", job.GetName())
			}
			// The namespace, its two network policies and the Job.
			if n := len(m.Objects("")); n != 4 {
				t.Errorf("%d objects; want 4", n)
			}
		})
	}
}

func TestChartID(t *testing.T) {
	for in, want := range map[string]string{
		"TestSeed":                     "testseed",
		"TestSeed/prod_eu#01":          "testseed-prod-eu-01",
		"///":                          "test",
		strings.Repeat("a", 70):        strings.Repeat("a", 63),
		strings.Repeat("a", 62) + "/b": strings.Repeat("a", 62),
	} {
		if got := ChartID(in); got != want {
			t.Errorf("ChartID(%q) = %q; want %q", in, got, want)
		}
	}
}

package synth_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// version is what differs between two versions of the upgrade test's app.
type version struct {
	namespace     string
	dataClass     string
	dataSize      string
	dataModes     []string
	dataBlock     bool
	noData        bool
	archiveServer string
	noArchive     bool
	stateSize     string
	stateClass    string
	cacheTemplate bool
	noState       bool
	parallel      bool
	apiStateful   bool
	fixedImage    string
	fixedQueue    string
	fillImage     string
	apiSelector   bool
	accept        []stagecraft.Change
}

func v1() version {
	return version{namespace: "up", dataSize: "10Gi", archiveServer: "nas", stateSize: "5Gi", fixedImage: "1.0.0", fillImage: "1.0.0"}
}

// upgradeApp declares the app of version v.
func upgradeApp(v version) func(cdk8s.Chart) {
	return func(chart cdk8s.Chart) {
		p := stagecraft.NewPipeline(chart, "p", stagecraft.PipelineProps{Namespace: v.namespace})
		for _, c := range v.accept {
			p.AcceptChange(c)
		}
		var mounts []stagecraft.Mount
		if !v.noData {
			props := stagecraft.PipelineStorageProps{Size: v.dataSize, StorageClassName: v.dataClass, AccessModes: v.dataModes}
			if v.dataBlock {
				props.VolumeMode = "Block"
			}
			data := stagecraft.NewPipelineStorage(p, "data", props)
			if !v.dataBlock { // a raw device cannot be mounted as a filesystem
				mounts = []stagecraft.Mount{{Storage: data, Path: "/data", ReadOnly: true}}
			}
		}
		if !v.noArchive {
			stagecraft.NewPipelineStorage(p, "archive", stagecraft.PipelineStorageProps{Size: "1Ti", AccessModes: []string{"ReadOnlyMany"},
				Existing: &stagecraft.ExistingVolume{NFS: &stagecraft.NFSVolume{Server: v.archiveServer, Path: "/export"}}})
		}
		apiProps := stagecraft.ProcessorStageProps{
			Workload: stagecraft.Workload{Image: "ghcr.io/acme/api:1.0.0", Mounts: mounts},
			Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
		}
		if v.apiStateful {
			apiProps.Stateful = &stagecraft.Stateful{}
		}
		api := stagecraft.NewProcessorStage(p, "api", apiProps)
		if v.apiSelector {
			api.Override(func(o runtime.Object) {
				if d, ok := o.(*appsv1.Deployment); ok {
					d.Spec.Selector.MatchLabels["tier"] = "web"
					d.Spec.Template.Labels["tier"] = "web"
				}
			})
		}
		if !v.noState {
			vols := []stagecraft.VolumeClaim{{Name: "state", Path: "/state", Size: v.stateSize, StorageClassName: v.stateClass}}
			if v.cacheTemplate {
				vols = append(vols, stagecraft.VolumeClaim{Name: "cache", Path: "/cache", Size: "1Gi"})
			}
			stagecraft.NewProcessorStage(p, "index", stagecraft.ProcessorStageProps{
				Workload: stagecraft.Workload{Image: "ghcr.io/acme/index:1.0.0"},
				Ports:    []stagecraft.Port{{Name: "tcp", ContainerPort: 6333}},
				Stateful: &stagecraft.Stateful{Volumes: vols, ParallelStart: v.parallel},
			})
		}
		stagecraft.NewBatchStage(p, "fixed", stagecraft.BatchStageProps{
			Workload: stagecraft.Workload{Image: "ghcr.io/acme/fixed:" + v.fixedImage}, FixedJobName: true,
			JobSettings: stagecraft.JobSettings{Queue: v.fixedQueue}})
		stagecraft.NewBatchStage(p, "fill", stagecraft.BatchStageProps{
			Workload: stagecraft.Workload{Image: "ghcr.io/acme/fill:" + v.fillImage}})
	}
}

// write writes version v of the app into dist, collecting the notices.
func write(t *testing.T, dist string, v version) ([]string, error) {
	t.Helper()
	var notices []string
	var err error
	stagetest.Do(func() {
		app := cdk8s.NewApp(nil)
		upgradeApp(v)(cdk8s.NewChart(app, jsii.String("c"), nil))
		err = synth.Write(app, "app", synth.Options{Dir: dist, Notify: func(m string) { notices = append(notices, m) }})
	})
	return notices, err
}

// TestUpgradeCheck writes version 1 of an app, then each edit as version
// 2: the edits the API server would refuse, or that delete data when
// pruned, are problems naming the object and field; accepted in code,
// they are written, with a notice of what to do on the cluster. The
// messages are pinned in testdata/upgrade-messages.golden.yaml.
func TestUpgradeCheck(t *testing.T) {
	var messages strings.Builder
	for _, tc := range upgradeCases() {
		dist := t.TempDir()
		if _, err := write(t, dist, v1()); err != nil {
			t.Fatalf("version 1: %v", err)
		}
		v := v1()
		tc.edit(&v)
		_, err := write(t, dist, v)
		got := refusals(t, tc.name, err)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s: refused\n\t%s\nwant\n\t%s", tc.name, strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
		}
		if err != nil {
			messages.WriteString("# " + tc.name + "\n" + err.Error() + "\n\n")
		}
		if len(tc.want) == 0 {
			continue
		}
		v.accept = append(v.accept, parseRefusals(err)...)
		notices, err := write(t, dist, v)
		if err != nil || len(notices) < len(tc.want) {
			t.Errorf("%s: accepted in code: %v, notices %q", tc.name, err, notices)
		}
	}
	stagetest.AssertGolden(t, "upgrade-messages", []byte(messages.String()))
}

// refusals returns "Object field" of each problem of err.
func refusals(t *testing.T, name string, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var verr *stagecraft.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("%s: %v", name, err)
	}
	var out []string
	for _, p := range verr.Problems {
		if p.Type != "FieldValueForbidden" || p.Object == "" || !strings.Contains(p.Detail, "To apply it: ") {
			t.Errorf("%s: problem without the upgrade check's form: %s", name, p)
		}
		out = append(out, p.Object+" "+p.Field)
	}
	return out
}

// parseRefusals returns the changes to accept for the problems of err: the
// Change each problem's message names, in the namespace of its object.
func parseRefusals(err error) []stagecraft.Change {
	var verr *stagecraft.ValidationError
	errors.As(err, &verr)
	var out []stagecraft.Change
	hint := regexp.MustCompile(`stagecraft.Change\{Kind: "([^"]*)", Name: "([^"]*)"(, Field: "([^"]*)")?(, Namespace: "([^"]*)")?\}`)
	for _, p := range verr.Problems {
		m := hint.FindStringSubmatch(p.Detail)
		out = append(out, stagecraft.Change{Kind: m[1], Name: m[2], Field: m[4], Namespace: m[6]})
	}
	return out
}

// TestUpgradeCheckUnreadablePrevious: a previous output that does not
// parse (a merge conflict) stops the write with a problem naming it,
// leaving it as it was, unless the check is skipped on purpose.
func TestUpgradeCheckUnreadablePrevious(t *testing.T) {
	dist := t.TempDir()
	conflict := []byte("<<<<<<< HEAD\nkind: StatefulSet\n=======\nkind: Deployment\n>>>>>>> theirs\n")
	file := filepath.Join(dist, "app", "c.k8s.yaml")
	if err := synth.WriteDir(filepath.Join(dist, "app"), map[string][]byte{"c.k8s.yaml": conflict}); err != nil {
		t.Fatal(err)
	}
	_, err := write(t, dist, v1())
	var verr *stagecraft.ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 1 || !strings.Contains(verr.Problems[0].Detail, "c.k8s.yaml") ||
		!strings.Contains(verr.Problems[0].Detail, "SkipUpgradeCheck") {
		t.Fatalf("err = %v, want one problem naming the file and the way out", err)
	}
	if data, _ := os.ReadFile(file); string(data) != string(conflict) {
		t.Errorf("the previous output changed")
	}
	var notices []string
	stagetest.Do(func() {
		app := cdk8s.NewApp(nil)
		upgradeApp(v1())(cdk8s.NewChart(app, jsii.String("c"), nil))
		err = synth.Write(app, "app", synth.Options{Dir: dist, SkipUpgradeCheck: true, Notify: func(m string) { notices = append(notices, m) }})
	})
	if data, _ := os.ReadFile(file); err != nil || !strings.Contains(string(data), "kind: StatefulSet") || len(notices) != 1 {
		t.Errorf("SkipUpgradeCheck: %v, notices %q", err, notices)
	}
}

// TestUpgradeCheckDamagedDocument: a document of the previous output that
// no longer decodes is a problem, not an empty object to compare with.
func TestUpgradeCheckDamagedDocument(t *testing.T) {
	dist := t.TempDir()
	if _, err := write(t, dist, v1()); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dist, "app", "c.k8s.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	damaged := strings.Replace(string(data), "  serviceName: ", "  serviceName: [", 1)
	if damaged == string(data) {
		t.Fatal("no serviceName to damage")
	}
	if err := os.WriteFile(file, []byte(damaged), 0o644); err != nil {
		t.Fatal(err)
	}
	v := v1()
	v.stateSize = "10Gi"
	_, err = write(t, dist, v)
	var verr *stagecraft.ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 1 || !strings.Contains(verr.Problems[0].Detail, "cannot be read") {
		t.Fatalf("err = %v, want one problem: the damaged document cannot be read", err)
	}
}

// TestUnmatchedAcceptIsNoted: an accepted change that matches nothing the
// check refuses is noted, so that a stale accept is not kept for good.
func TestUnmatchedAcceptIsNoted(t *testing.T) {
	dist := t.TempDir()
	if _, err := write(t, dist, v1()); err != nil {
		t.Fatal(err)
	}
	v := v1()
	v.accept = []stagecraft.Change{{Kind: "StatefulSet", Name: "nope"}}
	notices, err := write(t, dist, v)
	if err != nil || len(notices) != 1 || !strings.Contains(notices[0], "matched no change") {
		t.Errorf("err %v, notices %q", err, notices)
	}
}

// TestRemovedEnvironmentIsChecked: an environment the app no longer has is
// deleted with the app's folder, and pruning would delete its namespace and
// claims: the upgrade check refuses that too, until accepted.
func TestRemovedEnvironmentIsChecked(t *testing.T) {
	dist := t.TempDir()
	define := func(accept bool) func(env string, app cdk8s.App) {
		return func(env string, app cdk8s.App) {
			v := v1()
			v.namespace = "up-" + env
			if accept {
				v.accept = []stagecraft.Change{{Kind: "Namespace", Name: "up-prod"},
					{Kind: "PersistentVolumeClaim", Name: "data", Namespace: "up-prod"},
					{Kind: "PersistentVolumeClaim", Name: "archive", Namespace: "up-prod"},
					{Kind: "PersistentVolume", Name: "up-prod-archive"}}
			}
			upgradeApp(v)(cdk8s.NewChart(app, jsii.String("c"), nil))
		}
	}
	var notices []string
	write := func(envs []string, accept bool) error {
		var err error
		notices = nil
		opts := synth.Options{Dir: dist, Notify: func(m string) { notices = append(notices, m) }}
		stagetest.Do(func() { err = synth.WriteEnvironments("app", envs, opts, define(accept)) })
		return err
	}
	if err := write([]string{"dev", "prod"}, false); err != nil {
		t.Fatal(err)
	}
	err := write([]string{"dev"}, false)
	var verr *stagecraft.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("removing environment prod: %v, want problems", err)
	}
	var got []string
	for _, p := range verr.Problems {
		got = append(got, p.Construct+" "+p.Object)
	}
	if !strings.Contains(strings.Join(got, "\n"), "[prod, removed] (previous output) Namespace up-prod") {
		t.Errorf("problems:\n%s", strings.Join(got, "\n"))
	}
	if _, err := os.Stat(filepath.Join(dist, "app", "prod")); err != nil {
		t.Errorf("the refused write removed prod's output: %v", err)
	}
	if err := write([]string{"dev"}, true); err != nil {
		t.Errorf("accepted: %v", err)
	}
	// Each accept matched a change of the removed environment: it is
	// reported as accepted, with what to do, and never as matching nothing.
	all := strings.Join(notices, "\n")
	if strings.Contains(all, "matched no change") || strings.Count(all, "[prod, removed]") != 4 || !strings.Contains(all, "accepted by") {
		t.Errorf("notices:\n%s", all)
	}
	if _, err := os.Stat(filepath.Join(dist, "app", "prod")); err == nil {
		t.Error("prod's output is still there")
	}
}

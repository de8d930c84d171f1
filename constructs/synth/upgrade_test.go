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
			Workload: stagecraft.Workload{Image: "ghcr.io/acme/fixed:" + v.fixedImage}, FixedJobName: true})
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
	hint := regexp.MustCompile(`stagecraft.Change\{Kind: "([^"]*)", Name: "([^"]*)", Field: "([^"]*)"(, Namespace: "([^"]*)")?\}`)
	for _, p := range verr.Problems {
		m := hint.FindStringSubmatch(p.Detail)
		out = append(out, stagecraft.Change{Kind: m[1], Name: m[2], Field: m[3], Namespace: m[5]})
	}
	return out
}

// TestUpgradeCheckUnreadablePrevious: a previous output that does not
// parse is reported, and does not block the write.
func TestUpgradeCheckUnreadablePrevious(t *testing.T) {
	dist := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dist, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dist, "app", "c.k8s.yaml"), []byte("kind: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notices, err := write(t, dist, v1())
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "could not be read") || !strings.Contains(notices[0], "upgrade check is skipped") {
		t.Errorf("notices %q", notices)
	}
	data, err := os.ReadFile(filepath.Join(dist, "app", "c.k8s.yaml"))
	if err != nil || !strings.Contains(string(data), "kind: StatefulSet") {
		t.Errorf("the new output was not written: %v", err)
	}
}

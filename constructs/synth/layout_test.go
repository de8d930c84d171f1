package synth_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

func TestMain(m *testing.M) { stagetest.Main(m) }

const image = "ghcr.io/acme/worker:1.0.0"

// twoPipelines declares two pipelines whose stages share names.
func twoPipelines(chart cdk8s.Chart) {
	for _, ns := range []string{"blue", "green"} {
		p := stagecraft.NewPipeline(chart, ns, stagecraft.PipelineProps{})
		data := stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{Size: "1Gi"})
		stagecraft.NewBatchStage(p, "fill", stagecraft.BatchStageProps{Workload: stagecraft.Workload{
			Image: image, Mounts: []stagecraft.Mount{{Storage: data, Path: "/data"}}}})
		stagecraft.NewProcessorStage(p, "api", stagecraft.ProcessorStageProps{
			Workload: stagecraft.Workload{Image: image, Mounts: []stagecraft.Mount{{Storage: data, Path: "/data", ReadOnly: true}}},
			Ports:    []stagecraft.Port{{Name: "http", ContainerPort: 8080}},
		})
	}
}

// files synthesizes define's app with layout.
func files(t *testing.T, layout synth.Layout, define func(cdk8s.Chart)) map[string][]byte {
	t.Helper()
	var out map[string][]byte
	var err error
	stagetest.Do(func() {
		app := cdk8s.NewApp(nil)
		define(cdk8s.NewChart(app, jsii.String("c"), nil))
		out, err = synth.Files(app, layout)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kustomized returns the manifests the kustomization lists, in order.
func kustomized(t *testing.T, files map[string][]byte) []string {
	t.Helper()
	k := string(files[synth.KustomizationFile])
	_, list, ok := strings.Cut(k, "resources:\n")
	if !ok {
		t.Fatalf("kustomization without resources:\n%s", k)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		names = append(names, strings.TrimPrefix(l, "- "))
	}
	return names
}

// TestFilePerObject: one file per object, named after its kind and name
// (with the namespace where two pipelines share a name), listed by the
// kustomization in the order of the single-file layout, with the same
// documents.
func TestFilePerObject(t *testing.T) {
	perChart := files(t, synth.FilePerChart{}, twoPipelines)
	perObject := files(t, synth.FilePerObject{}, twoPipelines)
	names := kustomized(t, perObject)
	if got := kustomized(t, perChart); len(got) != 1 || got[0] != "c.k8s.yaml" {
		t.Fatalf("file per chart lists %v", got)
	}
	var joined [][]byte
	for _, n := range names {
		data, ok := perObject[n]
		if !ok {
			t.Fatalf("the kustomization lists %s, which is not written", n)
		}
		joined = append(joined, data)
	}
	if got, want := bytes.Join(joined, []byte("---\n")), perChart["c.k8s.yaml"]; !bytes.Equal(got, want) {
		t.Errorf("the files in kustomization order differ from the single file:\n%s\n---- want\n%s", got, want)
	}
	for _, want := range []string{"namespace-blue.yaml", "networkpolicy-blue-default-deny.yaml",
		"persistentvolumeclaim-green-data.yaml", "deployment-green-api.yaml"} {
		if _, ok := perObject[want]; !ok {
			t.Errorf("no %s among %v", want, names)
		}
	}
	if len(perObject) != len(names)+2 { // and the kustomization and diagram
		t.Errorf("%d files, %d manifests listed", len(perObject), len(names))
	}
	if !bytes.Equal(perObject[synth.DiagramFile], perChart[synth.DiagramFile]) {
		t.Error("the layouts write different diagrams")
	}
}

// TestFilePerObjectNamesWithoutNamespace: a pipeline's objects need no
// namespace in their file names when nothing clashes.
func TestFilePerObjectNamesWithoutNamespace(t *testing.T) {
	got := files(t, synth.FilePerObject{}, func(chart cdk8s.Chart) {
		p := stagecraft.NewPipeline(chart, "solo", stagecraft.PipelineProps{})
		stagecraft.NewBatchStage(p, "fill", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
	})
	want := "namespace-solo.yaml networkpolicy-default-deny.yaml networkpolicy-allow-dns.yaml job-fill-"
	if names := kustomized(t, got); !strings.HasPrefix(strings.Join(names, " "), want) || len(names) != 4 {
		t.Errorf("files %v, want %v<digest>.yaml", names, want)
	}
}

// TestWriteWithLayout writes an app with the layout its Options choose.
func TestWriteWithLayout(t *testing.T) {
	dist := t.TempDir()
	var err error
	stagetest.Do(func() {
		app := cdk8s.NewApp(nil)
		twoPipelines(cdk8s.NewChart(app, jsii.String("c"), nil))
		err = synth.Write(app, "app", synth.Options{Dir: dist, Layout: synth.FilePerObject{}})
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dist, "app"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 16 {
		t.Errorf("only %d files in dist/app", len(entries))
	}
	if m, _ := filepath.Glob(filepath.Join(dist, "app", "job-fill-*.yaml")); len(m) != 2 {
		t.Errorf("want the Jobs of both pipelines, got %v", m)
	}
}

package gate

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// TestDistAgreesWithTheGate reads stagecraft's committed output (dist/)
// and checks the contract between the library, which writes the gates,
// and this program, which runs them: the image, the arguments, and the
// Jobs they name.
func TestDistAgreesWithTheGate(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "dist", "*", "*.k8s.yaml"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "dist", "*", "*", "*.k8s.yaml"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no dist/*/*.k8s.yaml: run make synth")
	}
	gates := 0
	for _, f := range files {
		jobs, pods := read(t, f)
		released := map[string]bool{}
		for where, spec := range pods {
			for _, c := range append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...) {
				if c.Name != "gate" && c.Name != "wait-upstream" {
					continue
				}
				gates++
				if c.Image != Image {
					t.Errorf("%s: %s: image %s, want %s", f, where, c.Image, Image)
				}
				cmd, err := ParseArgs(c.Args)
				if err != nil {
					t.Errorf("%s: %s: args %q: %v", f, where, c.Args, err)
					continue
				}
				for _, u := range cmd.Upstream {
					if jobs[cmd.Namespace+"/"+u] == nil {
						t.Errorf("%s: %s waits for Job %s/%s, which is not in the output", f, where, cmd.Namespace, u)
					}
				}
				if cmd.Mode == "release" {
					released[cmd.Namespace+"/"+cmd.Job] = true
					if j := jobs[cmd.Namespace+"/"+cmd.Job]; j == nil || gateIndex(&corev1.Pod{Spec: j.Spec.Template.Spec}) < 0 {
						t.Errorf("%s: %s releases Job %s/%s, which is not in the output with the scheduling gate %s", f, where, cmd.Namespace, cmd.Job, SchedulingGate)
					}
				}
			}
		}
		for key, j := range jobs {
			if gateIndex(&corev1.Pod{Spec: j.Spec.Template.Spec}) >= 0 && !released[key] {
				t.Errorf("%s: Job %s is held by %s, but no gate releases it", f, key, SchedulingGate)
			}
		}
	}
	if gates == 0 {
		t.Error("no gate or wait container in dist/: the check proves nothing")
	}
	t.Logf("%d gate and wait containers in %d files", gates, len(files))
}

// read returns the Jobs of a manifest file by namespace/name, and every
// pod spec by the kind and name of its object.
func read(t *testing.T, file string) (map[string]*batchv1.Job, map[string]corev1.PodSpec) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	jobs, pods := map[string]*batchv1.Job{}, map[string]corev1.PodSpec{}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj struct {
			metav1.TypeMeta   `json:",inline"`
			metav1.ObjectMeta `json:"metadata"`
			Spec              struct {
				Template    *corev1.PodTemplateSpec  `json:"template"`
				JobTemplate *batchv1.JobTemplateSpec `json:"jobTemplate"`
			} `json:"spec"`
		}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		where := obj.Kind + " " + obj.Namespace + "/" + obj.Name
		switch {
		case obj.Spec.Template != nil:
			pods[where] = obj.Spec.Template.Spec
			if obj.Kind == "Job" {
				jobs[obj.Namespace+"/"+obj.Name] = &batchv1.Job{Spec: batchv1.JobSpec{Template: *obj.Spec.Template}}
			}
		case obj.Spec.JobTemplate != nil:
			pods[where] = obj.Spec.JobTemplate.Spec.Template.Spec
		}
	}
	return jobs, pods
}

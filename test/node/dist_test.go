package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// object is one Kubernetes object of an app, in apply order.
type object struct {
	file string // relative to the app's folder
	doc  int    // 1-based document number in the file
	u    *unstructured.Unstructured
}

func (o *object) String() string {
	name := o.u.GetName()
	if ns := o.u.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %s", o.u.GetKind(), name)
}

// unit is one deployable folder of dist/: dist/<app>/ when it holds
// manifests itself, else each dist/<app>/<env>/.
type unit struct {
	name string // "seed" or "rag/prod"
	dir  string
}

func distDir() string {
	if d := os.Getenv("STAGECRAFT_DIST"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "dist")
}

func discoverUnits(dist string) ([]unit, error) {
	entries, err := os.ReadDir(dist)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var units []unit
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(dist, e.Name())
		if hasManifests(dir) {
			units = append(units, unit{name: e.Name(), dir: dir})
			continue
		}
		subs, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, s := range subs {
			sub := filepath.Join(dir, s.Name())
			if s.IsDir() && !strings.HasPrefix(s.Name(), ".") && hasManifests(sub) {
				units = append(units, unit{name: e.Name() + "/" + s.Name(), dir: sub})
			}
		}
	}
	return units, nil
}

func manifestFile(name string) bool {
	return (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) &&
		name != "kustomization.yaml" && name != "kustomization.yml" && name != "Chart.yaml"
}

func hasManifests(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() && manifestFile(e.Name()) {
			return true
		}
	}
	return false
}

// readObjects reads every object of the unit's YAML files, files sorted,
// documents in order.
func readObjects(dir string) ([]*object, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && manifestFile(d.Name()) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var objs []*object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, f)
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for doc := 1; ; doc++ {
			raw, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", rel, err)
			}
			var m map[string]any
			if err := yaml.Unmarshal(raw, &m); err != nil {
				return nil, fmt.Errorf("%s#%d: %w", rel, doc, err)
			}
			if m == nil || m["kind"] == nil || m["apiVersion"] == nil {
				continue
			}
			objs = append(objs, &object{file: rel, doc: doc, u: &unstructured.Unstructured{Object: m}})
		}
	}
	return objs, nil
}

// workloadKind says how a pod template runs.
type workloadKind int

const (
	longRunning workloadKind = iota // Deployment, StatefulSet, DaemonSet, ReplicaSet
	batchJob                        // Job
	cronJob                         // CronJob (a Job is made from it)
	barePod
)

// template is a pod template of the app, with where it lives in its object.
type template struct {
	obj  *object
	kind workloadKind
	spec *corev1.PodTemplateSpec
	path []string // field path of the template in the object
	// replicas the controller keeps (long-running kinds)
	replicas int32
	// claimTemplates names a StatefulSet's volumeClaimTemplates, which its
	// containers mount like volumes
	claimTemplates map[string]bool
}

func (t *template) String() string { return t.obj.String() }
func (t *template) ns() string     { return t.obj.u.GetNamespace() }

func fromUnstructured(u map[string]any, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u, into)
}

// templates finds every pod template of the app.
func templates(objs []*object) ([]*template, error) {
	var out []*template
	for _, o := range objs {
		var t *template
		switch o.u.GetKind() {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
			var d struct {
				Spec struct {
					Replicas             *int32                 `json:"replicas"`
					Template             corev1.PodTemplateSpec `json:"template"`
					VolumeClaimTemplates []struct {
						Metadata struct {
							Name string `json:"name"`
						} `json:"metadata"`
					} `json:"volumeClaimTemplates"`
				} `json:"spec"`
			}
			if err := fromUnstructured(o.u.Object, &d); err != nil {
				return nil, fmt.Errorf("%s: %w", o, err)
			}
			r := int32(1)
			if d.Spec.Replicas != nil {
				r = *d.Spec.Replicas
			}
			t = &template{obj: o, kind: longRunning, spec: &d.Spec.Template, path: []string{"spec", "template"}, replicas: r, claimTemplates: map[string]bool{}}
			for _, ct := range d.Spec.VolumeClaimTemplates {
				t.claimTemplates[ct.Metadata.Name] = true
			}
		case "Job":
			var j batchv1.Job
			if err := fromUnstructured(o.u.Object, &j); err != nil {
				return nil, fmt.Errorf("%s: %w", o, err)
			}
			t = &template{obj: o, kind: batchJob, spec: &j.Spec.Template, path: []string{"spec", "template"}}
		case "CronJob":
			var cj batchv1.CronJob
			if err := fromUnstructured(o.u.Object, &cj); err != nil {
				return nil, fmt.Errorf("%s: %w", o, err)
			}
			t = &template{obj: o, kind: cronJob, spec: &cj.Spec.JobTemplate.Spec.Template, path: []string{"spec", "jobTemplate", "spec", "template"}}
		case "Pod":
			var p corev1.Pod
			if err := fromUnstructured(o.u.Object, &p); err != nil {
				return nil, fmt.Errorf("%s: %w", o, err)
			}
			t = &template{obj: o, kind: barePod, spec: &corev1.PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec}}
		}
		if t != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// gateProgram is a container that runs stagecraft's gate program
// (internal/gate): the container "gate" of a gate Job (release mode) or an
// init container "wait-upstream" (wait mode). The suite never changes
// these: they run the gate's own image with the manifest's arguments.
type gateProgram struct {
	container string
	cmd       gate.Command
}

// waitContainer and gateContainer are the names stagecraft gives the gate
// program's containers.
const (
	waitContainer = "wait-upstream"
	gateContainer = "gate"
)

// isGateProgram tells a container that runs the gate program: named as
// stagecraft names them, with arguments the gate program accepts.
func isGateProgram(c corev1.Container) bool {
	_, ok := gateCommand(c)
	return ok
}

func gateCommand(c corev1.Container) (gate.Command, bool) {
	if c.Name != waitContainer && c.Name != gateContainer {
		return gate.Command{}, false
	}
	cmd, err := gate.ParseArgs(c.Args)
	if err != nil || len(c.Command) > 0 {
		return gate.Command{}, false
	}
	if (c.Name == waitContainer) != (cmd.Mode == "wait") {
		return gate.Command{}, false
	}
	return cmd, true
}

// gatesOf lists the gate programs of a pod template.
func gatesOf(t *template) []gateProgram {
	var out []gateProgram
	for _, c := range append(append([]corev1.Container{}, t.spec.Spec.InitContainers...), t.spec.Spec.Containers...) {
		if cmd, ok := gateCommand(c); ok {
			out = append(out, gateProgram{container: c.Name, cmd: cmd})
		}
	}
	return out
}

// waitsOf lists the wait containers (the gate program's wait mode) of a
// pod template.
func waitsOf(t *template) []gateProgram {
	var out []gateProgram
	for _, g := range gatesOf(t) {
		if g.cmd.Mode == "wait" {
			out = append(out, g)
		}
	}
	return out
}

// releaseOf returns the gate program of a gate Job's pod template.
func releaseOf(t *template) (gateProgram, bool) {
	for _, g := range gatesOf(t) {
		if g.cmd.Mode == "release" {
			return g, true
		}
	}
	return gateProgram{}, false
}

// isHeld tells a Job whose pods carry the gate's scheduling gate.
func isHeld(t *template) bool {
	if t.kind != batchJob {
		return false
	}
	for _, g := range t.spec.Spec.SchedulingGates {
		if g.Name == gate.SchedulingGate {
			return true
		}
	}
	return false
}

// call is a declared call: an environment variable <CALLEE>_ENDPOINT or
// <CALLEE>_<PORT>_ENDPOINT holding host:port.
type call struct {
	container, env, target string
}

var endpointVar = regexp.MustCompile(`^[A-Z0-9_]+_ENDPOINT$`)

func callsOf(c corev1.Container) []call {
	var out []call
	for _, e := range c.Env {
		if endpointVar.MatchString(e.Name) && e.Value != "" {
			out = append(out, call{container: c.Name, env: e.Name, target: e.Value})
		}
	}
	return out
}

// typed converts the app's Services, NetworkPolicies and PersistentVolumes.
func services(objs []*object) []*corev1.Service {
	var out []*corev1.Service
	for _, o := range objs {
		if o.u.GetKind() == "Service" && o.u.GetAPIVersion() == "v1" {
			var s corev1.Service
			if fromUnstructured(o.u.Object, &s) == nil {
				out = append(out, &s)
			}
		}
	}
	return out
}

func policies(objs []*object) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, o := range objs {
		if o.u.GetKind() == "NetworkPolicy" {
			var p networkingv1.NetworkPolicy
			if fromUnstructured(o.u.Object, &p) == nil {
				out = append(out, &p)
			}
		}
	}
	return out
}

func namespacesOf(objs []*object) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range objs {
		ns := o.u.GetNamespace()
		if o.u.GetKind() == "Namespace" {
			ns = o.u.GetName()
		}
		if ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out
}

var _ = appsv1.SchemeGroupVersion

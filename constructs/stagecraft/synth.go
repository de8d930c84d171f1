package stagecraft

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/internal/l1"
	"github.com/stagecraft-dev/stagecraft/internal/yamlout"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DistEnv names the environment variable that overrides the directory apps
// write to. Default: "dist", relative to the working directory.
const DistEnv = "STAGECRAFT_DIST"

// DiagramFile is the name of the Mermaid diagram Synth writes beside the
// manifests.
const DiagramFile = "pipeline.md"

// Validate returns a *ValidationError listing every problem in the
// pipelines of app, or nil. It makes no call into the cdk8s runtime.
func Validate(app constructs.Construct) error {
	st := lookupApp(app)
	if st == nil {
		return nil
	}
	var all []Problem
	for _, r := range st.orphans {
		all = append(all, r.problemList()...)
	}
	for _, p := range st.pipelines {
		all = append(all, p.problemList()...)
		for _, c := range p.children {
			all = append(all, c.problemList()...)
		}
	}
	all = append(all, crossChecks(st)...)
	if len(all) > 0 {
		return &ValidationError{Problems: all}
	}
	return nil
}

// RendererEnv names the environment variable that selects how objects
// reach cdk8s. Unset (the default), stagecraft writes its objects itself,
// in Go, next to the objects that other constructs add to the same chart
// through cdk8s: one jsii call per chart instead of one per object. Set to
// "l1", each object is created as a cdk8s L1 object first, which takes
// about ten times as long; the output is the same (a test proves it).
const RendererEnv = "STAGECRAFT_RENDERER"

// Manifests validates app and returns the YAML of every chart of the app:
// file name ("<chart>.k8s.yaml") to content. A chart's file holds the
// objects of its pipelines, in dependency order, then the objects that
// other constructs added to the chart through cdk8s. It writes nothing to
// disk.
func Manifests(app constructs.Construct) (map[string][]byte, error) {
	_, files, err := manifests(app)
	return files, err
}

// manifests is Manifests, with the file names in the order of the charts.
func manifests(app constructs.Construct) ([]string, map[string][]byte, error) {
	capp, ok := app.(cdk8s.App)
	if !ok {
		return nil, nil, fmt.Errorf("stagecraft: Manifests needs the cdk8s App, got %T", app)
	}
	if err := Validate(app); err != nil {
		return nil, nil, err
	}
	// The objects are short-lived: a tighter heap target keeps the peak
	// memory of a large synth near that of native cdk8s, for little CPU.
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	// Each chart's objects are written as they are rendered, so that at
	// most one pipeline's objects are alive at once: its own first, then
	// those of other constructs of the chart, through one ToJson call.
	writers := map[cdk8s.Chart]*yamlout.Writer{}
	order := map[string]int{}
	useL1 := os.Getenv(RendererEnv) == "l1"
	if st := lookupApp(app); st != nil {
		if err := st.render(writers, order, useL1); err != nil {
			return nil, nil, err
		}
	}
	var names []string
	files := map[string][]byte{}
	for _, chart := range *capp.Charts() {
		w := writers[chart]
		if w == nil {
			w = yamlout.NewWriter()
		}
		objs := *chart.ToJson()
		if useL1 {
			sortObjects(objs, order)
		}
		for _, o := range objs {
			m, ok := o.(map[string]any)
			if !ok {
				return nil, nil, fmt.Errorf("stagecraft: chart %s holds a %T, not an object", *chart.Node().Id(), o)
			}
			if err := w.Add(m); err != nil {
				return nil, nil, fmt.Errorf("stagecraft: render chart %s: %w", *chart.Node().Id(), err)
			}
		}
		if len(w.Bytes()) == 0 {
			continue
		}
		name := *chart.Node().Id() + ".k8s.yaml"
		names = append(names, name)
		files[name] = w.Bytes()
	}
	return names, files, nil
}

// render turns every pipeline into its objects, in order. By default it
// writes them as YAML into the writer of their chart. With useL1 it creates
// them in the construct tree as cdk8s L1 objects instead (once per app),
// recording their order.
func (a *appState) render(writers map[cdk8s.Chart]*yamlout.Writer, order map[string]int, useL1 bool) error {
	n := 0
	for _, p := range a.pipelines {
		w := writers[p.chart]
		if w == nil && !useL1 {
			w = yamlout.NewWriter()
			writers[p.chart] = w
		}
		enc := newEncoding(w)
		err := p.eachObject(func(o object) error {
			if !useL1 {
				return enc.add(o)
			}
			order[objectKey(o)] = n
			n++
			if a.rendered {
				return nil
			}
			return l1.Create(o.scope, o.id, o.obj)
		})
		if err == nil && !useL1 {
			err = enc.flush()
		}
		if err != nil {
			return err
		}
	}
	a.rendered = a.rendered || useL1
	return nil
}

// encoding turns objects into YAML on every core, in batches, and appends
// the documents to a writer in the objects' order. Batches keep the memory
// of a large pipeline bounded.
type encoding struct {
	w        *yamlout.Writer
	encoders []*yamlout.Encoder
	batch    []object
}

const encodingBatch = 256

func newEncoding(w *yamlout.Writer) *encoding {
	e := &encoding{w: w, batch: make([]object, 0, encodingBatch)}
	for range runtime.GOMAXPROCS(0) {
		e.encoders = append(e.encoders, yamlout.NewEncoder())
	}
	return e
}

func (e *encoding) add(o object) error {
	e.batch = append(e.batch, o)
	if len(e.batch) == encodingBatch {
		return e.flush()
	}
	return nil
}

func (e *encoding) flush() error {
	docs := make([][]byte, len(e.batch))
	errs := make([]error, len(e.batch))
	var wg sync.WaitGroup
	for k, enc := range e.encoders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(e.batch); i += len(e.encoders) {
				m, err := l1.ToMap(e.batch[i].obj)
				if err == nil {
					docs[i], err = enc.Encode(m)
				}
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	for i, doc := range docs {
		if errs[i] != nil {
			return fmt.Errorf("stagecraft: render %s: %w", objectKey(e.batch[i]), errs[i])
		}
		e.w.AddDocument(doc)
	}
	e.batch = e.batch[:0]
	return nil
}

// objectKey names an object in error messages and in the L1 renderer's
// order: "Kind/namespace/name".
func objectKey(o object) string {
	m, err := meta.Accessor(o.obj)
	if err != nil {
		return ""
	}
	return o.obj.GetObjectKind().GroupVersionKind().Kind + "/" + m.GetNamespace() + "/" + m.GetName()
}

// sortObjects orders a chart's objects as stagecraft created them (so that
// a namespace comes before what runs in it, storage before the stages that
// mount it); objects added by other constructs follow, in their own order.
func sortObjects(objs []any, order map[string]int) {
	rank := func(o any) int {
		u := unstructured.Unstructured{}
		u.Object, _ = o.(map[string]any)
		if i, ok := order[u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName()]; ok {
			return i
		}
		return len(order)
	}
	sort.SliceStable(objs, func(i, j int) bool { return rank(objs[i]) < rank(objs[j]) })
}

// KustomizationFile is the name of the kustomization Synth writes beside
// the manifests, so that "kubectl apply -k" applies them in order.
const KustomizationFile = "kustomization.yaml"

// appFiles returns everything Synth writes for one app: the manifests, the
// diagram and a kustomization that lists the manifests in order.
func appFiles(app constructs.Construct) (map[string][]byte, error) {
	names, files, err := manifests(app) // validates app
	if err != nil {
		return nil, err
	}
	files[DiagramFile] = []byte(diagram(app))
	var k strings.Builder
	k.WriteString("# Generated by stagecraft; do not edit.\n")
	k.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	k.WriteString("# Keep the objects in the order stagecraft wrote them: what a stage\n# depends on comes before it.\n")
	k.WriteString("sortOptions:\n  order: fifo\nresources:\n")
	for _, n := range names {
		k.WriteString("- " + n + "\n")
	}
	files[KustomizationFile] = []byte(k.String())
	return files, nil
}

// plainName reports whether name can be a directory of dist/ by itself.
func plainName(name string) bool {
	return name != "" && !strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, ".")
}

func distDir(name string) (string, error) {
	if !plainName(name) {
		return "", fmt.Errorf("stagecraft: app name %q must be a plain directory name", name)
	}
	dist := os.Getenv(DistEnv)
	if dist == "" {
		dist = "dist"
	}
	return filepath.Join(dist, name), nil
}

// Synth validates app and writes its manifests, a kustomization.yaml and
// the pipeline diagram into <dist>/<name>/, where dist is $STAGECRAFT_DIST
// or "dist". The directory is replaced as a whole and only on success: a
// failed or interrupted synth leaves the previous output exactly as it was.
func Synth(app constructs.Construct, name string) error {
	dir, err := distDir(name)
	if err != nil {
		return err
	}
	files, err := appFiles(app)
	if err != nil {
		return err
	}
	return WriteDir(dir, files)
}

// SynthEnvironments synthesizes one app per environment from a single
// definition: for each name in envs it creates a cdk8s App, calls define
// with the environment's name and the App (define adds its charts and
// pipelines, choosing per-environment settings in Go), and writes the
// result to <dist>/<name>/<env>/. The problems of every environment are
// reported together, each prefixed with its environment; nothing is
// written unless every environment synthesizes.
func SynthEnvironments(name string, envs []string, define func(env string, app constructs.Construct)) error {
	dir, err := distDir(name)
	if err != nil {
		return err
	}
	if len(envs) == 0 {
		return fmt.Errorf("stagecraft: app %s: no environments", name)
	}
	all := map[string][]byte{}
	var problems []Problem
	seen := map[string]bool{}
	for _, env := range envs {
		if !plainName(env) || seen[env] {
			return fmt.Errorf("stagecraft: app %s: environment %q must be a unique plain directory name", name, env)
		}
		seen[env] = true
		app := cdk8s.NewApp(nil)
		define(env, app)
		files, err := appFiles(app)
		var verr *ValidationError
		switch {
		case errors.As(err, &verr):
			for _, p := range verr.Problems {
				p.Construct = "[" + env + "] " + p.Construct
				problems = append(problems, p)
			}
			continue
		case err != nil:
			return fmt.Errorf("environment %s: %w", env, err)
		}
		for n, data := range files {
			all[env+"/"+n] = data
		}
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return WriteDir(dir, all)
}

// MainEnvironments is SynthEnvironments for an app's main function: it
// exits with status 1 after printing the problems to standard error.
func MainEnvironments(name string, envs []string, define func(env string, app constructs.Construct)) {
	exit(name, SynthEnvironments(name, envs, define))
}

// Main synthesizes app as Synth does and exits: with status 0 on success,
// or with status 1 after printing the problems to standard error. It stops
// the jsii runtime, so call it last in an app's main function.
func Main(app constructs.Construct, name string) {
	exit(name, Synth(app, name))
}

func exit(name string, err error) {
	// The app is done with cdk8s: stop jsii's Node.js process and remove
	// its temporary directory, which would otherwise stay behind in /tmp.
	jsii.Close()
	if err == nil {
		return
	}
	var verr *ValidationError
	if errors.As(err, &verr) {
		fmt.Fprintf(os.Stderr, "stagecraft: app %s: %s\n", name, verr.Error())
	} else {
		fmt.Fprintf(os.Stderr, "stagecraft: app %s: %v\n", name, err)
	}
	os.Exit(1)
}

package stagecraft

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/internal/l1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/yaml"
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

// Manifests validates app, adds its pipelines' objects to the construct
// tree, and returns the YAML of every chart of the app: file name
// ("<chart>.k8s.yaml") to content. It writes nothing to disk.
func Manifests(app constructs.Construct) (map[string][]byte, error) {
	capp, ok := app.(cdk8s.App)
	if !ok {
		return nil, fmt.Errorf("stagecraft: Manifests needs the cdk8s App, got %T", app)
	}
	if err := Validate(app); err != nil {
		return nil, err
	}
	order := map[string]int{}
	if st := lookupApp(app); st != nil {
		if err := st.render(order); err != nil {
			return nil, err
		}
	}
	files := map[string][]byte{}
	for _, chart := range *capp.Charts() {
		objs := *chart.ToJson()
		if len(objs) == 0 {
			continue
		}
		sortObjects(objs, order)
		var buf bytes.Buffer
		for i, o := range objs {
			y, err := yaml.Marshal(o)
			if err != nil {
				return nil, fmt.Errorf("stagecraft: render chart %s: %w", *chart.Node().Id(), err)
			}
			if i > 0 {
				buf.WriteString("---\n")
			}
			buf.Write(y)
		}
		files[*chart.Node().Id()+".k8s.yaml"] = buf.Bytes()
	}
	return files, nil
}

// render creates the Kubernetes objects of every pipeline in the construct
// tree, once, and records the order they should be written in.
func (a *appState) render(order map[string]int) error {
	n := 0
	for _, p := range a.pipelines {
		for _, o := range p.renderObjects() {
			if !a.rendered {
				if err := l1.Create(o.scope, o.id, o.obj); err != nil {
					return err
				}
			}
			order[objectKey(o)] = n
			n++
		}
	}
	a.rendered = true
	return nil
}

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
	key := func(o any) int {
		m, _ := o.(map[string]any)
		md, _ := m["metadata"].(map[string]any)
		k := fmt.Sprintf("%v/%v/%v", m["kind"], str(md["namespace"]), str(md["name"]))
		if i, ok := order[k]; ok {
			return i
		}
		return len(order)
	}
	sort.SliceStable(objs, func(i, j int) bool { return key(objs[i]) < key(objs[j]) })
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// Synth validates app and writes its manifests into <dist>/<name>/, where
// dist is $STAGECRAFT_DIST or "dist". The directory is replaced as a whole
// and only on success: a failed or interrupted synth leaves the previous
// output exactly as it was.
func Synth(app constructs.Construct, name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return fmt.Errorf("stagecraft: app name %q must be a plain directory name", name)
	}
	files, err := Manifests(app)
	if err != nil {
		return err
	}
	diagram, err := Diagram(app)
	if err != nil {
		return err
	}
	files[DiagramFile] = []byte(diagram)
	dist := os.Getenv(DistEnv)
	if dist == "" {
		dist = "dist"
	}
	return WriteDir(filepath.Join(dist, name), files)
}

// Main synthesizes app as Synth does and exits: with status 0 on success,
// or with status 1 after printing the problems to standard error. Call it
// last in an app's main function.
func Main(app constructs.Construct, name string) {
	err := Synth(app, name)
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

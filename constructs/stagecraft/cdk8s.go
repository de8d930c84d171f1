package stagecraft

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/internal/yamlout"
	"k8s.io/apimachinery/pkg/runtime"
)

// stagecraft writes its objects itself (see Synthesize), so they are not
// in the construct tree that cdk8s's own App.Synth writes. So that an app
// that calls app.Synth() still gets them, each pipeline registers a
// validation with its node: cdk8s validates the tree before it writes the
// charts, and the validation then adds the pipeline's objects to the tree,
// through cdk8s's Include, or reports the app's problems, which fail the
// synthesis. cdk8s adds the chart's labels (and, to cluster-scoped objects,
// its namespace) to the included objects itself.

// includeID is the construct id, under each pipeline, of its objects when
// cdk8s synthesizes the app.
const includeID = "Objects"

// synthHook is the validation a pipeline registers with its node.
type synthHook struct{ p *Pipeline }

// watchSynth registers the pipeline's synthHook.
func (p *Pipeline) watchSynth() { p.Node().AddValidation(&synthHook{p: p}) }

// Validate is called by cdk8s when it validates the construct tree, as
// App.Synth does before it writes the charts. It returns the app's
// problems (once, from the first pipeline), or adds the pipeline's objects
// to the tree.
func (h *synthHook) Validate() *[]*string {
	st := h.p.state
	if st == nil || st.collecting || h.p.included {
		return &[]*string{}
	}
	h.p.included = true
	if st.checked == nil {
		st.checked = &checked{}
		st.checked.pipelines, st.checked.problems = check(st, nil)
		if len(st.checked.problems) > 0 {
			msgs := make([]*string, 0, len(st.checked.problems)+1)
			head, _, _ := strings.Cut((&ValidationError{Problems: st.checked.problems}).Error(), "\n")
			msgs = append(msgs, jsii.String("stagecraft: "+head+" (synth.Main reports them without a stack trace):"))
			for _, p := range st.checked.problems {
				msgs = append(msgs, jsii.String(p.String()))
			}
			return &msgs
		}
	}
	if len(st.checked.problems) > 0 {
		return &[]*string{}
	}
	for _, a := range st.checked.pipelines {
		if a.p == h.p {
			if err := a.include(); err != nil {
				return &[]*string{jsii.String(err.Error())}
			}
		}
	}
	return &[]*string{}
}

// checked is the result of checking an app for cdk8s's synthesis.
type checked struct {
	pipelines []analyzed
	problems  []Problem
}

// include adds the pipeline's objects to the construct tree, without the
// chart's labels, which cdk8s adds.
func (a analyzed) include() error {
	r := &rendering{p: a.p, g: a.g, cdk8sLabels: true}
	w := yamlout.NewWriter()
	err := r.each(func(o runtime.Object, _ string) error {
		m, err := yamlout.ToMap(o)
		if err != nil {
			return err
		}
		return w.Add(m)
	})
	if err != nil {
		return fmt.Errorf("stagecraft: render %s: %w", a.p.path, err)
	}
	if len(r.problems) > 0 {
		return &ValidationError{Problems: r.problems}
	}
	f, err := os.CreateTemp("", "stagecraft-*.yaml")
	if err != nil {
		return fmt.Errorf("stagecraft: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(w.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("stagecraft: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("stagecraft: %w", err)
	}
	cdk8s.NewInclude(a.p, jsii.String(includeID), &cdk8s.IncludeProps{Url: jsii.String(f.Name())})
	return nil
}

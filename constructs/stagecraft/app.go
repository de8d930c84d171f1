package stagecraft

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// appState is what stagecraft knows of one cdk8s App: its pipelines, in
// the order they were created, and the constructs created outside any
// pipeline (whose problems Validate reports). It is a construct itself, a
// child of the App, so that it lives exactly as long as the App does and
// no package-level registry holds on to finished apps.
type appState struct {
	constructs.Construct
	pipelines []*Pipeline
	orphans   []*member
	checked   *checked // for cdk8s's own synthesis (see synthHook)
	// collecting is set while Synthesize collects the objects of other
	// constructs through cdk8s, which validates the tree each time.
	collecting bool
}

// stateID is the construct id of an App's appState.
const stateID = "stagecraft"

// IsStagecraftState gives the type the exported method jsii needs to
// register it as a construct of its own.
func (a *appState) IsStagecraftState() bool { return true }

// stateOf returns the state of the app whose construct tree has root, or,
// with create, a new one. It returns nil for a root that is not an app
// stagecraft knows (create false), or whose id "stagecraft" is taken by
// another construct.
func stateOf(root constructs.IConstruct, create bool) *appState {
	child := root.Node().TryFindChild(jsii.String(stateID))
	if a, ok := child.(*appState); ok {
		return a
	}
	scope, ok := root.(constructs.Construct)
	if !create || child != nil || !ok {
		return nil
	}
	a := &appState{}
	constructs.NewConstruct_Override(a, scope, jsii.String(stateID))
	return a
}

// count returns the number of pipelines of the app; nil has none.
func (a *appState) count() int {
	if a == nil {
		return 0
	}
	return len(a.pipelines)
}

package stagecraft

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/aws/constructs-go/constructs/v10"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Misuse of the API (a nil scope, a Pipeline that NewPipeline did not make,
// a scope cdk8s refuses, Override(nil), Endpoint of a missing port) never
// panics: constructors cannot return errors, so each misuse is a problem,
// reported by Validate and Synthesize with every other problem. A
// construct that belongs to no app (its scope was nil) has no app to report
// it: its problem is reported by the next Validate or Synthesize of any
// app in the process, once.

// detached holds the problems of constructs that belong to no app.
var detached struct {
	sync.Mutex
	problems []Problem
}

// reportDetached records the problem of a construct that belongs to no app.
func reportDetached(path string, err *field.Error) {
	detached.Lock()
	defer detached.Unlock()
	detached.problems = append(detached.problems, problemsOf(path, field.ErrorList{err})...)
}

// takeDetached returns the problems of constructs that belong to no app,
// and forgets them.
func takeDetached() []Problem {
	detached.Lock()
	defer detached.Unlock()
	out := detached.problems
	detached.problems = nil
	return out
}

// nilScope reports whether scope is nil or a nil pointer.
func nilScope(scope constructs.Construct) bool {
	if scope == nil {
		return true
	}
	v := reflect.ValueOf(scope)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// catch runs f, which calls into cdk8s, and returns its panic as an
// error: jsii panics with the JavaScript error when cdk8s refuses a call.
func catch(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	f()
	return nil
}

// refused is the problem of a construct that cdk8s refused to create.
func refused(err error) *field.Error {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return forbidden(field.NewPath("scope"), nil, "cdk8s refused the construct ("+msg+"); pass a construct of a live cdk8s App (synth.Main, which stops the runtime, must come last)")
}

// lockConstructs serializes the caller with stagecraft's other
// constructors and wiring methods (see constructMu); defer its result.
func lockConstructs() func() {
	constructMu.Lock()
	return constructMu.Unlock
}

// create registers the member's construct with cdk8s, unless it belongs
// to no app; a refusal is a problem of the construct.
func (m *member) create(self, scope constructs.Construct, cid string) {
	if m.detached {
		return
	}
	if err := catch(func() { constructs.NewConstruct_Override(self, scope, &cid) }); err != nil {
		m.misuse = append(m.misuse, refused(err))
	}
}

// emptyID is the construct id of a construct whose id is empty (a
// problem reported on its own): unique, so that it adds no duplicate.
func emptyID(n int) string { return fmt.Sprintf("empty-id-%d", n) }

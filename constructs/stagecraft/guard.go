package stagecraft

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// PanicError is a panic that stagecraft recovered and returned as an error
// instead of letting it end the program: a bug, in stagecraft or in code it
// calls (an Override function panics as a Problem of its construct
// instead). It names the construct that was being checked or rendered.
type PanicError struct {
	// Construct is the path of the construct being checked or rendered
	// when the panic happened; empty when not known.
	Construct string
	// Doing says what stagecraft was doing: "validating", "rendering", ...
	Doing string
	// Value is the value the code panicked with.
	Value any
	// Stack is the stack of the goroutine that panicked.
	Stack []byte
}

// Error names the construct and the panic's value, on one line; what
// looks like a credential in either is written as "(redacted)", as
// Problem.String writes it.
func (e *PanicError) Error() string {
	where := redactText(e.Construct, nil)
	if where == "" {
		where = "the app"
	}
	return fmt.Sprintf("stagecraft: %s: unexpected panic while %s: %s", where, e.Doing, redactText(fmt.Sprint(e.Value), nil))
}

// cursor records which construct stagecraft is working on, for the
// PanicError of a panic.
type cursor struct {
	construct string
	doing     string
}

// at records that the work on construct starts.
func (c *cursor) at(construct, doing string) {
	if c != nil {
		c.construct, c.doing = construct, doing
	}
}

// recover turns a panic into a *PanicError in *err; call it deferred.
func (c *cursor) recover(err *error) {
	v := recover()
	if v == nil {
		return
	}
	pe := &PanicError{Value: v, Stack: debug.Stack(), Doing: "synthesizing"}
	if c != nil {
		pe.Construct, pe.Doing = c.construct, c.doing
	}
	*err = pe
}

// constructMu serializes stagecraft's constructors and wiring methods:
// the jsii runtime they call is not safe for concurrent use, and a
// pipeline's list of stages is shared. Constructs may therefore be created
// from several goroutines; code that calls cdk8s itself (NewChart, ...)
// from several goroutines must serialize those calls on its own.
var constructMu sync.Mutex

package synth

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
)

// TraceEnv names the environment variable that, set to any non-empty value
// ("1"), makes Main, MainChart and MainEnvironments print the stack trace
// of an unexpected panic, for a bug report. Default: unset, one line that
// names the construct.
const TraceEnv = "STAGECRAFT_TRACE"

// guard runs f and returns a panic in it as a *stagecraft.PanicError.
func guard(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &stagecraft.PanicError{Doing: "synthesizing", Value: v, Stack: debug.Stack()}
		}
	}()
	return f()
}

// defining runs an app's define function and returns a panic in it as a
// *stagecraft.PanicError that says so.
func defining(define func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &stagecraft.PanicError{Doing: "defining the app (in its define function)", Value: v, Stack: debug.Stack()}
		}
	}()
	define()
	return nil
}

// exiting is held by whichever way out the process takes first: its own
// (exit) or a signal's, so that the other, which would see the runtime
// stopped under it, never runs.
var exiting sync.Mutex

// closeRuntime stops the jsii runtime, waiting at most a few seconds: its
// Node.js process then exits and its temporary directory is removed.
func closeRuntime() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		jsii.Close()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// onSignals stops the jsii runtime and exits with status 128 plus the
// signal's number when the process receives SIGINT, SIGTERM or SIGHUP,
// instead of dying with the runtime's directory left behind. An output
// folder being written is left as an interrupted write leaves it: the
// next synthesis recovers it. Defer the function it returns.
func onSignals(name string, cleanup func()) func() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	stop := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			exiting.Lock() // for good: the app's own way out waits
			closeRuntime()
			cleanup()
			fmt.Fprintf(os.Stderr, "stagecraft: app %s: stopped by %v\n", name, sig)
			n := 1
			if s, ok := sig.(syscall.Signal); ok {
				n = int(s)
			}
			os.Exit(128 + n)
		case <-stop:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(stop)
	}
}

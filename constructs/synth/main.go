package synth

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
)

// DistEnv names the environment variable that Main, MainChart and
// MainEnvironments read for the output directory when Options.Dir is
// empty (synthall sets it). Default: "dist".
const DistEnv = "STAGECRAFT_DIST"

// SkipUpgradeCheckEnv names the environment variable that, set to "1",
// makes Main, MainChart and MainEnvironments write without the upgrade
// check (Options.SkipUpgradeCheck).
const SkipUpgradeCheckEnv = "STAGECRAFT_SKIP_UPGRADE_CHECK"

// LinkOutsideDirEnv names the environment variable that, set to "1",
// makes Main, MainChart and MainEnvironments follow a symbolic link at
// <Dir>/<name> to a stagecraft output folder outside Dir
// (Options.LinkOutsideDir).
const LinkOutsideDirEnv = "STAGECRAFT_LINK_OUTSIDE_DIST"

// Main writes app as Write does and exits: with status 0 on success, or
// with status 1 after printing the problems to standard error. It stops
// the jsii runtime (removing its temporary directory) on every way out:
// success, problems, a panic (printed as a message that names the
// construct, without a stack trace unless STAGECRAFT_TRACE is set) and
// SIGINT, SIGTERM or SIGHUP (exit status 128 plus the signal's number).
// Nothing after Main runs, so call it last in an app's main function. Use
// it for an app that builds its own cdk8s App, with several charts or
// other cdk8s constructs; MainChart is shorter for one chart.
//
// Main, MainChart and MainEnvironments give the process a temporary
// directory of its own ($TMPDIR, for jsii's runtime and the files it
// unpacks; define functions see it too), removed on every way out. A
// process killed with SIGKILL cannot remove it: the next of these
// functions to run removes every such directory whose process is gone.
// With Main, jsii's runtime directory was made with the App, outside it:
// it is removed on every way out but SIGKILL.
//
// MainChart and MainEnvironments also start jsii's kernel as the only
// Node.js process, without the relay process that jsii otherwise puts in
// front of it (a Node.js start-up and about 40 MB less), unless JSII_NODE
// or JSII_RUNTIME is set. Output that JavaScript code prints then reaches
// standard error rather than standard output. With Main, the App and so
// jsii's runtime exist before Main runs: its runtime keeps the relay.
func Main(app cdk8s.App, name string, opts Options) {
	run(name, false, func() error { return Write(app, name, fromEnv(opts)) })
}

// MainChart creates a cdk8s App with one Chart whose id is name, calls
// define with the chart, and writes the app to <Dir>/<name>/ as Main does.
// It is an app's whole main function:
//
//	func main() { synth.MainChart("seed", synth.Options{}, define) }
func MainChart(name string, opts Options, define func(chart cdk8s.Chart)) {
	run(name, true, func() error {
		app := cdk8s.NewApp(nil)
		if err := defining(func() { define(cdk8s.NewChart(app, jsii.String(name), nil)) }); err != nil {
			return err
		}
		return Write(app, name, fromEnv(opts))
	})
}

// MainEnvironments writes one app per environment, as WriteEnvironments
// does, each with one Chart whose id is name, and exits as Main does:
//
//	synth.MainEnvironments("rag", []string{"dev", "prod"}, synth.Options{},
//		func(env string, chart cdk8s.Chart) { define(chart, settings[env]) })
func MainEnvironments(name string, envs []string, opts Options, define func(env string, chart cdk8s.Chart)) {
	run(name, true, func() error {
		return WriteEnvironments(name, envs, fromEnv(opts), func(env string, app cdk8s.App) {
			define(env, cdk8s.NewChart(app, jsii.String(name), nil))
		})
	})
}

// run is the body of Main, MainChart and MainEnvironments: f in a private
// temporary directory, with panics and signals caught, then exit. restart
// is true when no construct exists yet (see privateTemp).
func run(name string, restart bool, f func() error) {
	cleanup := privateTemp(restart)
	defer onSignals(name, cleanup)()
	exit(name, guard(f), cleanup)
}

// fromEnv fills in Dir from $STAGECRAFT_DIST (the environment is read
// here, at an app's entry point, and nowhere else) and prints notices to
// standard error unless the app takes them itself.
func fromEnv(opts Options) Options {
	if opts.Dir == "" {
		opts.Dir = os.Getenv(DistEnv)
	}
	if os.Getenv(SkipUpgradeCheckEnv) == "1" {
		opts.SkipUpgradeCheck = true
	}
	if os.Getenv(LinkOutsideDirEnv) == "1" {
		opts.LinkOutsideDir = true
	}
	if opts.Notify == nil {
		opts.Notify = func(msg string) { fmt.Fprintln(os.Stderr, "stagecraft: "+msg) }
	}
	return opts
}

// exit stops the jsii runtime, calls cleanup and exits: 1 after printing
// err, if any, else 0.
func exit(name string, err error, cleanup func()) {
	exiting.Lock() // for good; a signal's way out may hold it already
	// The app is done with cdk8s: stop jsii's Node.js process and remove
	// its temporary directory, which would otherwise stay behind in /tmp.
	closeRuntime()
	cleanup()
	if err == nil {
		os.Exit(0)
	}
	report(os.Stderr, name, err)
	os.Exit(1)
}

// report prints err for the app called name.
func report(w io.Writer, name string, err error) {
	var verr *stagecraft.ValidationError
	if errors.As(err, &verr) {
		fmt.Fprintf(w, "stagecraft: app %s: %s\n", name, verr.Error())
		return
	}
	var perr *stagecraft.PanicError
	if errors.As(err, &perr) {
		fmt.Fprintf(w, "stagecraft: app %s: %v\n", name, err)
		if os.Getenv(TraceEnv) != "" {
			w.Write(perr.Stack)
		} else {
			fmt.Fprintf(w, "(set %s=1 for the stack trace)\n", TraceEnv)
		}
		return
	}
	fmt.Fprintf(w, "stagecraft: app %s: %v\n", name, err)
}

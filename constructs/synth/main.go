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

// Main writes app as Write does and exits: with status 0 on success, or
// with status 1 after printing the problems to standard error. It stops
// the jsii runtime, so call it last in an app's main function. Use it for
// an app that builds its own cdk8s App, with several charts or other cdk8s
// constructs; MainChart is shorter for one chart.
func Main(app cdk8s.App, name string, opts Options) {
	exit(name, Write(app, name, fromEnv(opts)))
}

// MainChart creates a cdk8s App with one Chart whose id is name, calls
// define with the chart, and writes the app to <Dir>/<name>/ as Main does.
// It is an app's whole main function:
//
//	func main() { synth.MainChart("seed", synth.Options{}, define) }
func MainChart(name string, opts Options, define func(chart cdk8s.Chart)) {
	app := cdk8s.NewApp(nil)
	define(cdk8s.NewChart(app, jsii.String(name), nil))
	Main(app, name, opts)
}

// MainEnvironments writes one app per environment, as WriteEnvironments
// does, each with one Chart whose id is name, and exits as Main does:
//
//	synth.MainEnvironments("rag", []string{"dev", "prod"}, synth.Options{},
//		func(env string, chart cdk8s.Chart) { define(chart, settings[env]) })
func MainEnvironments(name string, envs []string, opts Options, define func(env string, chart cdk8s.Chart)) {
	exit(name, WriteEnvironments(name, envs, fromEnv(opts), func(env string, app cdk8s.App) {
		define(env, cdk8s.NewChart(app, jsii.String(name), nil))
	}))
}

// fromEnv fills in Dir from $STAGECRAFT_DIST (the environment is read
// here, at an app's entry point, and nowhere else) and prints notices to
// standard error unless the app takes them itself.
func fromEnv(opts Options) Options {
	if opts.Dir == "" {
		opts.Dir = os.Getenv(DistEnv)
	}
	if opts.Notify == nil {
		opts.Notify = func(msg string) { fmt.Fprintln(os.Stderr, "stagecraft: "+msg) }
	}
	return opts
}

// exit stops the jsii runtime and exits 1 after printing err, if any.
func exit(name string, err error) {
	// The app is done with cdk8s: stop jsii's Node.js process and remove
	// its temporary directory, which would otherwise stay behind in /tmp.
	jsii.Close()
	if err == nil {
		return
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
	fmt.Fprintf(w, "stagecraft: app %s: %v\n", name, err)
}

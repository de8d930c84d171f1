// Command synth is the stagecraft side of the synth benchmark: an app whose
// one chart holds the benchmark pipeline of -n stages (package pipegen),
// written with synth.MainChart, as an app does, into
// $STAGECRAFT_DIST/bench/.
//
// With -phases it prints, on standard error, how long each phase took (a
// JSON object, milliseconds); with -cpuprofile it writes a Go CPU profile.
// Both do the work of synth.Write phase by phase, with the App created
// before anything else, as synth.Main's apps do (so jsii keeps its relay
// process, see synth.MainChart).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
	"github.com/stagecraft-dev/stagecraft/test/bench/pipegen"
)

func main() {
	n := flag.Int("n", 10, "number of stages")
	phases := flag.Bool("phases", false, "print the time of each phase on standard error (JSON, ms)")
	cpuprofile := flag.String("cpuprofile", "", "write a Go CPU profile to this file")
	flag.Parse()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer f.Close()
	}
	if !*phases && *cpuprofile == "" {
		// Exactly what an app does.
		synth.MainChart("bench", synth.Options{}, func(chart cdk8s.Chart) { pipegen.Define(chart, *n) })
		return
	}

	// The same work, phase by phase (synth.Write is stagecraft.Synthesize,
	// which validates first, then the layout, then WriteDir).
	var ph []phase
	mark := time.Now()
	step := func(name string) {
		now := time.Now()
		ph = append(ph, phase{name, float64(now.Sub(mark).Microseconds()) / 1000})
		mark = now
	}
	app := cdk8s.NewApp(nil)
	step("jsii start + NewApp")
	chart := cdk8s.NewChart(app, jsii.String(pipegen.Namespace), nil)
	step("NewChart")
	pipegen.Define(chart, *n)
	step("build constructs")
	if err := stagecraft.Validate(app); err != nil {
		fail(err)
	}
	step("Validate (also done again by Synthesize)")
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		fail(err)
	}
	step("Synthesize")
	manifests, err := synth.FilePerChart{}.Files(s)
	if err != nil {
		fail(err)
	}
	files := map[string][]byte{synth.DiagramFile: []byte(s.Diagram)}
	for _, f := range manifests {
		files[f.Name] = f.Data
	}
	step("layout")
	dist := os.Getenv(synth.DistEnv)
	if dist == "" {
		dist = "dist"
	}
	if err := synth.WriteDir(filepath.Join(dist, "bench"), files); err != nil {
		fail(err)
	}
	step("WriteDir (fsync)")
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	jsii.Close()
	step("jsii.Close")
	if *phases {
		var self, children syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &self)
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children) // jsii.Close waited for Node
		cpu := func(r syscall.Rusage) float64 { return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e6 }
		out := map[string]any{"phases": ph, "go_cpu_ms": cpu(self), "node_cpu_ms": cpu(children)}
		b, _ := json.Marshal(out)
		fmt.Fprintln(os.Stderr, string(b))
	}
}

type phase struct {
	Name string  `json:"name"`
	MS   float64 `json:"ms"`
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "synth:", err)
	os.Exit(1)
}

package stagetest

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

// jsiiMu serializes every call into the jsii runtime made through the kit.
// jsii-runtime-go talks to its single Node.js child process over one
// request/response pipe without locking it, so two goroutines that use it at
// once mix up each other's responses.
var jsiiMu sync.Mutex

// Main runs the tests of a package and then stops the jsii runtime (the
// Node.js process that cdk8s runs in) before the test binary exits. Use it as
// the package's TestMain:
//
//	func TestMain(m *testing.M) { stagetest.Main(m) }
//
// A package has only one TestMain; if yours does more, call jsii.Close after
// m.Run yourself.
func Main(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// Do runs f while holding the kit's jsii lock, so that code which builds
// constructs itself (for SynthApp) is safe next to tests that run in
// parallel. Do must not be called from inside f, from a define function given
// to Synth, or from anything else that already holds the lock: the lock is
// not reentrant and the test would deadlock.
func Do(f func()) {
	jsiiMu.Lock()
	defer jsiiMu.Unlock()
	f()
}

// Synth creates a fresh cdk8s App with one Chart, calls define with the
// chart, and synthesizes the app in memory with stagecraft.Synthesize, one file per chart. The
// chart id is t.Name() made into a DNS label ("TestSeed/prod" becomes
// "testseed-prod"); use SynthChart to choose it. Synth fails the test with
// the error text (every validation problem of the pipelines) if the app
// does not synthesize, and never writes to disk.
//
// define runs under the kit's jsii lock, so Synth may be called from
// parallel tests; define must not call Do, Synth or SynthApp.
func Synth(t testing.TB, define func(chart cdk8s.Chart)) *Manifest {
	t.Helper()
	return SynthChart(t, ChartID(t.Name()), define)
}

// SynthChart is Synth with the chart id given.
func SynthChart(t testing.TB, chartID string, define func(chart cdk8s.Chart)) *Manifest {
	t.Helper()
	out, err := locked(func() (synthesized, error) {
		app := cdk8s.NewApp(nil)
		define(cdk8s.NewChart(app, jsii.String(chartID), nil))
		return manifests(app)
	})
	return fromFiles(t, out, err)
}

// SynthApp synthesizes an app the caller built, in memory, and fails the
// test with the error text if it does not synthesize. The synthesis runs
// under the kit's jsii lock; building the app does not, so a parallel test
// must build it inside Do:
//
//	var app cdk8s.App
//	stagetest.Do(func() { app = buildApp() })
//	m := stagetest.SynthApp(t, app)
func SynthApp(t testing.TB, app cdk8s.App) *Manifest {
	t.Helper()
	out, err := locked(func() (synthesized, error) {
		return manifests(app)
	})
	return fromFiles(t, out, err)
}

// manifests synthesizes app into one file per chart, as synth.Write
// would write its manifests, and the diagram.
func manifests(app cdk8s.App) (synthesized, error) {
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		return synthesized{}, err
	}
	files, err := synth.FilePerChart{}.Files(s)
	if err != nil {
		return synthesized{}, err
	}
	out := synthesized{files: make(map[string][]byte, len(files)), diagram: s.Diagram}
	for _, f := range files {
		out.files[f.Name] = f.Data
	}
	return out, nil
}

// synthesized is what an app synthesized to, in memory.
type synthesized struct {
	files   map[string][]byte
	diagram string
}

// locked runs f under the jsii lock and turns a panic (jsii reports
// JavaScript errors, such as a duplicate construct id, as panics) into an
// error, so that one broken test does not take down the whole binary.
func locked(f func() (synthesized, error)) (out synthesized, err error) {
	jsiiMu.Lock()
	defer jsiiMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return f()
}

func fromFiles(t testing.TB, out synthesized, err error) *Manifest {
	t.Helper()
	if err != nil {
		t.Fatalf("stagetest: synthesize: %v", err)
		return nil
	}
	m, err := newManifest(out.files)
	if err != nil {
		t.Fatalf("stagetest: parse the synthesized YAML: %v", err)
		return nil
	}
	m.Diagram = out.diagram
	return m
}

// ChartID turns a test name into a valid chart id: lower case letters,
// digits and dashes, at most 63 characters. Synth uses it on t.Name().
func ChartID(testName string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	id := strings.TrimRight(b.String(), "-")
	if len(id) > 63 {
		id = strings.TrimRight(id[:63], "-")
	}
	if id == "" {
		id = "test"
	}
	return id
}

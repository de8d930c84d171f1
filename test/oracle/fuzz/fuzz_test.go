package fuzz

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
	"github.com/stagecraft-dev/stagecraft/test/oracle/appgen"
)

// The differential fuzz targets: appgen turns the fuzzer's bytes into an
// app; the property is
//
//	stagecraft.Validate(app) returns a *ValidationError whose problems
//	each name a construct and say what is wrong, or synth.Files(app)
//	writes an output folder in which the oracle finds nothing
//
// and that nothing panics. A failing input is kept by go's fuzzing under
// testdata/fuzz/<target>/ and runs as a test from then on. Run one with
//
//	CGO_ENABLED=0 go test -trimpath -run '^$' -fuzz '^FuzzMixed$' -fuzztime 60s ./fuzz

func FuzzMixed(f *testing.F)     { fuzzApps(f, appgen.Mixed) }
func FuzzProcessor(f *testing.F) { fuzzApps(f, appgen.Processors) }
func FuzzBatch(f *testing.F)     { fuzzApps(f, appgen.Batches) }
func FuzzScheduled(f *testing.F) { fuzzApps(f, appgen.Schedules) }
func FuzzStorage(f *testing.F)   { fuzzApps(f, appgen.Storage) }

func fuzzApps(f *testing.F, kind appgen.Kind) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		valid, msgs := property(data, kind)
		if len(msgs) > 0 {
			t.Fatalf("property violated:\n%s", strings.Join(msgs, "\n"))
		}
		t.Logf("valid input: %v", valid)
	})
}

// seeds start the corpus: zeros (the first value of every dictionary),
// and a few byte patterns that reach more props.
var seeds = []string{
	"",
	"\x00\x00\x00\x00\x00\x00\x00\x00",
	"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f",
	strings.Repeat("\x01", 200),
	strings.Repeat("\x02\x00", 150),
	strings.Repeat("\x03\x01\x00", 120),
}

// property builds the app of data and returns whether it was valid, and
// how it violates the property.
func property(data []byte, kind appgen.Kind) (valid bool, msgs []string) {
	app, panicked, err := build(data, kind)
	if panicked != nil {
		return false, []string{fmt.Sprintf("panic: %v", panicked)}
	}
	if err != nil {
		var verr *stagecraft.ValidationError
		if !errors.As(err, &verr) {
			return false, []string{fmt.Sprintf("Validate returned %T, not *ValidationError: %v", err, err)}
		}
		for _, p := range verr.Problems {
			if p.Construct == "" || p.Detail == "" {
				msgs = append(msgs, fmt.Sprintf("problem without construct or detail: %#v", p))
			}
		}
		return false, msgs
	}
	var layout synth.Layout = synth.FilePerChart{}
	if len(data)%2 == 1 {
		layout = synth.FilePerObject{}
	}
	files, panicked, err := output(app, layout)
	if panicked != nil || err != nil {
		return true, []string{fmt.Sprintf("Validate passed but synth.Files failed: %v%v", err, panicked)}
	}
	a, err := theClient.check(files)
	if err != nil {
		return true, []string{err.Error()}
	}
	if a.Objects == 0 {
		return true, []string{"the oracle checked no object"}
	}
	return true, a.Findings
}

func build(data []byte, kind appgen.Kind) (app cdk8s.App, panicked any, err error) {
	defer func() {
		if r := recover(); r != nil {
			panicked = fmt.Sprintf("%v\n%s", r, debug.Stack())
		}
	}()
	app = cdk8s.NewApp(nil)
	appgen.Build(app, data, kind)
	return app, nil, stagecraft.Validate(app)
}

func output(app cdk8s.App, layout synth.Layout) (files map[string][]byte, panicked any, err error) {
	defer func() {
		if r := recover(); r != nil {
			panicked = fmt.Sprintf("%v\n%s", r, debug.Stack())
		}
	}()
	files, err = synth.Files(app, layout)
	return files, nil, err
}

package synth

import (
	"path/filepath"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/test/bench/pipegen"
)

// BenchmarkUpgradeCheck compares the output of a 1000-stage pipeline with
// a previous output of it on disk: reading and decoding the previous
// output, decoding the new objects that have rules, and checking them.
//
//	go test ./constructs/synth -run '^$' -bench UpgradeCheck
func BenchmarkUpgradeCheck(b *testing.B) {
	app := cdk8s.NewApp(nil)
	pipegen.Define(cdk8s.NewChart(app, jsii.String(pipegen.Namespace), nil), 1000)
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(b.TempDir(), "bench")
	files, err := layoutFiles(s, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := WriteDir(dir, files); err != nil {
		b.Fatal(err)
	}
	objects := 0
	for _, m := range s.Manifests {
		objects += len(m.Objects)
	}
	b.ResetTimer()
	for b.Loop() {
		prev, err := previousObjects(dir, "", map[string]int{})
		if err != nil {
			b.Fatal(err)
		}
		if problems, _, _ := upgradeCheck(prev, s); len(problems) > 0 {
			b.Fatal(problems)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(objects), "µs/object")
}

package stagecraft

// Benchmarks of the pure-Go parts of a synth (issue 7), on the pipeline of
// the synth benchmark (test/bench/pipegen, mirrored by benchDefine because
// an internal test cannot import a package that imports this one):
//
//	go test -run '^$' -bench . -benchmem ./constructs/stagecraft
//
// Building the app needs jsii (one call per construct); it happens once per
// size, outside the timed loops. Nothing in a timed loop calls jsii.

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/internal/yamlout"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// benchDefine is pipegen.Define: n stages, a third each processor (Ingress,
// autoscaler, disruption budget), batch and scheduled; storage per ten
// stages with one writer and readers after it; calls and RunsAfter edges.
func benchDefine(chart cdk8s.Chart, n int) *Pipeline {
	p := NewPipeline(chart, "bench", PipelineProps{
		Labels:  map[string]string{"team": "bench"},
		Network: testAPI,
		Defaults: Defaults{
			Resources: Resources{CPURequest: "250m", MemoryRequest: "512Mi", MemoryLimit: "512Mi"},
		},
	})
	https := []EgressRule{{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}, Ports: []int32{443}}}
	stages := make([]Stage, n)
	var storage *PipelineStorage
	writer := -1
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			storage = NewPipelineStorage(p, fmt.Sprintf("data-%03d", i/10), PipelineStorageProps{Size: "10Gi", StorageClassName: "shared-files"})
			writer = -1
		}
		var mounts []Mount
		switch {
		case i%3 == 1 && writer < 0:
			writer = i
			mounts = []Mount{{Storage: storage, Path: "/data"}}
		case writer >= 0 && i%2 == 0:
			mounts = []Mount{{Storage: storage, Path: "/data", ReadOnly: true}}
		}
		w := Workload{
			Image:  fmt.Sprintf("ghcr.io/acme/bench-%d:1.%d.0", i%3, i%7),
			Args:   []string{"--stage", fmt.Sprint(i), "--data", "/data"},
			Env:    []EnvVar{Env("STAGE_INDEX", fmt.Sprint(i)), EnvFromSecret("API_TOKEN", "bench-token", "token")},
			Mounts: mounts,
		}
		switch i % 3 {
		case 0:
			name := fmt.Sprintf("proc-%04d", i)
			s := NewProcessorStage(p, name, ProcessorStageProps{
				Workload:    w,
				Ports:       []Port{{Name: "http", ContainerPort: 8080, ServicePort: 80}},
				Readiness:   &Probe{HTTPPath: "/ready"},
				Autoscaling: &Autoscaling{MinReplicas: 2, MaxReplicas: 10, CPUUtilization: 70},
				Ingress:     &Ingress{Host: name + ".bench.example.com", ClassName: "nginx"},
			})
			if i >= 3 && (i/3)%2 == 1 {
				s.Calls(stages[i-3].(*ProcessorStage))
			}
			stages[i] = s
		case 1:
			j := JobSettings{ActiveDeadline: time.Hour}
			if (i/3)%2 == 1 {
				j.Indexed, j.Completions, j.Parallelism = true, ptr.To[int32](4), ptr.To[int32](2)
			}
			s := NewBatchStage(p, fmt.Sprintf("batch-%04d", i), BatchStageProps{Workload: w, JobSettings: j})
			s.Calls(stages[i-1].(*ProcessorStage))
			stages[i] = s
		case 2:
			w.Egress = https
			s := NewScheduledStage(p, fmt.Sprintf("sched-%04d", i), ScheduledStageProps{
				Workload:    w,
				JobSettings: JobSettings{ActiveDeadline: 2 * time.Hour},
				Schedule:    fmt.Sprintf("%d %d * * *", i%60, i%24),
			})
			s.Calls(stages[i-2].(*ProcessorStage))
			if i%6 == 5 {
				s.RunsAfter(stages[i-1])
			}
			stages[i] = s
		}
	}
	return p
}

// benchFixture is a built and validated app of one size.
type benchFixture struct {
	app  cdk8s.App
	p    *Pipeline
	a    analyzed
	objs []runtime.Object // rendered
	maps []map[string]any // yamlout.ToMap of each
	err  error
}

// render returns every object of the analyzed pipeline.
func (a analyzed) render() []runtime.Object {
	var out []runtime.Object
	r := &rendering{p: a.p, g: a.g}
	_ = r.each(func(o runtime.Object, _ string) error { out = append(out, o); return nil })
	return out
}

var (
	benchMu       sync.Mutex
	benchFixtures = map[int]*benchFixture{}
)

// benchApp builds (once per size, with jsii) and validates the benchmark
// pipeline of n stages.
func benchApp(b *testing.B, n int) *benchFixture {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	f, ok := benchFixtures[n]
	if !ok {
		f = &benchFixture{}
		benchFixtures[n] = f
		f.app = cdk8s.NewApp(nil)
		f.p = benchDefine(cdk8s.NewChart(f.app, jsii.String("bench"), nil), n)
		if f.err = Validate(f.app); f.err == nil {
			g, _ := analyze(f.p)
			f.a = analyzed{p: f.p, g: g}
			f.objs = f.a.render()
			for _, o := range f.objs {
				m, err := yamlout.ToMap(o)
				if err != nil {
					f.err = err
					break
				}
				f.maps = append(f.maps, m)
			}
		}
	}
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f
}

var benchSizes = []int{100, 1000}

// benchForSizes runs fn as a sub-benchmark per size, with the fixture built
// before the timer starts.
func benchForSizes(b *testing.B, fn func(b *testing.B, f *benchFixture)) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("stages=%d", n), func(b *testing.B) {
			f := benchApp(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			fn(b, f)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/stage")
		})
	}
}

// BenchmarkValidate is the whole of Validate: every construct's checks,
// the cross-construct checks and the analysis of the pipeline.
func BenchmarkValidate(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			if err := Validate(f.app); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkValidateProps is the validation phase of each stage and
// storage: the checks of its resolved spec.
func BenchmarkValidateProps(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			for _, c := range f.p.parts {
				if errs := validatePart(c); len(errs) > 0 {
					b.Fatal(errs)
				}
			}
		}
	})
}

// BenchmarkResolve is the defaulting of every stage's props.
func BenchmarkResolve(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			for _, c := range f.p.parts {
				switch s := c.(type) {
				case *ProcessorStage:
					cp := *s
					cp.resolve(s.props)
				case *BatchStage:
					cp := *s
					cp.resolve(s.props)
				case *ScheduledStage:
					cp := *s
					cp.resolve(s.props)
				case *PipelineStorage:
					cp := *s
					cp.resolve(s.props)
				}
			}
		}
	})
}

// BenchmarkAnalyze is the analysis: ordering edges (declared and inferred
// from storage), cycle check, topological order and waits.
func BenchmarkAnalyze(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			if _, problems := analyze(f.p); len(problems) > 0 {
				b.Fatal(problems)
			}
		}
	})
}

// BenchmarkRenderObjects builds every typed Kubernetes object of the
// pipeline (with sync waves, network policies, waits).
func BenchmarkRenderObjects(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			f.a.render()
		}
	})
}

// BenchmarkToMap is yamlout.ToMap of every object: JSON marshal,
// unmarshal into a map, prune.
func BenchmarkToMap(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			for _, o := range f.objs {
				if _, err := yamlout.ToMap(o); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkYAMLMarshal is sigs.k8s.io/yaml.Marshal of every object's map,
// as the project wrote them before yamlout: JSON marshal, JSON to YAML
// through yaml.v2.
func BenchmarkYAMLMarshal(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			for _, m := range f.maps {
				if _, err := yaml.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkEncode is everything Synthesize does in Go for a pipeline
// after validation: objects, maps and YAML on every core. (Synthesize adds
// one jsii call per chart, chart.ToJson, to merge in other constructs.)
func BenchmarkEncode(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			if _, _, err := encodePipeline(f.a, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDiagram is the Mermaid diagram of the rendered pipeline.
func BenchmarkDiagram(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		_, r, err := encodePipeline(f.a, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			diagram([]*rendering{r})
		}
	})
}

// BenchmarkYAMLDirect writes the same YAML as BenchmarkYAMLMarshal with
// yamlout, which writes YAML directly from the maps instead of
// sigs.k8s.io/yaml's JSON marshal, YAML parse and YAML emit of each
// object. It first checks that the output is byte for byte the same for
// every object of the pipeline.
func BenchmarkYAMLDirect(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		b.StopTimer()
		for _, m := range f.maps {
			want, err := yaml.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			got, err := yamlout.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				b.Fatalf("yamlout differs from sigs.k8s.io/yaml:\n--- sigs.k8s.io/yaml\n%s\n--- yamlout\n%s", want, got)
			}
		}
		b.StartTimer()
		for b.Loop() {
			w := yamlout.NewWriter()
			for _, m := range f.maps {
				if err := w.Add(m); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

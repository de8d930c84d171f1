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
	"unicode"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/internal/l1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// benchDefine is pipegen.Define: n stages, a third each processor (Ingress,
// autoscaler, disruption budget), batch and scheduled; storage per ten
// stages with one writer and readers after it; calls and RunsAfter edges.
func benchDefine(chart cdk8s.Chart, n int) *Pipeline {
	p := NewPipeline(chart, "bench", PipelineProps{
		Labels: map[string]string{"team": "bench"},
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
	objs []object         // p.renderObjects()
	maps []map[string]any // l1.ToMap of each
	err  error
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
			f.objs = f.p.renderObjects()
			for _, o := range f.objs {
				m, err := l1.ToMap(o.obj)
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

// BenchmarkValidate is the whole of Validate: every construct's recorded
// problems, then the cross-construct checks and the wiring analysis.
func BenchmarkValidate(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			if err := Validate(f.app); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkValidateProps repeats the per-stage prop checks that the
// constructors run (validateWorkload and the kind's own checks).
func BenchmarkValidateProps(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			for _, c := range f.p.children {
				var ps problems
				switch s := c.(type) {
				case *ProcessorStage:
					// validate checks the props as given (the resolved ones
					// pass the same checks), on a copy that collects its
					// problems apart.
					cp := *s
					cp.problems = problems{}
					cp.validate(s.props)
				case *BatchStage:
					validateWorkload(&ps, f.p, s.props.Workload, s.props.Workload)
					validateJob(&ps, s.props.JobSettings)
				case *ScheduledStage:
					validateWorkload(&ps, f.p, s.props.Workload, s.props.Workload)
					validateJob(&ps, s.props.JobSettings)
					validateSchedule(&ps, s.props)
				case *PipelineStorage:
					cp := *s
					cp.problems = problems{}
					cp.validate(s.props)
				}
			}
		}
	})
}

// BenchmarkResolve is the defaulting of every stage's props.
func BenchmarkResolve(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		d := f.p.defaults
		for b.Loop() {
			for _, c := range f.p.children {
				switch s := c.(type) {
				case *ProcessorStage:
					resolveProcessor(s.props, d)
				case *BatchStage:
					resolveWorkload(s.props.Workload, d)
					resolveJob(s.props.JobSettings)
				case *ScheduledStage:
					resolveScheduled(s.props, d)
				case *PipelineStorage:
					resolveStorage(s.props)
				}
			}
		}
	})
}

// BenchmarkAnalyze is the wiring analysis: ordering edges (declared and
// inferred from storage), cycle check, topological order, waits and
// discovery variables.
func BenchmarkAnalyze(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			if _, problems := f.p.analyze(); len(problems) > 0 {
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
			f.p.renderObjects()
		}
	})
}

// BenchmarkToMap is l1.ToMap of every object: JSON marshal, unmarshal
// into a map, prune.
func BenchmarkToMap(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			for _, o := range f.objs {
				if _, err := l1.ToMap(o.obj); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkYAMLMarshal is sigs.k8s.io/yaml.Marshal of every object's map,
// as Manifests writes them: JSON marshal, JSON to YAML through yaml.v2.
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

// BenchmarkRenderGo is everything Manifests does in Go for the default
// renderer after validation: objects, maps, YAML, joined. (Manifests adds
// one jsii call per chart, chart.ToJson, to merge in other constructs.)
func BenchmarkRenderGo(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			var buf bytes.Buffer
			for i, o := range f.p.renderObjects() {
				m, err := l1.ToMap(o.obj)
				if err != nil {
					b.Fatal(err)
				}
				y, err := yaml.Marshal(m)
				if err != nil {
					b.Fatal(err)
				}
				if i > 0 {
					buf.WriteString("---\n")
				}
				buf.Write(y)
			}
		}
	})
}

// BenchmarkDiagram is the Mermaid diagram (it validates again first).
func BenchmarkDiagram(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		for b.Loop() {
			if _, err := Diagram(f.app); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkYAMLDirect writes the same YAML as BenchmarkYAMLMarshal with
// benchEmitter, a sketch of writing YAML directly from the maps instead of
// sigs.k8s.io/yaml's JSON marshal, YAML parse and YAML emit of each object.
// It first checks that the output is byte for byte the same for every
// object of the pipeline.
func BenchmarkYAMLDirect(b *testing.B) {
	benchForSizes(b, func(b *testing.B, f *benchFixture) {
		b.StopTimer()
		e := newBenchEmitter()
		for _, m := range f.maps {
			want, err := yaml.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			e.buf.Reset()
			if err := e.mapping(m, 0, false); err != nil {
				b.Fatal(err)
			}
			if got := e.buf.Bytes(); !bytes.Equal(got, want) {
				b.Fatalf("benchEmitter differs from sigs.k8s.io/yaml:\n--- sigs.k8s.io/yaml\n%s\n--- benchEmitter\n%s", want, got)
			}
		}
		b.StartTimer()
		for b.Loop() {
			e := newBenchEmitter()
			for _, m := range f.maps {
				if err := e.mapping(m, 0, false); err != nil {
					b.Fatal(err)
				}
				e.buf.WriteString("---\n")
			}
		}
	})
}

// benchEmitter writes JSON-like values (maps, lists, strings, float64,
// bool, nil) as block YAML in the style of yaml.v2, which
// sigs.k8s.io/yaml uses: keys in yaml.v2's order, lists at their key's
// indentation. Strings that are safely plain are written as they are; any
// other scalar is rendered by sigs.k8s.io/yaml once per distinct value and
// reused. A production version would implement yaml.v2's quoting rules
// instead of the cache.
type benchEmitter struct {
	buf   bytes.Buffer
	cache map[any]string
}

func newBenchEmitter() *benchEmitter { return &benchEmitter{cache: map[any]string{}} }

func (e *benchEmitter) indent(n int) {
	for i := 0; i < n; i++ {
		e.buf.WriteByte(' ')
	}
}

// mapping writes m at indentation n; inline continues the current line
// (after a list item's "- ").
func (e *benchEmitter) mapping(m map[string]any, n int, inline bool) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	benchSortKeys(keys)
	for i, k := range keys {
		if !(inline && i == 0) {
			e.indent(n)
		}
		if err := e.scalar(k); err != nil {
			return err
		}
		switch v := m[k].(type) {
		case map[string]any:
			if len(v) == 0 {
				e.buf.WriteString(": {}\n")
				continue
			}
			e.buf.WriteString(":\n")
			if err := e.mapping(v, n+2, false); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				e.buf.WriteString(": []\n")
				continue
			}
			e.buf.WriteString(":\n")
			if err := e.sequence(v, n); err != nil {
				return err
			}
		default:
			e.buf.WriteString(": ")
			if err := e.scalar(v); err != nil {
				return err
			}
			e.buf.WriteByte('\n')
		}
	}
	return nil
}

func (e *benchEmitter) sequence(s []any, n int) error {
	for _, item := range s {
		e.indent(n)
		e.buf.WriteString("- ")
		switch v := item.(type) {
		case map[string]any:
			if len(v) == 0 {
				e.buf.WriteString("{}\n")
				continue
			}
			if err := e.mapping(v, n+2, true); err != nil {
				return err
			}
		case []any:
			return fmt.Errorf("benchEmitter: a list in a list is not supported")
		default:
			if err := e.scalar(v); err != nil {
				return err
			}
			e.buf.WriteByte('\n')
		}
	}
	return nil
}

func (e *benchEmitter) scalar(v any) error {
	switch t := v.(type) {
	case string:
		if benchPlainSafe(t) {
			e.buf.WriteString(t)
			return nil
		}
	case bool:
		if t {
			e.buf.WriteString("true")
		} else {
			e.buf.WriteString("false")
		}
		return nil
	case nil:
		e.buf.WriteString("null")
		return nil
	case float64:
		if t == float64(int64(t)) && t < 1e15 && t > -1e15 {
			e.buf.WriteString(fmt.Sprint(int64(t)))
			return nil
		}
	}
	s, ok := e.cache[v]
	if !ok {
		y, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		s = string(bytes.TrimSuffix(y, []byte("\n")))
		if bytes.ContainsAny([]byte(s), "\n") {
			return fmt.Errorf("benchEmitter: multi-line scalar %q is not supported", v)
		}
		e.cache[v] = s
	}
	e.buf.WriteString(s)
	return nil
}

// benchPlainSafe reports whether yaml.v2 writes s as a plain scalar: it starts
// with a letter or '/', holds only letters, digits and "._/-:", has no ':'
// at its end or before a space, and is not one of the words that YAML 1.1
// reads as a boolean or null.
func benchPlainSafe(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '/', c == '-':
		case c == ':' && i+1 < len(s):
		default:
			return false
		}
	}
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
		"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL":
		return false
	}
	return true
}

// benchSortKeys sorts string keys as yaml.v2 does: runs of digits compare
// by value, letters before other characters.
func benchSortKeys(keys []string) {
	for i := 1; i < len(keys); i++ { // insertion sort: maps are small
		for j := i; j > 0 && benchKeyLess(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

func benchKeyLess(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al, bl := unicode.IsLetter(ar[i]), unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var ai, bi int
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		for ai = i; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for bi = i; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}

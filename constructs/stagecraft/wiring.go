package stagecraft

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Stage is a stage of a pipeline: a *ProcessorStage, *BatchStage or
// *ScheduledStage. Stages are wired to each other with Calls and RunsAfter.
type Stage interface {
	// Name returns the name of the stage's Kubernetes objects.
	Name() string
	// Path returns the stage's construct path.
	Path() string
	base() *stage
}

func (s *ProcessorStage) base() *stage { return &s.stage }
func (s *BatchStage) base() *stage     { return &s.stage }
func (s *ScheduledStage) base() *stage { return &s.stage }

// call is a declared call from one stage to a port of a processor.
type call struct {
	callee *ProcessorStage
	port   Port
	named  bool // the caller named a port other than the callee's first
}

// edgeKind says why one stage comes before another.
type edgeKind int

const (
	edgeAfter   edgeKind = iota // declared with RunsAfter
	edgeStorage                 // the first writes storage the second only reads
)

// edge is an ordering edge of a pipeline's graph: from comes before to.
type edge struct {
	from, to Stage
	kind     edgeKind
	storage  *PipelineStorage // for edgeStorage
}

// Calls declares that s sends requests to callee, on callee's first port
// or on the port named port. The NetworkPolicies let exactly this traffic
// through, and s gets callee's address in an environment variable: the
// callee's name in upper case with '-' as '_', then "_ENDPOINT" (for the
// first port) or "_<PORT>_ENDPOINT" (for another port), holding
// "host:port", for example VECTOR_INDEX_ENDPOINT=vector-index.rag.svc:6333.
func (s *ProcessorStage) Calls(callee *ProcessorStage, port ...string) { s.addCall(callee, port) }

// Calls declares that s sends requests to callee; see ProcessorStage.Calls.
func (s *BatchStage) Calls(callee *ProcessorStage, port ...string) { s.addCall(callee, port) }

// Calls declares that s sends requests to callee; see ProcessorStage.Calls.
func (s *ScheduledStage) Calls(callee *ProcessorStage, port ...string) { s.addCall(callee, port) }

// RunsAfter declares that s runs after each upstream stage. Manifests and
// Argo CD sync waves follow that order; and when an upstream is a
// BatchStage, s's pods also wait at run time, in an init container, until
// its Job has completed.
func (s *ProcessorStage) RunsAfter(upstream ...Stage) { s.addAfter(upstream) }

// RunsAfter declares that s runs after each upstream stage; see
// ProcessorStage.RunsAfter.
func (s *BatchStage) RunsAfter(upstream ...Stage) { s.addAfter(upstream) }

// RunsAfter declares that s runs after each upstream stage; see
// ProcessorStage.RunsAfter.
func (s *ScheduledStage) RunsAfter(upstream ...Stage) { s.addAfter(upstream) }

func (s *stage) addCall(callee *ProcessorStage, port []string) {
	fld := field.NewPath("Calls").Index(len(s.calls))
	switch {
	case callee == nil:
		s.problems.required(fld, "the ProcessorStage to call")
		return
	case callee.pipeline != s.pipeline:
		s.problems.add(fld, callee.path, "the callee belongs to another pipeline; stages call only stages of their own pipeline")
		return
	case &callee.stage == s:
		s.problems.add(fld, callee.path, "a stage cannot call itself")
		return
	case len(callee.props.Ports) == 0:
		s.problems.add(fld, callee.path, "the callee has no Ports to call")
		return
	case len(port) > 1:
		s.problems.add(fld, port, "name at most one port")
		return
	}
	c := call{callee: callee, port: callee.props.Ports[0]}
	if len(port) == 1 {
		if !hasPort(callee.props.Ports, port[0]) {
			s.problems.add(fld, port[0], "the callee has no port of that name; allowed: "+portNames(callee.props.Ports))
			return
		}
		for _, p := range callee.props.Ports {
			if p.Name == port[0] {
				c.port = p
			}
		}
		c.named = c.port.Name != callee.props.Ports[0].Name
	}
	for _, prev := range s.calls {
		if prev.callee == callee && prev.port.Name == c.port.Name {
			s.problems.add(fld, callee.path, "this call is already declared")
			return
		}
	}
	s.calls = append(s.calls, c)
}

func (s *stage) addAfter(upstream []Stage) {
	for _, u := range upstream {
		fld := field.NewPath("RunsAfter").Index(len(s.after))
		switch {
		case u == nil || u.base() == nil:
			s.problems.required(fld, "the upstream stage")
		case u.base().pipeline != s.pipeline:
			s.problems.add(fld, u.Path(), "the upstream stage belongs to another pipeline")
		case u.base() == s:
			s.problems.add(fld, u.Path(), "a stage cannot run after itself")
		default:
			s.after = append(s.after, u)
		}
	}
}

// endpointEnv returns the discovery variable of a call.
func (c call) endpointEnv() corev1.EnvVar {
	name := strings.ToUpper(strings.ReplaceAll(c.callee.name, "-", "_"))
	if c.named {
		name += "_" + strings.ToUpper(strings.ReplaceAll(c.port.Name, "-", "_"))
	}
	return corev1.EnvVar{
		Name:  name + "_ENDPOINT",
		Value: fmt.Sprintf("%s.%s.svc:%d", c.callee.name, c.callee.pipeline.namespace, c.port.servicePort()),
	}
}

// graph is a pipeline's stages in dependency order.
type graph struct {
	stages []Stage        // in creation order
	edges  []edge         // ordering edges
	order  []Stage        // topological order, creation order among equals
	level  map[*stage]int // 0 for stages with no upstream, else 1 + max of upstreams
	waits  map[*stage][]*BatchStage
}

// stagesOf returns the pipeline's stages in creation order.
func (p *Pipeline) stagesOf() []Stage {
	var out []Stage
	for _, c := range p.children {
		if s, ok := c.(Stage); ok {
			out = append(out, s)
		}
	}
	return out
}

// analyze builds the pipeline's graph: declared edges and those inferred
// from storage (a stage that writes storage comes before the stages that
// only read it). It reports cycles and discovery variables that clash.
func (p *Pipeline) analyze() (*graph, []Problem) {
	g := &graph{stages: p.stagesOf(), level: map[*stage]int{}, waits: map[*stage][]*BatchStage{}}
	var out []Problem
	for _, s := range g.stages {
		for _, u := range s.base().after {
			g.edges = append(g.edges, edge{from: u, to: s, kind: edgeAfter})
		}
	}
	for _, c := range p.children {
		st, ok := c.(*PipelineStorage)
		if !ok {
			continue
		}
		var writers, readers []Stage
		for _, s := range g.stages {
			rw, ro := false, false
			for _, m := range s.(mounter).mounts() {
				if m.Storage == st {
					rw = rw || !m.ReadOnly
					ro = ro || m.ReadOnly
				}
			}
			switch {
			case rw:
				writers = append(writers, s)
			case ro:
				readers = append(readers, s)
			}
		}
		for _, w := range writers {
			for _, r := range readers {
				g.edges = append(g.edges, edge{from: w, to: r, kind: edgeStorage, storage: st})
			}
		}
	}
	if cyc := g.cycle(); cyc != nil {
		names := make([]string, len(cyc))
		for i, s := range cyc {
			names[i] = s.Name()
		}
		out = append(out, Problem{Construct: p.path, Field: "RunsAfter", Value: strings.Join(names, " -> "),
			Detail: "these stages form a cycle (through RunsAfter and storage that one writes and the next reads); a pipeline's order must be acyclic"})
		return g, out
	}
	g.sort()
	for _, e := range g.edges {
		if b, ok := e.from.(*BatchStage); ok {
			ws := g.waits[e.to.base()]
			if !containsBatch(ws, b) {
				g.waits[e.to.base()] = append(ws, b)
			}
		}
	}
	for _, s := range g.stages {
		seen := map[string]bool{}
		for _, e := range s.(workloader).workload().Env {
			seen[e.Name] = true
		}
		for _, c := range s.base().calls {
			env := c.endpointEnv()
			if seen[env.Name] {
				out = append(out, Problem{Construct: s.Path(), Field: "Env", Value: env.Name,
					Detail: "the variable is set by the call to " + c.callee.name + "; rename yours"})
			}
			seen[env.Name] = true
		}
	}
	return g, out
}

func containsBatch(list []*BatchStage, b *BatchStage) bool {
	for _, x := range list {
		if x == b {
			return true
		}
	}
	return false
}

// cycle returns the stages of a cycle, first repeated last, or nil.
func (g *graph) cycle() []Stage {
	next := map[Stage][]Stage{}
	for _, e := range g.edges {
		next[e.from] = append(next[e.from], e.to)
	}
	const (
		white = iota
		grey
		black
	)
	color := map[Stage]int{}
	var stack []Stage
	var found []Stage
	var visit func(s Stage) bool
	visit = func(s Stage) bool {
		color[s] = grey
		stack = append(stack, s)
		for _, n := range next[s] {
			switch color[n] {
			case grey:
				for i, x := range stack {
					if x == n {
						found = append(append([]Stage(nil), stack[i:]...), n)
						return true
					}
				}
			case white:
				if visit(n) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[s] = black
		return false
	}
	for _, s := range g.stages {
		if color[s] == white && visit(s) {
			return found
		}
	}
	return nil
}

// sort computes each stage's level (0 without upstream stages, else one
// more than its highest upstream) and orders the stages by level, then by
// creation order.
func (g *graph) sort() {
	index := map[Stage]int{}
	for i, s := range g.stages {
		index[s] = i
	}
	indeg := map[Stage]int{}
	next := map[Stage][]Stage{}
	for _, e := range g.edges {
		indeg[e.to]++
		next[e.from] = append(next[e.from], e.to)
	}
	// Kahn's algorithm with a FIFO queue: linear in stages and edges. The
	// order it takes stages in does not matter, only their levels do.
	var queue []Stage
	for _, s := range g.stages {
		if indeg[s] == 0 {
			queue = append(queue, s)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		g.order = append(g.order, s)
		for _, n := range next[s] {
			if l := g.level[s.base()] + 1; l > g.level[n.base()] {
				g.level[n.base()] = l
			}
			indeg[n]--
			if indeg[n] == 0 {
				queue = append(queue, n)
			}
		}
	}
	// Group by level, as the sync waves do.
	sort.SliceStable(g.order, func(i, j int) bool {
		li, lj := g.level[g.order[i].base()], g.level[g.order[j].base()]
		if li != lj {
			return li < lj
		}
		return index[g.order[i]] < index[g.order[j]]
	})
}

// workloader gives the resolved workload of a stage.
type workloader interface{ workload() Workload }

func (s *ProcessorStage) workload() Workload { return s.props.Workload }
func (s *BatchStage) workload() Workload     { return s.props.Workload }
func (s *ScheduledStage) workload() Workload { return s.props.Workload }

// storageWave is the sync wave of storage: that of its first user, so that
// a claim waiting for its first consumer does not hold up an earlier wave.
func (g *graph) storageWave(st *PipelineStorage) int {
	wave := -1
	for _, s := range g.order {
		for _, m := range s.(mounter).mounts() {
			if m.Storage == st && (wave < 0 || g.level[s.base()] < wave) {
				wave = g.level[s.base()]
			}
		}
	}
	if wave < 0 {
		return 0
	}
	return wave
}

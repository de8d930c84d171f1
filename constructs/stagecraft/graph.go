package stagecraft

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// edgeKind says why one stage comes before another.
type edgeKind int

const (
	edgeAfter   edgeKind = iota // declared with RunsAfter
	edgeStorage                 // the first writes storage the second only reads
)

// edge is an ordering edge of a pipeline's graph: from comes before to in
// the manifests and the sync waves. When wait is set, to also waits at run
// time until from's Job has completed.
type edge struct {
	from, to Stage
	kind     edgeKind
	storage  *PipelineStorage // for edgeStorage
	wait     bool
}

// graph is the analysis of one pipeline: its stages in dependency order.
// analyze builds it; rendering reads it and never changes it.
type graph struct {
	stages []Stage            // in creation order
	edges  []edge             // ordering edges
	order  []Stage            // by level, creation order among equals
	level  map[*stage]int     // 0 for stages with no upstream, else 1 + max of upstreams
	waits  map[*stage][]Stage // the run-to-completion stages each stage waits for
	// waitedFor holds the run-to-completion stages that others wait for.
	waitedFor map[*stage]bool
	// before holds, for each stage, the stages that have finished before it
	// starts: those it waits for, and theirs.
	before map[*stage]map[*stage]bool
	// deps are the dependencies of each task of an Argo chain: the DAG,
	// not a wait, orders them (workflows_graph.go).
	deps map[*stage][]Stage
}

// analyze builds the pipeline's graph from the declared order (RunsAfter)
// and the order storage implies (a stage that writes storage comes before
// the stages that only read it). A cycle is a problem, and leaves the
// graph without an order.
func analyze(p *Pipeline) (*graph, []Problem) {
	g := &graph{stages: p.stages(), level: map[*stage]int{}, waits: map[*stage][]Stage{}, waitedFor: map[*stage]bool{}}
	for _, s := range g.stages {
		for _, u := range s.base().validAfter() {
			g.edges = append(g.edges, edge{from: u, to: s, kind: edgeAfter, wait: u.base().completes})
		}
	}
	for _, st := range p.storages() {
		g.addStorageEdges(st)
	}
	g.chain()
	for _, e := range g.edges {
		if !e.wait {
			continue
		}
		ws := g.waits[e.to.base()]
		if !containsStage(ws, e.from) {
			g.waits[e.to.base()] = append(ws, e.from)
		}
		g.waitedFor[e.from.base()] = true
	}
	if cyc := g.cycle(); cyc != nil {
		names := make([]string, len(cyc))
		for i, s := range cyc {
			names[i] = s.Name()
		}
		// The checks of each stage's waits need no order: report them too.
		return g, append([]Problem{{Construct: p.path, Type: field.ErrorTypeInvalid, Field: "RunsAfter", Value: strings.Join(names, " -> "),
			Detail: "these stages form a cycle (through RunsAfter and storage that one writes and the next reads); a pipeline's order must be acyclic"}},
			g.waitChecks(g.stages)...)
	}
	g.sort()
	g.closeBefore()
	return g, append(g.checks(p), g.chainChecks(p)...)
}

// closeBefore computes before: what a stage waits for, transitively. The
// stages are in dependency order, so each stage's upstream sets are
// complete when it is reached.
func (g *graph) closeBefore() {
	g.before = map[*stage]map[*stage]bool{}
	for _, s := range g.order {
		set := map[*stage]bool{}
		for _, u := range append(append([]Stage(nil), g.waits[s.base()]...), g.deps[s.base()]...) {
			set[u.base()] = true
			for x := range g.before[u.base()] {
				set[x] = true
			}
		}
		g.before[s.base()] = set
	}
}

// waitsFor reports whether s waits at run time for a stage that writes st.
func (g *graph) waitsFor(s Stage, st *PipelineStorage) bool {
	for _, e := range g.edges {
		if e.to == s && e.storage == st && e.wait {
			return true
		}
	}
	return false
}

// ordered reports whether a and b never run at the same time: one waits,
// directly or not, until the other has finished.
func (g *graph) ordered(a, b *stage) bool { return g.before[a][b] || g.before[b][a] }

// addStorageEdges adds an edge from every stage that writes st to every
// stage that only reads it. The reader also waits at run time for a
// writer that runs to completion, as Mount.WaitForWriters says.
func (g *graph) addStorageEdges(st *PipelineStorage) {
	var writers, readers []Stage
	for _, s := range g.stages {
		switch mountsStorage(s, st) {
		case mountWrite:
			writers = append(writers, s)
		case mountRead:
			readers = append(readers, s)
		}
	}
	for _, w := range writers {
		for _, r := range readers {
			wait := w.base().completes && waitsForWriters(r, st)
			g.edges = append(g.edges, edge{from: w, to: r, kind: edgeStorage, storage: st, wait: wait})
		}
	}
}

// waitsForWriters reports whether s, a reader of st, waits for the stages
// that write it: as its mounts of st say, else if it runs to completion.
func waitsForWriters(s Stage, st *PipelineStorage) bool {
	for _, m := range s.base().work.mounts {
		if m.Storage == st && m.WaitForWriters != nil {
			return *m.WaitForWriters
		}
	}
	return s.base().runsToCompletion
}

// mountKind is how a stage mounts a storage.
type mountKind int

const (
	mountNone mountKind = iota
	mountRead
	mountWrite
)

// mountsStorage tells how s mounts st: read-write if any of its mounts of
// st is.
func mountsStorage(s Stage, st *PipelineStorage) mountKind {
	k := mountNone
	for _, m := range s.base().work.mounts {
		if m.Storage != st {
			continue
		}
		if !m.ReadOnly {
			return mountWrite
		}
		k = mountRead
	}
	return k
}

func containsStage(list []Stage, s Stage) bool {
	for _, x := range list {
		if x == s {
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
	var stack, found []Stage
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
	sort.SliceStable(g.order, func(i, j int) bool {
		li, lj := g.level[g.order[i].base()], g.level[g.order[j].base()]
		if li != lj {
			return li < lj
		}
		return index[g.order[i]] < index[g.order[j]]
	})
}

// storageWave is the sync wave of storage: that of its first user, so that
// a claim waiting for its first consumer does not hold up an earlier wave.
func (g *graph) storageWave(st *PipelineStorage) int {
	wave := -1
	for _, s := range g.order {
		if mountsStorage(s, st) != mountNone && (wave < 0 || g.level[s.base()] < wave) {
			wave = g.level[s.base()]
		}
	}
	if wave < 0 {
		return 0
	}
	return wave
}

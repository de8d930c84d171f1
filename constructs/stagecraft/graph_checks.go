package stagecraft

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// checks returns the problems only the pipeline's graph shows: waits that
// would hold accelerators, Jobs deleted before the stages that wait for
// them have seen them, storage that more pods mount at once than its access
// modes allow, and names of gates that stages already use.
func (g *graph) checks(p *Pipeline) []Problem {
	out := g.waitChecks(g.order)
	out = append(out, g.apiServerChecks(p)...)
	out = append(out, g.accountChecks(p)...)
	for _, st := range p.storages() {
		if pr := g.storagePods(st); pr != nil {
			out = append(out, *pr)
		}
	}
	return out
}

// waitChecks returns the problems of the waits of stages: accelerators
// held while waiting, the account a wait runs as, and gate names already
// taken (a BatchStage's TTL is a problem of its own, waited for or not). They need no order of the stages.
func (g *graph) waitChecks(stages []Stage) []Problem {
	var out []Problem
	names := map[string]Stage{}
	for _, s := range g.stages {
		names[s.Name()] = s
	}
	for _, s := range stages {
		b := s.base()
		if len(g.waits[b]) == 0 {
			continue
		}
		if b.work.accelerators != nil && !b.gated {
			out = append(out, g.acceleratorWait(s))
		}
		if !b.gated && !b.work.createAccount && b.work.waitAccount == "default" {
			out = append(out, Problem{Construct: s.Path(), Type: field.ErrorTypeForbidden, Field: "ServiceAccountName", Value: "default",
				Detail: "this stage waits for upstream Jobs as the service account it runs as, which would let every pod of the namespace that runs as \"default\" read those Jobs: leave ServiceAccountName empty (stagecraft then creates an account of the stage's own), name an account of the stage's own, or remove the wait"})
		}
		for _, u := range g.waits[b] {
			if bs, ok := u.(*BatchStage); ok && bs.job.Parallelism != nil && *bs.job.Parallelism == 0 {
				out = append(out, Problem{Construct: u.Path(), Type: field.ErrorTypeForbidden, Field: "Parallelism", Value: int32(0),
					Detail: fmt.Sprintf("stage %s waits for this Job, which with Parallelism 0 runs no pod and never completes, so the wait would last WaitTimeout and fail: give it at least 1, or remove the wait", s.Path())})
			}
		}
		if other, ok := names[gateName(b)]; ok && b.gated {
			out = append(out, Problem{Construct: other.Path(), Type: field.ErrorTypeDuplicate, Field: "id", Value: other.Name(),
				Detail: fmt.Sprintf("stagecraft names the gate of stage %s (which waits for upstream Jobs) %q: choose another id for one of them", s.Path(), gateName(b))})
		}
	}
	return out
}

// acceleratorWait is the problem of a stage that would wait in an init
// container while holding accelerators. It names the wait's cause.
func (g *graph) acceleratorWait(s Stage) Problem {
	b := s.base()
	fld, cause, remove := "RunsAfter", "", "drop RunsAfter (the stage is then no longer ordered after the Job)"
	for _, e := range g.edges {
		if e.to != s || !e.wait {
			continue
		}
		cause = e.from.Name()
		if e.kind == edgeStorage {
			fld = fmt.Sprintf("Mounts[%d].WaitForWriters", mountIndex(b, e.storage))
			cause += " (which writes storage " + e.storage.name + ")"
			remove = "set WaitForWriters to false on the mount: the stage still comes after the Job in the manifests and sync waves"
		}
		break
	}
	a := b.work.accelerators
	return Problem{Construct: s.Path(), Type: field.ErrorTypeForbidden, Field: fld, Value: cause,
		Detail: fmt.Sprintf("the stage requests accelerators (%d× %s), and its pods would hold them in an init container while they wait for Job %s; only a BatchStage can wait without holding anything. Remove the wait (%s) and have the stage check for its input itself, or move the work into a BatchStage",
			a.count, a.resource, cause, remove)}
}

// mountIndex returns the index of s's first mount of st.
func mountIndex(s *stage, st *PipelineStorage) int {
	for i, m := range s.work.mounts {
		if m.Storage == st {
			return i
		}
	}
	return 0
}

// maxExactUsers bounds the stages of one storage whose concurrency
// storagePods computes exactly (2^n subsets); beyond it, every pod counts.
const maxExactUsers = 12

// storagePods returns the problem of storage that attaches to one node,
// or one pod, when more pods than that mount it at once. Stages that wait
// for one another never run at once: the count is the largest number of
// pods of stages that may run together.
func (g *graph) storagePods(st *PipelineStorage) *Problem {
	if st.shared() {
		return nil
	}
	var users []*stage
	for _, s := range g.stages {
		if mountsStorage(s, st) != mountNone {
			users = append(users, s.base())
		}
	}
	together := g.largestConcurrent(users)
	var pods int64
	var desc []string
	for _, u := range together {
		pods += u.maxPods
		d := u.path
		if u.maxPods > 1 {
			d = fmt.Sprintf("%s (%d pods)", u.path, u.maxPods)
		}
		desc = append(desc, d)
	}
	if pods <= 1 {
		return nil
	}
	return &Problem{Construct: st.path, Type: field.ErrorTypeInvalid, Field: "AccessModes", Value: st.props.AccessModes,
		Detail: fmt.Sprintf("storage is mounted by %d pods at once (%s), but %s attaches to one node (one pod for ReadWriteOncePod), so the other pods would not start; use ReadWriteMany, or ReadOnlyMany for read-only data",
			pods, strings.Join(desc, ", "), strings.Join(st.modes, ", "))}
}

// largestConcurrent returns the stages among users, in their order, whose
// pods add up to the most that may run at the same time: no two of them
// wait for each other.
func (g *graph) largestConcurrent(users []*stage) []*stage {
	if len(users) > maxExactUsers {
		return users
	}
	var best []*stage
	var bestPods int64 = -1
	for set := 0; set < 1<<len(users); set++ {
		var pick []*stage
		var pods int64
		ok := true
		for i := 0; i < len(users) && ok; i++ {
			if set&(1<<i) == 0 {
				continue
			}
			for _, q := range pick {
				ok = ok && !g.ordered(q, users[i])
			}
			pick = append(pick, users[i])
			pods += users[i].maxPods
		}
		if ok && pods > bestPods {
			best, bestPods = pick, pods
		}
	}
	return best
}

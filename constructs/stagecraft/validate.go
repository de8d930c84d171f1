package stagecraft

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// crossChecks finds the problems that span constructs: pipelines sharing a
// namespace, and storage mounted in ways its access modes do not allow.
func crossChecks(a *appState) []Problem {
	var out []Problem
	byNS := map[string]*Pipeline{}
	for _, p := range a.pipelines {
		if q, ok := byNS[p.namespace]; ok {
			out = append(out, Problem{Construct: p.path, Field: "Namespace", Value: p.namespace,
				Detail: fmt.Sprintf("pipeline %s already uses this namespace; each pipeline needs its own", q.path)})
			continue
		}
		byNS[p.namespace] = p
		out = append(out, storageUse(p)...)
		g, problems := p.analyze()
		out = append(out, problems...)
		if len(problems) == 0 {
			p.graph = g
		}
	}
	return out
}

// mounter is a stage that mounts storage.
type mounter interface {
	mounts() []Mount
	// maxPods is how many pods of the stage may run at once.
	maxPods() int64
	Path() string
}

// storageUse checks that ReadWriteOnce storage is used by one pod at most
// and that read-only storage is mounted read-only.
func storageUse(p *Pipeline) []Problem {
	var out []Problem
	users := map[*PipelineStorage][]string{}
	pods := map[*PipelineStorage]int64{}
	for _, c := range p.children {
		m, ok := c.(mounter)
		if !ok {
			continue
		}
		seen := map[*PipelineStorage]bool{}
		for _, mt := range m.mounts() {
			st := mt.Storage
			if st == nil || st.pipeline != p {
				continue
			}
			if !mt.ReadOnly && onlyMode(st, corev1.ReadOnlyMany) {
				out = append(out, Problem{Construct: m.Path(), Field: "Mounts", Value: st.name,
					Detail: "the storage's only access mode is ReadOnlyMany; mount it with ReadOnly: true"})
			}
			if seen[st] {
				continue
			}
			seen[st] = true
			n := m.maxPods()
			pods[st] += n
			desc := m.Path()
			if n > 1 {
				desc = fmt.Sprintf("%s (%d pods)", m.Path(), n)
			}
			users[st] = append(users[st], desc)
		}
	}
	for _, c := range p.children {
		st, ok := c.(*PipelineStorage)
		if !ok || pods[st] <= 1 || shared(st) {
			continue
		}
		out = append(out, Problem{Construct: st.path, Field: "AccessModes", Value: st.props.AccessModes,
			Detail: fmt.Sprintf("storage is mounted by %d pods at once (%s), but %s attaches to one node (one pod for ReadWriteOncePod), so the other pods would not start; use ReadWriteMany, or ReadOnlyMany for read-only data",
				pods[st], strings.Join(users[st], ", "), strings.Join(st.props.AccessModes, ", "))})
	}
	return out
}

func shared(st *PipelineStorage) bool {
	for _, m := range st.props.AccessModes {
		if m == string(corev1.ReadWriteMany) || m == string(corev1.ReadOnlyMany) {
			return true
		}
	}
	return false
}

func onlyMode(st *PipelineStorage, mode corev1.PersistentVolumeAccessMode) bool {
	return len(st.props.AccessModes) == 1 && st.props.AccessModes[0] == string(mode)
}

func (s *ProcessorStage) mounts() []Mount { return s.props.Mounts }
func (s *ProcessorStage) maxPods() int64 {
	_, max := s.podCounts()
	return int64(max)
}

func (s *BatchStage) mounts() []Mount { return s.props.Mounts }
func (s *BatchStage) maxPods() int64 {
	if s.props.Parallelism == nil {
		return 1
	}
	return int64(*s.props.Parallelism)
}

func (s *ScheduledStage) mounts() []Mount { return s.props.Mounts }
func (s *ScheduledStage) maxPods() int64 {
	n := int64(1)
	if s.props.Parallelism != nil {
		n = int64(*s.props.Parallelism)
	}
	if s.props.ConcurrencyPolicy == "Allow" {
		n *= 2
	}
	return n
}

package stagecraft

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	batchv1 "k8s.io/api/batch/v1"
)

// Run identity. A Job's pod template and most of its spec are immutable,
// so a changed run-to-completion stage must be a new Job: its name carries
// a digest of what defines the run. Rendering names each Job once its
// overrides have run, in dependency order, so that the digest of a
// downstream run covers the names (and so the digests) of the upstream
// runs it waits for: a change upstream runs what depends on it again.

// runIdentified is a stage whose run has an identity of its own: what,
// besides the Job spec, defines the run, and whether the Job keeps the
// stage's name.
type runIdentified interface {
	runDigestInput() (revision string, fixed bool)
}

// nameRun gives the Job of the completing stage s its name, and records it
// for the stages that wait for it.
func (r *rendering) nameRun(s Stage, job *batchv1.Job) {
	b := s.base()
	name := b.name
	if id, ok := s.(runIdentified); ok {
		revision, fixed := id.runDigestInput()
		if !fixed {
			name += "-" + runDigest(job.Spec, r.upstreamRuns(b), revision)
		}
	}
	job.Name = name
	if b.queue != "" && b.gated && len(r.g.waits[b]) > 0 {
		// The run reaches Kueue's queue when its gate creates this
		// LocalQueue, named after the run.
		job.Labels[queueLabel] = name
		if job.Annotations == nil {
			job.Annotations = map[string]string{}
		}
		job.Annotations[queueAnnotation] = b.queue
	}
	if r.runs == nil {
		r.runs = map[*stage]string{}
	}
	r.runs[b] = name
}

// runName returns the name of the Job of a completing stage, once
// rendered; the stage's name before.
func (r *rendering) runName(s Stage) string {
	if n, ok := r.runs[s.base()]; ok {
		return n
	}
	return s.Name()
}

// upstreamRuns returns the names of the Jobs s waits for, sorted.
func (r *rendering) upstreamRuns(s *stage) []string {
	var names []string
	for _, u := range r.g.waits[s] {
		names = append(names, r.runName(u))
	}
	sort.Strings(names)
	return names
}

// runDigest is the first 8 hexadecimal digits of the SHA-256 of a run's
// definition.
func runDigest(spec batchv1.JobSpec, upstream []string, revision string) string {
	b, err := json.Marshal(struct {
		Spec     batchv1.JobSpec `json:"spec"`
		Upstream []string        `json:"upstream,omitempty"`
		Revision string          `json:"revision,omitempty"`
	}{spec, upstream, revision})
	if err != nil {
		// A typed JobSpec always marshals; keep a stable name if not.
		return "00000000"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:4])
}

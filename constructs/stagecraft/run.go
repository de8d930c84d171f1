package stagecraft

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
)

// Run identity. The API server refuses to change most of a Job in place
// (ValidateJobUpdate: the pod template, completions, completionMode,
// podFailurePolicy, backoffLimitPerIndex, successPolicy, managedBy and the
// selector), and Kueue's webhook refuses to change its labels
// kueue.x-k8s.io/queue-name and kueue.x-k8s.io/priority-class while the
// Job is not suspended. A changed run-to-completion stage must then be a
// new Job: its name carries a digest of exactly these fields, and of the
// runs it waits for. What the API server updates in place (backoffLimit,
// parallelism, maxFailedIndexes, activeDeadlineSeconds,
// ttlSecondsAfterFinished, suspend, podReplacementPolicy, the Job's own
// labels and annotations) is left out: changing it updates the Job and
// does not run it again. Rendering names each Job once its overrides have
// run, in dependency order, so that the digest of a downstream run covers
// the digests of the upstream runs it waits for, fixed names included: a
// change upstream runs what depends on it again.

// runIdentified is a stage whose run has an identity of its own: what,
// besides the Job spec, defines the run, and whether the Job keeps the
// stage's name.
type runIdentified interface {
	runDigestInput() (revision string, fixed bool)
}

// kueuePrefix is the prefix of Kueue's labels and annotations. Its
// webhook holds those that choose the Workload (the queue, the priority
// class, the maximum execution time, a prebuilt Workload) immutable while
// the Job runs; all of them are part of a run's identity.
const kueuePrefix = "kueue.x-k8s.io/"

// nameRun gives the Job of the completing stage s its name, and records it
// and the run's digest for the stages that wait for it.
func (r *rendering) nameRun(s Stage, job *batchv1.Job) {
	b := s.base()
	name := b.name
	var revision string
	fixed := true
	if id, ok := s.(runIdentified); ok {
		revision, fixed = id.runDigestInput()
	}
	digest := hashOf(identityOf(job, r.upstreamDigests(b), revision))
	if !fixed {
		name += "-" + digest
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
		r.runDigests = map[*stage]string{}
	}
	r.runs[b] = name
	r.runDigests[b] = digest
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

// upstreamDigests returns "<name>@<digest>" of each run s waits for,
// sorted: an upstream Job with a fixed name changes its digest, not its
// name, when it runs anew.
func (r *rendering) upstreamDigests(s *stage) []string {
	var ids []string
	for _, u := range r.g.waits[s] {
		ids = append(ids, r.runName(u)+"@"+r.runDigests[u.base()])
	}
	sort.Strings(ids)
	return ids
}

// runIdentity is what defines a run: the fields of its Job that cannot
// change in place.
type runIdentity struct {
	Spec     batchv1.JobSpec   `json:"spec"`
	Kueue    map[string]string `json:"kueue,omitempty"`
	Upstream []string          `json:"upstream,omitempty"`
	Revision string            `json:"revision,omitempty"`
}

// identityOf returns the run identity of job: its spec without the fields
// the API server updates in place, and Kueue's labels and annotations.
func identityOf(job *batchv1.Job, upstream []string, revision string) runIdentity {
	spec := *job.Spec.DeepCopy()
	spec.BackoffLimit, spec.Parallelism, spec.MaxFailedIndexes = nil, nil, nil
	spec.ActiveDeadlineSeconds, spec.TTLSecondsAfterFinished = nil, nil
	spec.Suspend, spec.PodReplacementPolicy = nil, nil
	id := runIdentity{Spec: spec, Upstream: upstream, Revision: revision}
	for _, m := range []map[string]string{job.Labels, job.Annotations} {
		for k, v := range m {
			if strings.HasPrefix(k, kueuePrefix) {
				if id.Kueue == nil {
					id.Kueue = map[string]string{}
				}
				id.Kueue[k] = v
			}
		}
	}
	return id
}

// runDigest is the digest of a Job spec as a whole (the gate's Job, which
// is stagecraft's own, is named after it), with upstream runs and a
// revision.
func runDigest(spec batchv1.JobSpec, upstream []string, revision string) string {
	return hashOf(struct {
		Spec     batchv1.JobSpec `json:"spec"`
		Upstream []string        `json:"upstream,omitempty"`
		Revision string          `json:"revision,omitempty"`
	}{spec, upstream, revision})
}

// hashOf is the first 8 hexadecimal digits of the SHA-256 of v as JSON.
func hashOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Typed Kubernetes objects always marshal; keep a stable name if not.
		return "00000000"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:4])
}

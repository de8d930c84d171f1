package stagecraft

import (
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// JobSettings are the run-to-completion settings shared by BatchStage and
// ScheduledStage. They become the Job's spec (a ScheduledStage's
// spec.jobTemplate.spec); a duration becomes a field in whole seconds, and
// a negative duration or a fraction of a second is a problem.
type JobSettings struct {
	// BackoffLimit is the number of retries before the Job fails
	// (spec.backoffLimit), zero or more. Default: 4; none with
	// BackoffLimitPerIndex, and setting both is a problem.
	BackoffLimit *int32
	// ActiveDeadline fails the Job when it runs longer, retries included
	// (spec.activeDeadlineSeconds), a whole number of seconds. On a held
	// BatchStage (one that waits) it counts from the release: it is the
	// annotation stagecraft.dev/active-deadline-seconds, which the gate
	// turns into spec.activeDeadlineSeconds then. Default: none, the Job
	// may run for ever.
	ActiveDeadline time.Duration
	// TTLAfterFinished deletes the Job this long after it finishes
	// (spec.ttlSecondsAfterFinished), a whole number of seconds: for a
	// ScheduledStage, whose Jobs the CronJob controller creates. Default:
	// zero, the Job is kept. On a BatchStage it is a problem: its Job is in
	// the output, which every deploy tool applies again (kubectl apply,
	// Argo CD's sync and self-heal, Flux's interval, Helm's upgrade), so a
	// Job the TTL deleted would be re-created and run again; the deploy
	// tool's prune removes a run once a new one replaces it.
	TTLAfterFinished time.Duration
	// Parallelism is the number of pods running at once
	// (spec.parallelism), zero or more. Default: Kubernetes' 1.
	Parallelism *int32
	// Completions is the number of pods that must succeed
	// (spec.completions), at least 1. Default: unset, the Job succeeds when
	// one pod has (with Parallelism above 1, when one has and all have
	// ended).
	Completions *int32
	// Indexed shards the work (completionMode: Indexed): each pod gets a
	// completion index from 0 to Completions-1, in the JOB_COMPLETION_INDEX
	// environment variable (and the
	// batch.kubernetes.io/job-completion-index annotation), and the Job
	// succeeds when every index has. Requires Completions, not below
	// Parallelism. Default: false (completionMode NonIndexed).
	Indexed bool
	// BackoffLimitPerIndex retries each index this many times on its own
	// (spec.backoffLimitPerIndex), instead of BackoffLimit for the whole
	// Job. Requires Indexed. Default: none (BackoffLimit applies).
	BackoffLimitPerIndex *int32
	// MaxFailedIndexes fails the Job once more indexes than this have
	// failed (spec.maxFailedIndexes), at most Completions. Requires
	// BackoffLimitPerIndex. Default: none (all indexes run).
	MaxFailedIndexes *int32
	// FailFastExitCodes fail the Job at once, without retries, when the
	// container exits with one of these codes, 1 to 255 (a bad
	// configuration, say): a spec.podFailurePolicy rule with action
	// FailJob. Default: none.
	FailFastExitCodes []int32
	// CountDisruptions counts pods that were disrupted (preempted, evicted
	// by a node drain) against the backoff limit. Default: false, such
	// failures are retried without counting, through a spec.podFailurePolicy
	// rule with action Ignore on the DisruptionTarget condition.
	CountDisruptions bool
	// Queue submits the Job to this Kueue LocalQueue, a DNS subdomain of at
	// most 63 characters (a label value): the
	// Job (a ScheduledStage's jobTemplate) carries the
	// kueue.x-k8s.io/queue-name label, Kueue's admission webhook creates it
	// suspended, and Kueue starts it when the queue admits it. stagecraft
	// does not write spec.suspend, which Kueue owns: a deploy tool that
	// re-applied suspend: true would conflict with Kueue, or suspend a
	// running Job. A BatchStage that waits for upstream Jobs reaches its
	// queue only when they have completed: its label names a LocalQueue of
	// its own run (the Job's name), which does not exist until its gate
	// creates it, on the ClusterQueue of Queue; the stagecraft.dev/queue
	// annotation keeps Queue. Queue is part of the run's identity: a
	// changed Queue is a new run. Kueue's labels (kueue.x-k8s.io/queue-name,
	// kueue.x-k8s.io/priority-class) in a chart's, pipeline's or stage's
	// Labels are problems. Default: none (the Job starts at once).
	Queue string
}

const (
	queueLabel           = "kueue.x-k8s.io/queue-name"
	priorityClassLabel   = "kueue.x-k8s.io/priority-class"
	completionIndexEnv   = "JOB_COMPLETION_INDEX"
	completionIndexField = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
)

// resolveJob applies the defaults of the job settings.
func resolveJob(j JobSettings) JobSettings {
	r := j
	// With per-index retries Kubernetes ignores the Job-wide limit.
	if r.BackoffLimit == nil && r.BackoffLimitPerIndex == nil {
		r.BackoffLimit = ptr.To[int32](defaultBackoffLimit)
	}
	r.FailFastExitCodes = append([]int32(nil), j.FailFastExitCodes...)
	sort.Slice(r.FailFastExitCodes, func(a, b int) bool { return r.FailFastExitCodes[a] < r.FailFastExitCodes[b] })
	return r
}

// maxJobPods is how many pods of a Job run at once.
func maxJobPods(j JobSettings) int64 {
	if j.Parallelism == nil {
		return 1
	}
	return int64(*j.Parallelism)
}

// validateJob checks the job settings of a stage whose container sets env.
func validateJob(j JobSettings, env []EnvVar) field.ErrorList {
	errs := validateNonNegative(namedCount{"BackoffLimit", j.BackoffLimit}, namedCount{"Parallelism", j.Parallelism}, namedCount{"Completions", j.Completions})
	if j.Completions != nil && *j.Completions == 0 {
		errs = append(errs, invalid(field.NewPath("Completions"), int32(0), "must be at least 1 (leave it unset for a single completion)"))
	}
	errs = append(errs, validateSeconds(field.NewPath("ActiveDeadline"), j.ActiveDeadline, "must be zero (none) or a positive whole number of seconds")...)
	errs = append(errs, validateSeconds(field.NewPath("TTLAfterFinished"), j.TTLAfterFinished, "must be zero (keep the Job) or a positive whole number of seconds")...)
	if j.Indexed {
		switch {
		case j.Completions == nil:
			errs = append(errs, required(field.NewPath("Completions"), "an Indexed job needs the number of indexes (shards)"))
		case j.Parallelism != nil && *j.Parallelism > *j.Completions:
			errs = append(errs, invalid(field.NewPath("Completions"), *j.Completions, fmt.Sprintf("must not be below Parallelism (%d) in an Indexed job: each pod runs one index, so the extra pods would have nothing to do", *j.Parallelism)))
		}
	}
	errs = append(errs, validatePerIndex(j)...)
	errs = append(errs, validateIndexedLimits(j)...)
	errs = append(errs, validateIndexEnv(j, env)...)
	seen := map[int32]bool{}
	for i, c := range j.FailFastExitCodes {
		fld := field.NewPath("FailFastExitCodes").Index(i)
		switch {
		case c <= 0 || c > 255:
			errs = append(errs, invalid(fld, c, "must be an exit status from 1 to 255 (0 is success)"))
		case seen[c]:
			errs = append(errs, duplicate(fld, c, "listed twice"))
		}
		seen[c] = true
	}
	return append(errs, validateQueue(j.Queue)...)
}

// validateQueue checks the name of a Kueue LocalQueue, which Kueue wants
// a DNS subdomain and which becomes the value of the Job's queue label (at
// most 63 characters).
func validateQueue(q string) field.ErrorList {
	if q == "" {
		return nil
	}
	fld := field.NewPath("Queue")
	if msgs := validation.IsDNS1123Subdomain(q); len(msgs) > 0 {
		return each(fld, q, msgs)
	}
	var errs field.ErrorList
	for _, m := range validation.IsValidLabelValue(q) {
		errs = append(errs, invalid(fld, q, m+": the Job's "+queueLabel+" label holds the queue's name"))
	}
	return errs
}

// kueueLabels are the labels by which Kueue queues a Job and weighs its
// Workload.
var kueueLabels = []string{queueLabel, priorityClassLabel}

// validateKueueLabels rejects Kueue's queue and priority labels among
// labels that stagecraft puts on many objects (a chart's, a pipeline's, a
// stage's or a storage's labels, fld).
func validateKueueLabels(fld *field.Path, labels map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range kueueLabels {
		if v, ok := labels[k]; ok {
			detail := "Kueue's label would reach every Job of its scope, a held Job (which Kueue would admit and let hold its quota while it waits) and the gates included (which could queue behind the Job they release); queue a stage's Job with JobSettings.Queue"
			if k == priorityClassLabel {
				detail += ", and give that Job its priority class with an Override of its labels"
			}
			errs = append(errs, forbidden(fld.Key(k), v, detail))
		}
	}
	return errs
}

// validatePerIndex checks the per-index retries of an Indexed job.
func validatePerIndex(j JobSettings) field.ErrorList {
	var errs field.ErrorList
	if b := j.BackoffLimitPerIndex; b != nil {
		if !j.Indexed {
			errs = append(errs, forbidden(field.NewPath("BackoffLimitPerIndex"), *b, "needs Indexed: true"))
		}
		if *b < 0 {
			errs = append(errs, invalid(field.NewPath("BackoffLimitPerIndex"), *b, "must be zero or more"))
		}
		if j.BackoffLimit != nil {
			errs = append(errs, forbidden(field.NewPath("BackoffLimit"), *j.BackoffLimit, "set BackoffLimit or BackoffLimitPerIndex, not both"))
		}
	}
	if m := j.MaxFailedIndexes; m != nil {
		switch {
		case j.BackoffLimitPerIndex == nil:
			errs = append(errs, forbidden(field.NewPath("MaxFailedIndexes"), *m, "needs BackoffLimitPerIndex"))
		case *m < 0:
			errs = append(errs, invalid(field.NewPath("MaxFailedIndexes"), *m, "must be zero or more"))
		case j.Completions != nil && *m > *j.Completions:
			errs = append(errs, invalid(field.NewPath("MaxFailedIndexes"), *m, fmt.Sprintf("must not be above Completions (%d)", *j.Completions)))
		}
	}
	return errs
}

// The API server's limits on Indexed Jobs (pkg/apis/batch/validation):
// parallelism and failed indexes at most 100,000; above 100,000
// completions with per-index retries, MaxFailedIndexes is required and it
// and parallelism are at most 10,000.
const (
	indexedMaxParallelism       = 100_000
	indexedMaxFailedIndexes     = 100_000
	indexedCompletionsSoftLimit = 100_000
	indexedHighCompletionsLimit = 10_000
)

// validateIndexedLimits checks an Indexed job against the API server's
// limits.
func validateIndexedLimits(j JobSettings) field.ErrorList {
	if !j.Indexed {
		return nil
	}
	var errs field.ErrorList
	limit := func(name string, v *int32, max int32, why string) {
		if v != nil && *v > max {
			errs = append(errs, invalid(field.NewPath(name), *v, fmt.Sprintf("must be at most %d%s: the API server refuses more", max, why)))
		}
	}
	high := j.Completions != nil && *j.Completions > indexedCompletionsSoftLimit && j.BackoffLimitPerIndex != nil
	if high {
		why := fmt.Sprintf(" in an Indexed job of more than %d completions with BackoffLimitPerIndex", indexedCompletionsSoftLimit)
		limit("Parallelism", j.Parallelism, indexedHighCompletionsLimit, why)
		limit("MaxFailedIndexes", j.MaxFailedIndexes, indexedHighCompletionsLimit, why)
		if j.MaxFailedIndexes == nil {
			errs = append(errs, required(field.NewPath("MaxFailedIndexes"), fmt.Sprintf("an Indexed job of more than %d completions with BackoffLimitPerIndex needs MaxFailedIndexes (at most %d)", indexedCompletionsSoftLimit, indexedHighCompletionsLimit)))
		}
		return errs
	}
	limit("Parallelism", j.Parallelism, indexedMaxParallelism, " in an Indexed job")
	limit("MaxFailedIndexes", j.MaxFailedIndexes, indexedMaxFailedIndexes, " in an Indexed job")
	return errs
}

// validateIndexEnv rejects a variable of the container that stagecraft sets
// in an Indexed job: a second entry of one name is refused by server-side
// apply.
func validateIndexEnv(j JobSettings, env []EnvVar) field.ErrorList {
	if !j.Indexed {
		return nil
	}
	for i, e := range env {
		if e.Name == completionIndexEnv {
			return field.ErrorList{duplicate(field.NewPath("Env").Index(i).Child("Name"), e.Name,
				"an Indexed job's container already has "+completionIndexEnv+" (set by stagecraft and the Job controller); read it, do not set it")}
		}
	}
	return nil
}

// jobSpec builds the Job spec of stage s with its resolved settings j.
func jobSpec(r *rendering, s *stage, j JobSettings) batchv1.JobSpec {
	spec := batchv1.JobSpec{
		BackoffLimit:         j.BackoffLimit,
		BackoffLimitPerIndex: j.BackoffLimitPerIndex,
		MaxFailedIndexes:     j.MaxFailedIndexes,
		Parallelism:          j.Parallelism,
		Completions:          j.Completions,
		Template:             podTemplate(r, s, podOptions{restart: corev1.RestartPolicyNever}),
		PodFailurePolicy:     podFailurePolicy(s.name, j, r.waitsInInit(s)),
	}
	if j.Indexed {
		spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		// The Job controller injects the same variable; declaring it makes
		// the contract visible in the manifest.
		c := &spec.Template.Spec.Containers[0]
		c.Env = append(c.Env, corev1.EnvVar{Name: completionIndexEnv, ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: completionIndexField},
		}})
	}
	if j.ActiveDeadline > 0 {
		spec.ActiveDeadlineSeconds = ptr.To(int64(j.ActiveDeadline / time.Second))
	}
	if j.TTLAfterFinished > 0 {
		spec.TTLSecondsAfterFinished = ptr.To(int32(j.TTLAfterFinished / time.Second))
	}
	return spec
}

// podFailurePolicy retries disrupted pods without counting them, and fails
// the Job at once on the fail-fast exit codes, and when the init container
// of a Job that waits (waits) ends its wait for good.
func podFailurePolicy(container string, j JobSettings, waits bool) *batchv1.PodFailurePolicy {
	var rules []batchv1.PodFailurePolicyRule
	if waits {
		rules = append(rules, podFailurePolicyForWait())
	}
	if len(j.FailFastExitCodes) > 0 {
		rules = append(rules, batchv1.PodFailurePolicyRule{
			Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr.To(container),
				Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
				Values:        j.FailFastExitCodes,
			},
		})
	}
	if !j.CountDisruptions {
		rules = append(rules, batchv1.PodFailurePolicyRule{
			Action:          batchv1.PodFailurePolicyActionIgnore,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
		})
	}
	if len(rules) == 0 {
		return nil
	}
	return &batchv1.PodFailurePolicy{Rules: rules}
}

// jobLabels returns the labels of a Job (or a CronJob's job template):
// the stage's, and Kueue's queue label.
func jobLabels(s *stage, j JobSettings) map[string]string {
	l := s.labels()
	if j.Queue != "" {
		l[queueLabel] = j.Queue
	}
	return l
}

// jobLabel describes the job settings in the diagram.
func jobLabel(j JobSettings) string {
	var parts []string
	if j.Indexed && j.Completions != nil {
		parts = append(parts, fmt.Sprintf("%d shards", *j.Completions))
	} else if j.Parallelism != nil && *j.Parallelism > 1 {
		parts = append(parts, fmt.Sprintf("%d in parallel", *j.Parallelism))
	}
	if j.Queue != "" {
		parts = append(parts, "queue "+j.Queue)
	}
	if len(parts) == 0 {
		return ""
	}
	return " · " + strings.Join(parts, " · ")
}

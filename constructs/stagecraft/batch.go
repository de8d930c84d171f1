package stagecraft

import (
	"strconv"

	"github.com/aws/constructs-go/constructs/v10"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// BatchStageProps configures a BatchStage.
type BatchStageProps struct {
	Workload
	JobSettings

	// Revision is part of what defines the stage's run: change it (a date,
	// a ticket, a counter) to run the stage again without any other change.
	// Default: none.
	Revision string
	// FixedJobName names the Job after the stage alone, without the digest
	// of its run. The API server refuses any later change to a Job's pod
	// template (spec.template is immutable) and to most of its spec, so with
	// a fixed name every change to the stage must be applied by deleting the
	// Job first (kubectl delete job <name>, or a Replace sync option), which
	// also forgets that it ran. Default: false, the Job is named
	// "<stage>-<digest>" and a changed stage is a new Job.
	FixedJobName bool
}

// batchTTLDetail says why a BatchStage's Job may not have a TTL.
const batchTTLDetail = "the Job is in the output, and every deploy tool applies the whole output again (kubectl apply on the next change, Argo CD on a sync or self-heal, Flux every interval, Helm on upgrade): once the TTL deleted the Job, the tool re-creates it and it runs again; leave it zero: a finished run stays as a record, and the deploy tool's prune deletes it once a new run replaces it (a ScheduledStage's Jobs, which the CronJob creates, may have a TTL)"

// BatchStage is a run-to-completion step: a Job whose pods restart never
// and are retried up to BackoffLimit times. Stages that run after it (by
// RunsAfter, or by reading storage it writes) wait for its Job to
// complete.
//
// The Job's name is "<stage>-<digest>": the digest (8 characters) is taken
// over what defines the run (the fields of the Job that the API server or
// Kueue refuses to change in place: the pod template, completions,
// completionMode, podFailurePolicy, backoffLimitPerIndex, successPolicy,
// managedBy, Kueue's labels and annotations; Revision; and the digests of
// the upstream runs it waits for), so an unchanged stage keeps its Job and
// a changed stage, or one whose upstream run changed, is a new Job that
// runs again; the deploy tool prunes the old one. A change to a field the
// Job updates in place (BackoffLimit, Parallelism, MaxFailedIndexes,
// ActiveDeadline, its own labels and annotations) keeps
// the Job and its run. FixedJobName keeps the stage's name instead; the
// runs after it still run again when it changes.
type BatchStage struct {
	constructs.Construct
	stage
	props     BatchStageProps // as given, for validation
	job       JobSettings     // resolved
	revision  string
	fixedName bool
}

// runDigestLen is the length of the digest in a Job's name, with its dash.
const runDigestLen = 1 + 8

// batchNameMax is the longest stage id whose Job name (with the run's
// digest) and, for an Indexed job, whose pods' host names ("<job>-<index>")
// fit in a 63-character DNS label.
func batchNameMax(p BatchStageProps) int {
	max := validation.DNS1123LabelMaxLength
	if !p.FixedJobName {
		max -= runDigestLen
	}
	if p.Indexed && p.Completions != nil && *p.Completions > 0 {
		max -= 1 + len(strconv.Itoa(int(*p.Completions-1)))
	}
	return max
}

// NewBatchStage creates a batch stage in a pipeline. Its id names its Job
// (with the run's digest) and its other objects: at most 54 characters, and
// fewer for an Indexed job, whose pods are named after the Job and their
// completion index.
func NewBatchStage(scope constructs.Construct, id string, props BatchStageProps) *BatchStage {
	defer lockConstructs()()
	s := &BatchStage{}
	cid := s.join(s, scope, id, componentBatch, batchNameMax(props), props.Labels)
	s.resolve(props)
	s.create(s, scope, cid)
	return s
}

func (s *BatchStage) resolve(p BatchStageProps) {
	s.work = resolveWorkload(s.name, p.Workload, s.defaults())
	s.job = resolveJob(p.JobSettings)
	s.props = p
	s.props.Workload = s.work.given
	s.revision, s.fixedName = p.Revision, p.FixedJobName
	s.ports = metricsPorts(s.work.metrics)
	s.completes, s.runsToCompletion, s.gated = true, true, true
	s.ttl, s.queue = s.job.TTLAfterFinished, s.job.Queue
	s.maxPods = maxJobPods(s.job)
}

func (s *BatchStage) validate() field.ErrorList {
	errs := validateWorkload(s.pipeline, s.work)
	errs = append(errs, validateJob(s.props.JobSettings, s.work.given.Env)...)
	if ttl := s.props.TTLAfterFinished; ttl > 0 && s.pipeline != nil && !inChain(&s.stage) {
		errs = append(errs, forbidden(field.NewPath("TTLAfterFinished"), ttl.String(), batchTTLDetail))
	}
	errs = append(errs, validateMetrics(s.work, nil, false)...)
	return append(errs, validateText(s.props)...)
}

// objects returns the stage's Job.
func (s *BatchStage) objects(r *rendering) []runtime.Object {
	meta := s.meta()
	meta.Labels = jobLabels(&s.stage, s.job)
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec:       jobSpec(r, &s.stage, s.job),
	}
	r.holdDeadline(&s.stage, job)
	return []runtime.Object{job}
}

// shape draws a batch stage as a parallelogram.
func (s *BatchStage) shape(r *rendering) (open, close, text string) {
	return "[/", "/]", "Job " + r.runName(s) + jobLabel(s.job) + accelLabel(s.work.accelerators)
}

// runDigestInput is what defines a batch stage's run beyond its Job spec.
func (s *BatchStage) runDigestInput() (revision string, fixed bool) { return s.revision, s.fixedName }

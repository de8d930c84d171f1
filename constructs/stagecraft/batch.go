package stagecraft

import (
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// JobSettings are the run-to-completion settings shared by BatchStage and
// ScheduledStage.
type JobSettings struct {
	// BackoffLimit is the number of retries before the Job fails.
	// Default: 4.
	BackoffLimit *int32
	// ActiveDeadline fails the Job when it runs longer, retries included.
	// Default: none.
	ActiveDeadline time.Duration
	// TTLAfterFinished deletes the Job this long after it finishes. Default:
	// zero, the Job is kept: GitOps tools such as Argo CD and Flux would
	// re-create (and so re-run) a Job that the cluster deleted.
	TTLAfterFinished time.Duration
	// Parallelism is the number of pods running at once. Default: 1.
	Parallelism *int32
	// Completions is the number of pods that must succeed. Default: 1.
	Completions *int32
}

const defaultBackoffLimit = 4

func resolveJob(j JobSettings) JobSettings {
	r := j
	if r.BackoffLimit == nil {
		r.BackoffLimit = ptr.To[int32](defaultBackoffLimit)
	}
	return r
}

func validateJob(ps *problems, j JobSettings) {
	for _, v := range []struct {
		name string
		p    *int32
	}{{"BackoffLimit", j.BackoffLimit}, {"Parallelism", j.Parallelism}, {"Completions", j.Completions}} {
		if v.p != nil && *v.p < 0 {
			ps.add(field.NewPath(v.name), *v.p, "must be zero or more")
		}
	}
	if j.Completions != nil && *j.Completions == 0 {
		ps.add(field.NewPath("Completions"), 0, "must be at least 1 (leave it unset for a single completion)")
	}
	if j.ActiveDeadline < 0 || j.ActiveDeadline%time.Second != 0 {
		ps.add(field.NewPath("ActiveDeadline"), j.ActiveDeadline.String(), "must be zero (none) or a positive whole number of seconds")
	}
	if j.TTLAfterFinished < 0 || j.TTLAfterFinished%time.Second != 0 {
		ps.add(field.NewPath("TTLAfterFinished"), j.TTLAfterFinished.String(), "must be zero (keep the Job) or a positive whole number of seconds")
	}
}

func jobSpec(s *stage, w Workload, j JobSettings) batchv1.JobSpec {
	spec := batchv1.JobSpec{
		BackoffLimit: j.BackoffLimit,
		Parallelism:  j.Parallelism,
		Completions:  j.Completions,
		Template:     podTemplate(s, w, nil, [3]*Probe{}, corev1.RestartPolicyNever, nil),
	}
	if j.ActiveDeadline > 0 {
		spec.ActiveDeadlineSeconds = ptr.To(int64(j.ActiveDeadline / time.Second))
	}
	if j.TTLAfterFinished > 0 {
		spec.TTLSecondsAfterFinished = ptr.To(int32(j.TTLAfterFinished / time.Second))
	}
	return spec
}

// BatchStageProps configures a BatchStage.
type BatchStageProps struct {
	Workload
	JobSettings
}

// BatchStage is a run-to-completion step: a Job whose pods restart never
// and are retried up to BackoffLimit times.
type BatchStage struct {
	constructs.Construct
	stage
	props BatchStageProps // resolved
}

// NewBatchStage creates a batch stage in a pipeline. Its id is the Job's
// name.
func NewBatchStage(scope constructs.Construct, id string, props BatchStageProps) *BatchStage {
	s := &BatchStage{}
	cid := s.init(s, scope, id, componentBatch, validation.DNS1123LabelMaxLength, props.Labels)
	if s.pipeline != nil {
		s.props = BatchStageProps{
			Workload:    resolveWorkload(props.Workload, s.pipeline.defaults),
			JobSettings: resolveJob(props.JobSettings),
		}
		validateWorkload(&s.problems, s.pipeline, props.Workload, s.props.Workload)
		validateJob(&s.problems, props.JobSettings)
	}
	constructs.NewConstruct_Override(s, scope, &cid)
	return s
}

func (s *BatchStage) objects() []object {
	return []object{{scope: s, id: "Job", obj: &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: s.meta(),
		Spec:       jobSpec(&s.stage, s.props.Workload, s.props.JobSettings),
	}}}
}

package stagecraft

import (
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
}

// BatchStage is a run-to-completion step: a Job whose pods restart never
// and are retried up to BackoffLimit times. Stages that run after it (by
// RunsAfter, or by reading storage it writes) wait for its Job to
// complete.
type BatchStage struct {
	constructs.Construct
	stage
	props BatchStageProps // as given, for validation
	job   JobSettings     // resolved
}

// NewBatchStage creates a batch stage in a pipeline. Its id is the Job's
// name, at most 63 characters.
func NewBatchStage(scope constructs.Construct, id string, props BatchStageProps) *BatchStage {
	s := &BatchStage{}
	cid := s.join(s, scope, id, componentBatch, validation.DNS1123LabelMaxLength, props.Labels)
	s.resolve(props)
	constructs.NewConstruct_Override(s, scope, &cid)
	return s
}

func (s *BatchStage) resolve(p BatchStageProps) {
	s.work = resolveWorkload(s.name, p.Workload, s.defaults())
	s.job = resolveJob(p.JobSettings)
	s.props = BatchStageProps{Workload: s.work.given, JobSettings: p.JobSettings}
	s.ports = metricsPorts(s.work.metrics)
	s.completes = true
	s.maxPods = maxJobPods(s.job)
}

func (s *BatchStage) validate() field.ErrorList {
	errs := validateWorkload(s.pipeline, s.work)
	errs = append(errs, validateJob(s.props.JobSettings)...)
	errs = append(errs, validateMetrics(s.work, nil, false)...)
	return append(errs, validateText(s.props)...)
}

// objects returns the stage's Job.
func (s *BatchStage) objects(r *rendering) []runtime.Object {
	meta := s.meta()
	meta.Labels = jobLabels(&s.stage, s.job)
	return []runtime.Object{&batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec:       jobSpec(r, &s.stage, s.job),
	}}
}

// shape draws a batch stage as a parallelogram.
func (s *BatchStage) shape() (open, close, text string) {
	return "[/", "/]", "Job" + jobLabel(s.job) + accelLabel(s.work.accelerators)
}

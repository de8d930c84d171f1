package stagecraft

import (
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked the same way on every machine

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// ScheduledStageProps configures a ScheduledStage.
type ScheduledStageProps struct {
	Workload
	JobSettings

	// Schedule in cron format ("0 2 * * *", "@daily"). Required.
	Schedule string
	// TimeZone of the schedule, an IANA name such as "Europe/Berlin".
	// Default: "Etc/UTC", so the schedule does not depend on the zone of
	// the cluster's controller manager.
	TimeZone string
	// ConcurrencyPolicy is Forbid, Allow or Replace. Default: Forbid, a
	// pipeline step must not overlap itself.
	ConcurrencyPolicy string
	// StartingDeadline is how late a missed run may still start; a run
	// missed by more is skipped rather than started at an arbitrary time
	// (after an outage of the controller, or behind a run that Forbid held
	// back). Default: 1h.
	StartingDeadline time.Duration
	// SuccessfulJobsHistoryLimit is the number of finished Jobs kept.
	// Default: 3.
	SuccessfulJobsHistoryLimit *int32
	// FailedJobsHistoryLimit is the number of failed Jobs kept. Default: 3,
	// enough to debug a failure that repeats.
	FailedJobsHistoryLimit *int32
	// Suspend stops new runs. Default: false.
	Suspend bool
}

// ScheduledStage is a step that runs on a schedule: a CronJob.
type ScheduledStage struct {
	constructs.Construct
	stage
	props ScheduledStageProps // resolved
}

// cronJobNameMax leaves room for the suffix the CronJob controller adds to
// the names of the Jobs it creates.
const cronJobNameMax = 52

// NewScheduledStage creates a scheduled stage in a pipeline. Its id is the
// CronJob's name.
func NewScheduledStage(scope constructs.Construct, id string, props ScheduledStageProps) *ScheduledStage {
	s := &ScheduledStage{}
	cid := s.init(s, scope, id, componentScheduled, cronJobNameMax, props.Labels)
	if s.pipeline != nil {
		s.props = resolveScheduled(props, s.pipeline.defaults)
		validateWorkload(&s.problems, s.pipeline, props.Workload, s.props.Workload)
		validateJob(&s.problems, props.JobSettings)
		validateSchedule(&s.problems, props)
		validateMetrics(&s.problems, props.Metrics, nil, false)
		validateText(&s.problems, props)
	}
	constructs.NewConstruct_Override(s, scope, &cid)
	return s
}

func resolveScheduled(p ScheduledStageProps, d Defaults) ScheduledStageProps {
	r := p
	r.Workload = resolveWorkload(p.Workload, d)
	r.JobSettings = resolveJob(p.JobSettings)
	if r.TimeZone == "" {
		r.TimeZone = "Etc/UTC"
	}
	if r.StartingDeadline == 0 {
		r.StartingDeadline = time.Hour
	}
	if r.ConcurrencyPolicy == "" {
		r.ConcurrencyPolicy = string(batchv1.ForbidConcurrent)
	}
	if r.SuccessfulJobsHistoryLimit == nil {
		r.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
	}
	if r.FailedJobsHistoryLimit == nil {
		r.FailedJobsHistoryLimit = ptr.To[int32](3)
	}
	return r
}

// cronParser accepts what the CronJob controller accepts: five fields and
// descriptors such as "@daily".
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func validateSchedule(ps *problems, p ScheduledStageProps) {
	fld := field.NewPath("Schedule")
	switch {
	case p.Schedule == "":
		ps.required(fld, "a cron schedule such as \"0 2 * * *\" or \"@daily\"")
	case strings.Contains(p.Schedule, "TZ="):
		ps.add(fld, p.Schedule, "TZ= and CRON_TZ= are not allowed in the schedule; set TimeZone")
	default:
		if _, err := cronParser.Parse(p.Schedule); err != nil {
			ps.add(fld, p.Schedule, "not a valid cron schedule ("+err.Error()+"); use five fields \"minute hour day-of-month month day-of-week\" or a descriptor such as \"@hourly\"")
		}
	}
	if p.TimeZone != "" {
		if p.TimeZone == "Local" {
			ps.add(field.NewPath("TimeZone"), p.TimeZone, "must be an IANA time zone name such as \"Etc/UTC\" or \"Europe/Berlin\"")
		} else if _, err := time.LoadLocation(p.TimeZone); err != nil {
			ps.add(field.NewPath("TimeZone"), p.TimeZone, "unknown time zone; use an IANA name such as \"Etc/UTC\" or \"Europe/Berlin\"")
		}
	}
	switch batchv1.ConcurrencyPolicy(p.ConcurrencyPolicy) {
	case "", batchv1.ForbidConcurrent, batchv1.AllowConcurrent, batchv1.ReplaceConcurrent:
	default:
		ps.add(field.NewPath("ConcurrencyPolicy"), p.ConcurrencyPolicy, "must be \"Forbid\", \"Allow\" or \"Replace\"")
	}
	validateSeconds(ps, field.NewPath("StartingDeadline"), p.StartingDeadline, "must be zero (the default, 1h) or a positive whole number of seconds")
	for _, v := range []struct {
		name string
		p    *int32
	}{{"SuccessfulJobsHistoryLimit", p.SuccessfulJobsHistoryLimit}, {"FailedJobsHistoryLimit", p.FailedJobsHistoryLimit}} {
		if v.p != nil && *v.p < 0 {
			ps.add(field.NewPath(v.name), *v.p, "must be zero or more")
		}
	}
}

func (s *ScheduledStage) objects() []object {
	out := append(s.waitObjects(s, s.props.Workload), s.workloadObjects()...)
	return append(out, s.monitor(s, s.props.Metrics, "PodMonitor")...)
}

func (s *ScheduledStage) workloadObjects() []object {
	p := s.props
	spec := batchv1.CronJobSpec{
		Schedule:                   p.Schedule,
		TimeZone:                   ptr.To(p.TimeZone),
		ConcurrencyPolicy:          batchv1.ConcurrencyPolicy(p.ConcurrencyPolicy),
		SuccessfulJobsHistoryLimit: p.SuccessfulJobsHistoryLimit,
		FailedJobsHistoryLimit:     p.FailedJobsHistoryLimit,
		JobTemplate: batchv1.JobTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: jobLabels(&s.stage, p.JobSettings)},
			Spec:       jobSpec(&s.stage, p.Workload, p.JobSettings),
		},
	}
	if p.Suspend {
		spec.Suspend = ptr.To(true)
	}
	if p.StartingDeadline > 0 {
		spec.StartingDeadlineSeconds = ptr.To(int64(p.StartingDeadline / time.Second))
	}
	return []object{{scope: s, id: "CronJob", obj: &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: s.meta(),
		Spec:       spec,
	}}}
}
